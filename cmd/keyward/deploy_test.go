package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The sweep recipes in deploy/ (issue 12) are parsed here, so that the
// number of shards an engine runs and the --shards keyward is given
// cannot drift apart: a mismatch would sweep part of the list and look
// complete, or sweep shards that do not exist.

var shardsFlag = regexp.MustCompile(`--shards[ =]+(\d+)`)

// shardsIn is the --shards value in a command text, which must appear
// exactly with one value.
func shardsIn(t *testing.T, what, text string) int {
	t.Helper()
	ms := shardsFlag.FindAllStringSubmatch(text, -1)
	if len(ms) == 0 {
		t.Fatalf("%s: no --shards in %q", what, text)
	}
	n, _ := strconv.Atoi(ms[0][1])
	for _, m := range ms[1:] {
		if m[1] != ms[0][1] {
			t.Fatalf("%s: --shards %s and %s", what, ms[0][1], m[1])
		}
	}
	return n
}

func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

// dig walks nested maps and lists ("0" indexes a list).
func dig(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func text(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x + "\n")
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

const deployDir = "../../deploy"

func TestKubernetesRecipe(t *testing.T) {
	sweep := readYAMLDocs(t, filepath.Join(deployDir, "kubernetes", "keyward-sweep.yaml"))
	merge := readYAMLDocs(t, filepath.Join(deployDir, "kubernetes", "keyward-merge.yaml"))
	byKind := map[string]map[string]any{}
	for _, d := range append(sweep, merge...) {
		byKind[d["kind"].(string)+"/"+dig(d, "metadata", "name").(string)] = d
	}
	pvc := byKind["PersistentVolumeClaim/keyward-sweep-cache"]
	job := byKind["Job/keyward-sweep"]
	mergeJob := byKind["Job/keyward-merge"]
	if pvc == nil || job == nil || mergeJob == nil {
		t.Fatalf("want the cache claim, the sweep Job and the merge Job; have %v", byKind)
	}
	spec := job["spec"].(map[string]any)
	if spec["completionMode"] != "Indexed" {
		t.Errorf("completionMode %v, want Indexed (it sets JOB_COMPLETION_INDEX)", spec["completionMode"])
	}
	script := text(dig(spec, "template", "spec", "containers"))
	n := shardsIn(t, "sweep Job", script)
	if spec["completions"] != n || spec["parallelism"] != n {
		t.Errorf("completions %v and parallelism %v, want both equal to --shards %d", spec["completions"], spec["parallelism"], n)
	}
	if strings.Contains(script, "--shard ") {
		t.Error("the sweep Job passes --shard; it should take JOB_COMPLETION_INDEX")
	}
	for name, j := range map[string]map[string]any{"sweep": job, "merge": mergeJob} {
		claim := dig(j, "spec", "template", "spec", "volumes", "0", "persistentVolumeClaim", "claimName")
		if claim != "keyward-sweep-cache" {
			t.Errorf("%s Job mounts %v, not the cache claim", name, claim)
		}
	}
	// The merge Job names every shard's report, so a missing one is
	// reported missing.
	mscript := text(dig(mergeJob, "spec", "template", "spec", "containers"))
	if !strings.Contains(mscript, "keyward report merge") {
		t.Fatal("the merge Job does not run keyward report merge")
	}
	for i := 0; i < n; i++ {
		if !strings.Contains(mscript, "shard-"+strconv.Itoa(i)+".json") {
			t.Errorf("the merge Job does not name shard-%d.json", i)
		}
	}
	if strings.Contains(mscript, "shard-"+strconv.Itoa(n)+".json") {
		t.Errorf("the merge Job names shard-%d.json, beyond %d shards", n, n)
	}
	checkSweepArgs(t, "kubernetes", script)
}

func TestGitHubRecipe(t *testing.T) {
	wf := readYAMLDocs(t, filepath.Join(deployDir, "github", "keyward-sweep.yml"))[0]
	sweep := dig(wf, "jobs", "sweep")
	shards, _ := dig(sweep, "strategy", "matrix", "shard").([]any)
	script := text(dig(sweep, "steps"))
	n := shardsIn(t, "sweep job", script)
	if len(shards) != n {
		t.Errorf("matrix of %d shards, --shards %d", len(shards), n)
	}
	for i, s := range shards {
		if s != i {
			t.Errorf("matrix shard %d is %v", i, s)
		}
	}
	if dig(sweep, "strategy", "fail-fast") != false {
		t.Error("fail-fast would cancel the other shards when one fails")
	}
	merge := dig(wf, "jobs", "merge")
	if dig(merge, "needs") != "sweep" || dig(merge, "if") != "always()" {
		t.Errorf("merge job: needs %v, if %v; want sweep and always()", dig(merge, "needs"), dig(merge, "if"))
	}
	mscript := text(dig(merge, "steps"))
	for i := 0; i < n; i++ {
		if !strings.Contains(mscript, "shard-"+strconv.Itoa(i)+".json") {
			t.Errorf("the merge job does not name shard-%d.json", i)
		}
	}
	checkSweepArgs(t, "github", script)
}

func TestGitLabRecipe(t *testing.T) {
	ci := readYAMLDocs(t, filepath.Join(deployDir, "gitlab", "keyward-sweep.gitlab-ci.yml"))[0]
	sweep := dig(ci, "keyward-sweep")
	script := text(dig(sweep, "script"))
	n := shardsIn(t, "keyward-sweep", script)
	if dig(sweep, "parallel") != n {
		t.Errorf("parallel %v, --shards %d", dig(sweep, "parallel"), n)
	}
	if !strings.Contains(script, "$((CI_NODE_INDEX - 1))") {
		t.Error("GitLab numbers parallel jobs from 1 and keyward's shards from 0")
	}
	merge := dig(ci, "keyward-merge")
	if dig(merge, "stage") != "merge" || dig(merge, "needs", "0", "job") != "keyward-sweep" ||
		dig(merge, "rules", "0", "when") != "always" {
		t.Errorf("merge job: stage %v, needs %v, when %v", dig(merge, "stage"), dig(merge, "needs"), dig(merge, "rules", "0", "when"))
	}
	mscript := text(dig(merge, "script"))
	for i := 0; i < n; i++ {
		if !strings.Contains(mscript, "shard-"+strconv.Itoa(i)+".json") {
			t.Errorf("the merge job does not name shard-%d.json", i)
		}
	}
	checkSweepArgs(t, "gitlab", script)
}

// checkSweepArgs parses the recipe's keyward sweep flags with the real
// flag set, so a renamed or misspelt flag fails here, not in a cluster.
func checkSweepArgs(t *testing.T, what, script string) {
	t.Helper()
	// The engines' own expressions, as they would expand for shard 0.
	script = strings.NewReplacer("${{ matrix.shard }}", "0", "$((CI_NODE_INDEX - 1))", "0").Replace(script)
	i := strings.Index(script, "keyward sweep ")
	if i < 0 {
		t.Fatalf("%s: no keyward sweep command", what)
	}
	line := script[i+len("keyward sweep "):]
	var cmd strings.Builder
	for _, l := range strings.Split(line, "\n") {
		l = strings.TrimSpace(l)
		cont := strings.HasSuffix(l, "\\")
		cmd.WriteString(strings.TrimSuffix(l, "\\") + " ")
		if !cont {
			break
		}
	}
	var args []string
	for _, f := range strings.Fields(cmd.String()) {
		if f == "&&" || f == "||" || strings.HasPrefix(f, ";") {
			break
		}
		f = strings.TrimSuffix(f, ";")
		args = append(args, strings.Trim(f, `"'`))
	}
	var o sweepOptions
	fs := newFlagSet("sweep")
	o.addFlags(fs)
	var out bytes.Buffer
	if err := parseFlags(fs, "", &env{stdout: &out, stderr: &out}, args); err != nil {
		t.Fatalf("%s: keyward sweep %s: %v", what, strings.Join(args, " "), err)
	}
	if len(fs.Args()) != 0 {
		t.Errorf("%s: stray arguments %v", what, fs.Args())
	}
}
