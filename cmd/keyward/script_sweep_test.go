package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/patterns/patternstest"
)

// sweepScriptCmds are the script commands of the sweep's end-to-end tests:
// they build many small bare repositories quickly (one git fast-import
// each) and compare reports.
func sweepScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"fleetrepos":   cmdFleetRepos,
		"fleetpush":    cmdFleetPush,
		"jsonsum":      cmdJSONSum,
		"samefindings": cmdSameFindings,
		"sweepexit":    cmdSweepExit,
	}
}

// Which of the repositories fleetrepos builds are special. The leaks are
// in history only: added by the first commit, removed by the second.
var (
	fleetLeaky   = map[int]string{5: "config/prod.env", 20: "settings/aws.ini", 35: "docker/.env"}
	fleetDup     = map[int]string{10: "deploy/creds.env", 40: "ci/aws.txt"}
	fleetEmpty   = 7
	fleetCorrupt = 13
)

// cmdFleetRepos builds N bare repositories DIR/r00.git ... and writes
// their paths to DIR/repos.txt. Each has two commits on main, except
// r07 (empty: no commits) and r13 (its objects overwritten with garbage, so
// it cannot be cloned). r05, r20 and r35 leaked a fresh key pair each
// (exported as LEAKKEY5, ...); r10 and r40 leaked the same pair, exported
// as DUPKEY, at different paths.
//
//	fleetrepos DIR N
func cmdFleetRepos(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: fleetrepos DIR N")
	}
	dir := ts.MkAbs(args[0])
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	g := patternstest.New(4242)
	pair := func() (string, string) {
		return g.KeyID("AKIA", patternstest.DefaultAccount), g.Secret()
	}
	dupKey, dupSecret := pair()
	ts.Setenv("DUPKEY", dupKey)
	var list strings.Builder
	for i := 0; i < n; i++ {
		repo := filepath.Join(dir, fmt.Sprintf("r%02d.git", i))
		fmt.Fprintln(&list, repo)
		gitRun(ts, "", "init", "--quiet", "--bare", "--initial-branch=main", repo)
		if i == fleetEmpty {
			continue
		}
		leakPath, leakBody := "", ""
		if p, ok := fleetLeaky[i]; ok {
			k, s := pair()
			ts.Setenv(fmt.Sprintf("LEAKKEY%d", i), k)
			leakPath, leakBody = p, "AWS_ACCESS_KEY_ID="+k+"\nAWS_SECRET_ACCESS_KEY="+s+"\n"
		}
		if p, ok := fleetDup[i]; ok {
			leakPath, leakBody = p, "aws_access_key_id = "+dupKey+"\naws_secret_access_key = "+dupSecret+"\n"
		}
		var st bytes.Buffer
		files := map[string]string{
			"README.md":   fmt.Sprintf("# repository %d\n", i),
			"src/main.go": fmt.Sprintf("package main\n\nfunc main() { println(%d) }\n", i),
		}
		if leakPath != "" {
			files[leakPath] = leakBody
		}
		fastCommit(&st, 1, "first", "", files, nil)
		var del []string
		if leakPath != "" {
			del = []string{leakPath}
		}
		fastCommit(&st, 2, "second", ":1", map[string]string{"README.md": fmt.Sprintf("# repository %d, edited\n", i)}, del)
		gitInput(ts, repo, &st, "fast-import", "--quiet")
		if i == fleetCorrupt {
			corruptObjects(ts, repo)
		}
	}
	ts.Check(os.WriteFile(filepath.Join(dir, "repos.txt"), []byte(list.String()), 0o644))
}

// corruptObjects overwrites every loose object of a repository with
// garbage, so that git can read none of them.
func corruptObjects(ts *testscript.TestScript, repo string) {
	objs, err := filepath.Glob(filepath.Join(repo, "objects", "??", "*"))
	ts.Check(err)
	if len(objs) == 0 {
		ts.Fatalf("%s: no loose objects to corrupt", repo)
	}
	for _, o := range objs {
		ts.Check(os.Chmod(o, 0o644))
		ts.Check(os.WriteFile(o, []byte("not a zlib stream"), 0o644))
	}
}

// cmdFleetPush adds a commit to main in each of DIR/rI.git. With -leak,
// the commit adds a fresh key pair, exported as PUSHKEY.
//
//	fleetpush [-leak] DIR I...
func cmdFleetPush(ts *testscript.TestScript, neg bool, args []string) {
	leak := len(args) > 0 && args[0] == "-leak"
	if leak {
		args = args[1:]
	}
	if neg || len(args) < 2 {
		ts.Fatalf("usage: fleetpush [-leak] DIR I...")
	}
	dir := ts.MkAbs(args[0])
	g := patternstest.New(777)
	for _, a := range args[1:] {
		i, err := strconv.Atoi(a)
		ts.Check(err)
		body := "pushed later\n"
		if leak {
			k := g.KeyID("AKIA", patternstest.DefaultAccount)
			ts.Setenv("PUSHKEY", k)
			body = "key = " + k + "\nsecret = " + g.Secret() + "\n"
		}
		var st bytes.Buffer
		fastCommit(&st, 1, "pushed", "refs/heads/main^0", map[string]string{"pushed.txt": body}, nil)
		gitInput(ts, filepath.Join(dir, fmt.Sprintf("r%02d.git", i)), &st, "fast-import", "--quiet")
	}
}

