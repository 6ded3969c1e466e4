package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The logs below are the shapes gitleaks 8.30.1 and trufflehog 3.97.0
// write (trimmed); no finding in them holds a secret.
const (
	gitleaksLog = "\x1b[90m12:20AM\x1b[0m \x1b[32mINF\x1b[0m \x1b[1m116 commits scanned.\x1b[0m\n" +
		"\x1b[90m12:20AM\x1b[0m \x1b[32mINF\x1b[0m \x1b[1mscanned ~140818 bytes (140.82 KB) in 357ms\x1b[0m\n" +
		"\x1b[90m12:20AM\x1b[0m \x1b[33mWRN\x1b[0m \x1b[1mleaks found: 2\x1b[0m\n"
	gitleaksReport = `[{"RuleID":"generic-api-key"},{"RuleID":"aws-access-token"}]`

	trufflehogLog = `{"level":"info-0","logger":"trufflehog","msg":"running source","with_units":true}
{"level":"error","logger":"trufflehog","msg":"error scanning chunk"}
{"level":"info-0","logger":"trufflehog","msg":"finished scanning","chunks":844,"bytes":177388,"verified_secrets":0,"unverified_secrets":1}
`
	trufflehogOut = `{"SourceMetadata":{},"DetectorName":"Box","Verified":false}
`
	// What trufflehog 3.97.0 logs when given a bare repository whose
	// directory name ends in "git" without --bare: it skips it, exit 0.
	trufflehogSkipped = `{"level":"info-0","logger":"trufflehog","msg":"finished scanning","chunks":0,"bytes":0,"verified_secrets":0,"unverified_secrets":0}
`
	keywardOut = `{"schema_version":1,"findings":[{"rule_id":"aws-access-key-id"},{"rule_id":"github-pat"}],"skipped":[{"path":"a.tar"}],"errors":[],` +
		`"stats":{"files":45167,"bytes":1464226168,"commits":12630}}`
)

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadOutcome(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "case")
	tests := []struct {
		name            string
		c               realCase
		stdout, stderr  string
		report          string
		want            outcome
		wantErr         string // a substring of readOutcome's or check's error
		wantFound, read string
	}{
		{name: "keyward", c: realCase{tool: toolKeyward, args: []string{"keyward"}}, stdout: keywardOut,
			want:      outcome{found: 2, skipped: 1, commits: 12630, chunks: -1, bytes: 1464226168},
			wantFound: "2 (1 skipped)", read: "12,630 commits, 1.36 GB"},
		{name: "gitleaks", c: realCase{tool: toolGitleaks, args: []string{"gitleaks"}}, stderr: gitleaksLog, report: gitleaksReport,
			want:      outcome{found: 2, commits: 116, chunks: -1, bytes: 140818},
			wantFound: "2", read: "116 commits, 138 KB"},
		{name: "gitleaks without its counts", c: realCase{tool: toolGitleaks, args: []string{"gitleaks"}}, report: "[]",
			wantErr: "did not log what it scanned"},
		{name: "trufflehog", c: realCase{tool: toolTrufflehog, args: []string{"trufflehog"}}, stdout: trufflehogOut, stderr: trufflehogLog,
			want:      outcome{found: 1, errors: 1, commits: -1, chunks: 844, bytes: 177388},
			wantFound: "1 (1 errors)", read: "844 chunks, 173 KB"},
		{name: "trufflehog skipped the repository", c: realCase{tool: toolTrufflehog, args: []string{"trufflehog"}}, stderr: trufflehogSkipped,
			wantErr: "read 0 bytes"},
		{name: "trufflehog without --json", c: realCase{tool: toolTrufflehog, args: []string{"trufflehog"}}, stderr: "finished scanning\n",
			wantErr: "finished scanning"},
		{name: "keyward read nothing", c: realCase{tool: toolKeyward, args: []string{"keyward"}},
			stdout: `{"findings":[],"errors":[],"stats":{"bytes":0,"commits":0}}`, wantErr: "read 0 bytes"},
		{name: "keyward not JSON", c: realCase{tool: toolKeyward, args: []string{"keyward"}}, stdout: "AKIA... found\n",
			wantErr: "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t, out+".out", tt.stdout)
			write(t, out+".err", tt.stderr)
			tt.c.out = out
			if tt.report != "" {
				tt.c.report = filepath.Join(dir, "report.json")
				write(t, tt.c.report, tt.report)
			}
			got, err := readOutcome(tt.c, out)
			if err == nil {
				err = got.check(tt.c)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("outcome = %+v, want %+v", got, tt.want)
			}
			if s := got.foundText(tt.c); s != tt.wantFound {
				t.Errorf("found cell = %q, want %q", s, tt.wantFound)
			}
			if s := got.readText(tt.c); s != tt.read {
				t.Errorf("read cell = %q, want %q", s, tt.read)
			}
		})
	}
}

// TestTrufflehogArgs checks the command line kwbench gives trufflehog: no
// update check, no verification, JSON, in place, and --bare exactly when
// the repository is bare (without it, trufflehog skips a bare repository
// named *.git and reads nothing).
func TestTrufflehogArgs(t *testing.T) {
	dir := t.TempDir()
	bare, work := filepath.Join(dir, "r.git"), filepath.Join(dir, "work")
	for _, args := range [][]string{{"init", "-q", "--bare", bare}, {"init", "-q", work}} {
		if err := git(t.Context(), dir, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		repo     string
		wantBare bool
	}{{bare, true}, {work, false}} {
		args := trufflehogArgs(t.Context(), tt.repo, "--since-commit", "abc")
		line := strings.Join(args, " ")
		for _, want := range []string{"trufflehog git ", "--no-update", "--no-verification", "--json", "--trust-local-git-config", "--since-commit abc"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: %q lacks %q", tt.repo, line, want)
			}
		}
		if got := strings.Contains(line, " --bare"); got != tt.wantBare {
			t.Errorf("%s: --bare given = %v, want %v (%s)", tt.repo, got, tt.wantBare, line)
		}
		if last := args[len(args)-1]; last != "file://"+tt.repo {
			t.Errorf("%s: last argument %q, want the file:// URI", tt.repo, last)
		}
	}
}

func TestSlug(t *testing.T) {
	if got, want := slug("gitleaks git --log-opts=HEAD~100..HEAD"), "gitleaks-git-log-opts-head-100-head"; got != want {
		t.Errorf("slug = %q, want %q", got, want)
	}
}
