package scanner

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// scanPatch runs the Patch source through Engine.Run.
func scanPatch(t *testing.T, opts Options, patch string) *Result {
	t.Helper()
	res, err := New(opts).Run(context.Background(), Patch{R: strings.NewReader(patch), Name: "-"})
	if err != nil {
		t.Fatalf("scan patch: %v", err)
	}
	return res
}

// TestPatchGitDiff: in git diff's output only added lines are reported,
// at their line numbers in the new file; a key the change removes, or
// only shows as context, is not; a secret added under a key ID the hunk
// shows as context is paired with it.
func TestPatchGitDiff(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	removed, context, added, under := newCreds(71), newCreds(72), newCreds(73), newCreds(74)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("setting_%d = %d", i, i))
	}
	old := append([]string{}, lines...)
	old[2] = "old_key = " + removed.keyID
	old[3] = "aws_access_key_id = " + context.keyID // context of the first hunk
	old[14] = "aws_access_key_id = " + under.keyID
	r.write("conf/app.env", strings.Join(old, "\n")+"\n")
	r.commit("config")

	now := append([]string{}, old...)
	now[2] = "old_key = gone"
	now[10] = "aws_access_key_id = " + added.keyID // line 11
	now[11] = "aws_secret_access_key = " + added.secret
	now[15] = "aws_secret_access_key = " + under.secret // line 16, under line 15's key
	r.write("conf/app.env", strings.Join(now, "\n")+"\n")
	patch := r.git("diff") + "\n"

	res := scanPatch(t, Options{}, patch)
	if fs := byKey(res, removed.keyID); len(fs) != 0 {
		t.Errorf("removed key reported: %+v", fs)
	}
	if fs := byKey(res, context.keyID); len(fs) != 0 {
		t.Errorf("context key reported: %+v", fs)
	}
	f := one(t, res, added.keyID)
	if f.Path != "conf/app.env" || f.Line != 11 || f.Column != 21 || f.SecretLine != 12 || f.Secret.Reveal() != added.secret {
		t.Errorf("added pair: path %q line %d col %d secret line %d", f.Path, f.Line, f.Column, f.SecretLine)
	}
	if got := patch[f.Start:f.End]; got != added.keyID {
		t.Errorf("patch[Start:End] = %q, want the key ID", got)
	}
	if f.Fingerprint != fingerprint(f.RuleID, "conf/app.env", added.keyID) {
		t.Errorf("fingerprint is not the file's")
	}
	g := one(t, res, under.keyID)
	if g.Line != 15 || g.SecretLine != 16 || g.Secret.Reveal() != under.secret {
		t.Errorf("secret under a context key: line %d secret line %d", g.Line, g.SecretLine)
	}
	if res.Files != 1 || res.Commits != 0 || res.Bytes == 0 {
		t.Errorf("counts: %d files, %d commits, %d bytes", res.Files, res.Commits, res.Bytes)
	}
}

// TestPatchLog: git log -p names each finding's commit and author, scans
// the messages, and reports a key once, where it was added, not where a
// later commit removed it.
func TestPatchLog(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	file, msg := newCreds(75), newCreds(76)
	r.write("README", "hello\n")
	r.commit("initial")
	r.write("deploy/a.env", file.ini())
	intro := r.commit("add env")
	r.write("README", "hello again\n")
	withMsg := r.commit("rotate\n\nthe old key was " + msg.keyID + "\nsecret next")
	r.remove("deploy/a.env")
	r.commit("remove env")
	res := scanPatch(t, Options{}, r.git("log", "-p")+"\n")

	f := one(t, res, file.keyID)
	if f.Commit != intro || f.Author != "Test Author" || f.Email != "author@example.com" || f.Date.IsZero() || f.Path != "deploy/a.env" || f.Line != 2 {
		t.Errorf("file finding: %+v", f.Provenance)
	}
	m := one(t, res, msg.keyID)
	if m.Kind != KindCommitMessage || m.Path != MessagePath || m.Commit != withMsg || m.Line != 3 {
		t.Errorf("message finding: kind %q path %q commit %s line %d", m.Kind, m.Path, m.Commit, m.Line)
	}
	if res.Commits != 4 {
		t.Errorf("%d commits, want 4", res.Commits)
	}

	// The same two commits as patch mails (git format-patch), whose
	// messages are not indented: the subject is the message's first line.
	mails := scanPatch(t, Options{}, r.git("format-patch", "--stdout", "-2", "HEAD~1")+"\n")
	if f := one(t, mails, file.keyID); f.Commit != intro || f.Author != "Test Author" || f.Date.IsZero() || f.Line != 2 {
		t.Errorf("mail file finding: %+v line %d", f.Provenance, f.Line)
	}
	if m := one(t, mails, msg.keyID); m.Kind != KindCommitMessage || m.Commit != withMsg || m.Line != 3 {
		t.Errorf("mail message finding: kind %q commit %s line %d", m.Kind, m.Commit, m.Line)
	}
}

