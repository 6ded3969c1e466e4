package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/term"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/responder"
	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/report"
)

// Limits on what verify and respond read. A scan report's limit is
// report.MaxSize.
const (
	// maxSecretInput bounds the secret read from stdin: a secret is 40
	// bytes and a session token at most a few kilobytes.
	maxSecretInput = 64 << 10
	// maxSourceSize bounds a file or blob re-read to recover a redacted
	// secret, matching the scanner's own default limit.
	maxSourceSize = scanner.DefaultMaxFileSize
)

// reportInput is a scan report read back: its findings with the secrets
// recovered where possible, warnings, and how many findings had a secret
// that could not be recovered. Those are never a clean exit: the key may
// be live (issue 8).
type reportInput struct {
	findings    []scanner.Finding
	warnings    []string
	unrecovered int
}

// loadReport reads a scan report (scanner/report) and turns its findings
// back into scanner findings. Redacted secrets (the default) are recovered
// by scanning the source again: the file at path under repo, or the blob
// commit:path, matching the finding by fingerprint.
func loadReport(ctx context.Context, path, repo string) (reportInput, error) {
	var in reportInput
	rep, err := report.ReadFile(path)
	if err != nil {
		return in, fmt.Errorf("read report %s: %w", path, err)
	}
	eng := scanner.New(scanner.Options{})
	cache := map[string][]scanner.Finding{}
	for _, rf := range rep.Findings {
		sf := scanner.Finding{
			RuleID: rf.RuleID, Line: rf.Line, KeyID: rf.KeyID, KeyKind: rf.KeyKind,
			AccountID: rf.AccountID, Canary: rf.Canary, Fingerprint: rf.Fingerprint,
			Provenance: rf.Provenance(),
		}
		if rf.KeyID != "" {
			if acct, ok := patterns.AccountID(rf.KeyID); ok {
				_, sf.Canary = patterns.CanaryAccount(acct)
				sf.AccountID = acct
			}
		}
		if !rf.SecretRedacted {
			sf.Secret, sf.SessionToken = scanner.NewSecret(rf.Secret), scanner.NewSecret(rf.SessionToken)
		} else if rf.KeyID != "" && !sf.Canary {
			src := string(sf.Kind) + "\x00" + sf.Ref + "\x00" + rf.RawPath() + "\x00" + rf.Commit
			found, ok := cache[src]
			if !ok {
				var err error
				found, err = rescan(ctx, eng, repo, sf.Provenance)
				if err != nil {
					in.warnings = append(in.warnings, fmt.Sprintf("%s: cannot recover the redacted secret: %v", rf.Path, err))
				}
				cache[src] = found
			}
			if m, ok := matchFinding(found, rf); ok {
				sf.Secret, sf.SessionToken = m.Secret, m.SessionToken
			} else {
				in.unrecovered++
				if len(found) > 0 {
					in.warnings = append(in.warnings, fmt.Sprintf("%s: %s is no longer there; its secret cannot be recovered", rf.Path, rf.KeyID))
				}
			}
		}
		in.findings = append(in.findings, sf)
	}
	return in, nil
}

// matchFinding finds the re-scanned finding that a report entry describes:
// by fingerprint, else by key ID on the same line.
func matchFinding(found []scanner.Finding, rf report.Finding) (scanner.Finding, bool) {
	for _, f := range found {
		if rf.Fingerprint != "" && f.Fingerprint == rf.Fingerprint && f.KeyID == rf.KeyID {
			return f, true
		}
	}
	for _, f := range found {
		if f.KeyID == rf.KeyID && f.Line == rf.Line && !f.Secret.IsZero() {
			return f, true
		}
	}
	return scanner.Finding{}, false
}

// rescan scans again the content a finding came from, to recover its
// redacted secret: a commit's or annotated tag's message read from the git
// objects, as the scan read it; an archive read whole so its members are
// scanned as the scan did (path "a.zip!member"); else the file or blob at
// the finding's path.
func rescan(ctx context.Context, eng *scanner.Engine, repo string, p scanner.Provenance) ([]scanner.Finding, error) {
	if repo == "" {
		repo = "."
	}
	switch {
	case p.Kind == scanner.KindTagMessage:
		data, err := eng.ReadTagMessage(repo, p.Ref)
		if err != nil {
			return nil, err
		}
		return eng.Scan(data, p), nil
	case p.Kind == scanner.KindCommitMessage && p.Commit != "":
		data, err := readMessage(ctx, repo, p.Commit)
		if err != nil {
			return nil, err
		}
		return eng.Scan(data, p), nil
	}
	path := p.Path
	if archive, _, ok := p.Member(); ok {
		path = archive
	}
	data, err := readSource(ctx, repo, path, p.Commit)
	if err != nil {
		return nil, err
	}
	q := p
	q.Path = path
	fs, _ := eng.ScanContent(data, q)
	return fs, nil
}