// fastCommit writes one commit on main to a fast-import stream.
func fastCommit(w *bytes.Buffer, mark int, msg, from string, files map[string]string, del []string) {
	fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\n", mark)
	fmt.Fprintf(w, "author Test Author <author@example.com> %d +0000\n", 1700000000+mark)
	fmt.Fprintf(w, "committer Test Committer <committer@example.com> %d +0000\n", 1700000000+mark)
	fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
	if from != "" {
		fmt.Fprintf(w, "from %s\n", from)
	}
	for _, p := range del {
		fmt.Fprintf(w, "D %s\n", p)
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", p, len(files[p]), files[p])
	}
	w.WriteString("\n")
}

func gitRun(ts *testscript.TestScript, gitDir string, args ...string) {
	gitInput(ts, gitDir, nil, args...)
}

// gitInput runs git with the script's environment (no user or system
// config) and stdin.
func gitInput(ts *testscript.TestScript, gitDir string, stdin *bytes.Buffer, args ...string) {
	if gitDir != "" {
		args = append([]string{"--git-dir", gitDir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "HOME="+ts.Getenv("HOME"), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cmdJSONSum checks that the numbers at PATH in the JSON FILEs add up to
// WANT.
//
//	jsonsum PATH WANT FILE...
func cmdJSONSum(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: jsonsum PATH WANT FILE...")
	}
	want, err := strconv.ParseFloat(args[1], 64)
	ts.Check(err)
	var sum float64
	for _, f := range args[2:] {
		var v any
		data, err := os.ReadFile(ts.MkAbs(f))
		ts.Check(err)
		ts.Check(json.Unmarshal(data, &v))
		got, ok := lookupJSON(v, args[0])
		n, isNum := got.(float64)
		if !ok || !isNum {
			ts.Fatalf("%s: %s is not a number", f, args[0])
		}
		sum += n
	}
	if sum != want {
		ts.Fatalf("%s adds up to %v, want %v", args[0], sum, want)
	}
}

// cmdSameFindings checks that two sweep reports hold the same findings,
// credentials and repositories (by URL and whether each was swept in
// full), ignoring timings and whether a repository was swept this run or
// found unchanged.
//
//	samefindings A.json B.json
func cmdSameFindings(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: samefindings A.json B.json")
	}
	load := func(p string) (any, any, map[string]bool) {
		data, err := os.ReadFile(ts.MkAbs(p))
		ts.Check(err)
		var rep struct {
			Findings     any `json:"findings"`
			Credentials  any `json:"credentials"`
			Repositories []struct {
				URL    string `json:"url"`
				Status string `json:"status"`
			} `json:"repositories"`
		}
		ts.Check(json.Unmarshal(data, &rep))
		repos := map[string]bool{}
		for _, r := range rep.Repositories {
			repos[r.URL] = r.Status == "swept" || r.Status == "unchanged"
		}
		return rep.Findings, rep.Credentials, repos
	}
	fa, ca, ra := load(args[0])
	fb, cb, rb := load(args[1])
	same := reflect.DeepEqual(fa, fb) && reflect.DeepEqual(ca, cb) && reflect.DeepEqual(ra, rb)
	if same == neg {
		ts.Fatalf("%s and %s: same findings is %v", args[0], args[1], same)
	}
	if n, ok := fa.([]any); !ok || len(n) == 0 {
		if !neg {
			ts.Fatalf("%s has no findings to compare", args[0])
		}
	}
}

// cmdSweepExit checks that the exit status written to CODEFILE (by a
// background "sh -c 'keyward sweep ...; echo $? > CODEFILE'") is the one
// the report calls for: 1 for findings, plus 2 when incomplete.
//
//	sweepexit REPORT CODEFILE
func cmdSweepExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sweepexit REPORT CODEFILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var rep struct {
		Complete bool `json:"complete"`
		Stats    struct {
			Places int `json:"places"`
		} `json:"stats"`
	}
	ts.Check(json.Unmarshal(data, &rep))
	want := 0
	if rep.Stats.Places > 0 {
		want |= 1
	}
	if !rep.Complete {
		want |= 2
	}
	code, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	got, err := strconv.Atoi(strings.TrimSpace(string(code)))
	ts.Check(err)
	if got != want {
		ts.Fatalf("%s: exit status %d, want %d for %s", args[1], got, want, args[0])
	}
}