// TestPatchCombined: a merge's combined diff (git log --cc) reports a
// line only when it is new against every parent.
func TestPatchCombined(t *testing.T) {
	t.Parallel()
	evil, fromSide := newCreds(77), newCreds(78)
	patch := "diff --cc f.env\nindex 1111111,2222222..3333333\n--- a/f.env\n+++ b/f.env\n" +
		"@@@ -1,2 -1,1 +1,3 @@@\n" +
		"  base\n" +
		" +side_key = " + fromSide.keyID + "\n" +
		"++evil_key = " + evil.keyID + "\n"
	res := scanPatch(t, Options{}, patch)
	if f := one(t, res, evil.keyID); f.Line != 3 || f.Path != "f.env" {
		t.Errorf("evil merge line: %d %q", f.Line, f.Path)
	}
	if fs := byKey(res, fromSide.keyID); len(fs) != 0 {
		t.Errorf("a line one parent had is reported: %+v", fs)
	}
}

// TestPatchBadInput: what a patch cannot show is a Skip, never silence;
// input that is no patch at all is an error, an empty one is clean; a
// hunk cut short ends where it ends.
func TestPatchBadInput(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write("README", "x\n")
	r.commit("initial")
	r.write("function.zip", "PK\x03\x04\x00\x00binary\x00content")
	r.git("add", "function.zip")
	res := scanPatch(t, Options{}, r.git("diff", "--cached")+"\n")
	if len(res.Skipped) != 1 || res.Skipped[0].Reason != SkipBinaryPatch || res.Skipped[0].Path != "function.zip" || !res.Skipped[0].Incomplete() {
		t.Errorf("binary change: skipped %+v", res.Skipped)
	}

	if _, err := New(Options{}).Run(context.Background(), Patch{R: strings.NewReader("just some text\n"), Name: "notes.txt"}); err == nil || !strings.Contains(err.Error(), "no unified diff") {
		t.Errorf("not a patch: err %v", err)
	}
	if res := scanPatch(t, Options{}, ""); len(res.Findings)+len(res.Skipped)+len(res.Errors) != 0 || res.Files != 0 {
		t.Errorf("empty patch: %+v", res)
	}

	c := newCreds(79)
	cut := "--- a/x\n+++ b/x\n@@ -1,1 +1,5 @@\n+key = " + c.keyID + "\n"
	if f := one(t, scanPatch(t, Options{}, cut), c.keyID); f.Line != 1 {
		t.Errorf("truncated hunk: line %d", f.Line)
	}

	// A hunk header claiming line 0 (found by FuzzPatch; its input is
	// rebuilt here with a generated key, since a committed corpus file
	// would hold a live-looking key ID) counts from line 1.
	z := newCreds(80)
	zero := "@@-0 +0\n+00000000000 " + z.keyID + " " + strings.Repeat("0", 32)
	if f := one(t, scanPatch(t, Options{}, zero), z.keyID); f.Line != 1 {
		t.Errorf("hunk at line 0: finding on line %d", f.Line)
	}
}

// TestPatchLargeHunk: a hunk over the size limit is scanned in pieces
// that overlap, so each pair is reported exactly once, paired, at its
// line, wherever the cuts fall.
func TestPatchLargeHunk(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	const pairs = 2500
	var want []fakeCreds
	b.WriteString("--- /dev/null\n+++ b/big.env\n")
	var body []string
	for i := range pairs {
		c := newCreds(uint64(100 + i))
		want = append(want, c)
		body = append(body, "[p"+fmt.Sprint(i)+"]", "aws_access_key_id = "+c.keyID, "aws_secret_access_key = "+c.secret)
		for j := range 7 {
			body = append(body, fmt.Sprintf("filler_%d_%d = %s", i, j, strings.Repeat("z", 100)))
		}
	}
	fmt.Fprintf(&b, "@@ -0,0 +1,%d @@\n", len(body))
	for _, l := range body {
		b.WriteString("+" + l + "\n")
	}
	if b.Len() < 2*minStreamWindow {
		t.Fatalf("patch of %d bytes is too small to cut", b.Len())
	}
	res := scanPatch(t, Options{MaxFileSize: minStreamWindow}, b.String())
	for i, c := range want {
		f := one(t, res, c.keyID)
		if f.Path != "big.env" || f.Line != 10*i+2 || f.SecretLine != 10*i+3 || f.Secret.Reveal() != c.secret {
			t.Errorf("pair %d: line %d secret line %d", i, f.Line, f.SecretLine)
		}
	}
	if len(res.Findings) != pairs {
		t.Errorf("%d findings, want %d", len(res.Findings), pairs)
	}
}

// FuzzPatch: any input, patch or not, reads without panic or hang, and
// every finding names a line and offsets inside the patch; a plain key
// ID's offsets frame the key ID itself.
func FuzzPatch(f *testing.F) {
	seedDir(f, "patch", true)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		res, err := New(Options{MaxFileSize: 1024}).Run(context.Background(), Patch{R: bytes.NewReader(data), Name: "fuzz"})
		if err != nil {
			return // not a patch
		}
		for _, f := range res.Findings {
			if f.Line < 1 || f.Start < 0 || f.Start > f.End || f.End > len(data) {
				t.Fatalf("finding out of range: line %d, %d..%d of %d bytes", f.Line, f.Start, f.End, len(data))
			}
			if f.KeyID != "" && f.Encoding == EncPlain && string(data[f.Start:f.End]) != f.KeyID {
				t.Fatalf("patch[%d:%d] = %q, want key ID %q", f.Start, f.End, data[f.Start:f.End], f.KeyID)
			}
		}
	})
}