// readSource reads the content a finding came from: a blob when commit is
// set, else a file, relative to repo.
func readSource(ctx context.Context, repo, path, commit string) ([]byte, error) {
	if repo == "" {
		repo = "."
	}
	if commit == "" {
		f, err := os.Open(filepath.Join(repo, filepath.FromSlash(path)))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxSourceSize))
	}
	if strings.HasPrefix(commit, "-") || strings.ContainsAny(commit, ":\x00") {
		return nil, fmt.Errorf("bad commit %q", commit)
	}
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "show", "--no-textconv", commit+":"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git show %s:%s: %v: %s", shortCommit(commit), path, err, strings.TrimSpace(stderr.String()))
	}
	if stdout.Len() > maxSourceSize {
		return stdout.Bytes()[:maxSourceSize], nil
	}
	return stdout.Bytes(), nil
}

// readMessage reads the message of the commit (or annotated tag) object
// id from the repository as the scanner opens it, so a redacted secret
// found there can be recovered (issue 8: "git show <commit>:commit-message"
// asked for a file that does not exist).
func readMessage(ctx context.Context, repo, id string) ([]byte, error) {
	if repo == "" {
		repo = "."
	}
	if !plumbing.IsHash(id) {
		return nil, fmt.Errorf("bad object ID %q", shortCommit(id))
	}
	r, err := scanner.OpenRepository(ctx, repo, scanner.OpenOptions{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := plumbing.NewHash(id)
	if c, err := r.CommitObject(h); err == nil {
		return []byte(c.Message), nil
	}
	t, err := r.TagObject(h)
	if err != nil {
		return nil, fmt.Errorf("read the message of %s: %w", shortCommit(id), err)
	}
	return []byte(t.Message), nil
}

// shortCommit abbreviates a commit ID to git's usual 12 characters, for
// every place keyward names a commit to a person.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// readKeyCredential reads the secret (and, for an ASIA key, the session
// token) for --key-id: from a no-echo prompt when stdin is a terminal, else
// from stdin, the secret on the first line and the token on the second. It
// never prompts when stdin is not a terminal, so scripts can pipe.
func readKeyCredential(e *env, keyID string) (responder.Credential, error) {
	if !patterns.IsKeyIDShape([]byte(keyID)) {
		return responder.Credential{}, usagef("an access key ID is 20 characters starting AKIA, ASIA, ABIA, ACCA or A3T", "--key-id is not an access key ID (%d characters; not shown, in case it is a secret)", len(keyID))
	}
	temporary := patterns.KindOf(keyID) == patterns.Temporary
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(e.stderr, "Secret access key for %s (not echoed): ", keyID)
		secret, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return responder.Credential{}, fmt.Errorf("read secret: %w", err)
		}
		var token []byte
		if temporary {
			fmt.Fprint(e.stderr, "Session token (not echoed): ")
			token, err = term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(e.stderr)
			if err != nil {
				return responder.Credential{}, fmt.Errorf("read session token: %w", err)
			}
		}
		c := responder.NewCredential(keyID, strings.TrimSpace(string(secret)), strings.TrimSpace(string(token)))
		wipe(secret)
		wipe(token)
		return c, nil
	}
	sc := bufio.NewScanner(io.LimitReader(e.stdin, maxSecretInput))
	sc.Buffer(make([]byte, 0, 4096), maxSecretInput)
	var lines []string
	for sc.Scan() && len(lines) < 2 {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return responder.Credential{}, fmt.Errorf("read secret from stdin: %w", err)
	}
	if len(lines) == 0 {
		return responder.Credential{}, usagef("pipe the secret in: keyward verify --key-id ID < secret.txt (never on the command line)",
			"no secret on standard input for %s", keyID)
	}
	token := ""
	if len(lines) > 1 {
		token = lines[1]
	}
	return responder.NewCredential(keyID, lines[0], token), nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
