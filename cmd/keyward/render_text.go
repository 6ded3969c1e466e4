package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/scanner"
)

// textRenderer writes findings for people: one block per finding, the
// location first in the path:line:col form editors and terminals link.
type textRenderer struct{}

// renderBuffer is the write buffer of the streaming renderers: output goes
// out as it is written, never held whole (issue 10: 1.5M key IDs took
// 2.5 GB as text when the output was built in memory first).
const renderBuffer = 64 << 10

func (textRenderer) render(w io.Writer, rr *runResult, st style) error {
	b := bufio.NewWriterSize(w, renderBuffer)
	for _, f := range rr.Findings {
		writeTextFinding(b, f, rr.Redact, st)
	}
	return b.Flush() // a write error is kept by the bufio.Writer and returned here
}

func writeTextFinding(b *bufio.Writer, f scanner.Finding, redact bool, st style) {
	loc := fmt.Sprintf("%s:%d:%d", quotePath(f.Path), f.Line, f.Column)
	loc = describePlace(f, loc)
	fmt.Fprintf(b, "%s %s %s\n", st.bad.Render("LEAK"), st.head.Render(loc), st.dim.Render(f.RuleID))
	row := func(label, value string) {
		if value != "" {
			fmt.Fprintf(b, "  %-9s %s\n", label, value)
		}
	}
	if f.KeyID != "" {
		detail := f.KeyKind
		if f.AccountID != "" {
			detail += ", account " + f.AccountID
		}
		row("key ID", st.key.Render(f.KeyID)+" ("+detail+")")
	}
	if f.Canary {
		service, _ := patterns.CanaryAccount(f.AccountID)
		row("canary", "yes: a "+service+" canary token; never validate it, any use alerts its owner")
	}
	if !f.Secret.IsZero() {
		v := reveal(f.Secret, redact)
		if f.SecretLine != 0 && f.SecretLine != f.Line {
			v += fmt.Sprintf(" (line %d)", f.SecretLine)
		}
		row("secret", v)
	}
	if !f.SessionToken.IsZero() {
		row("token", reveal(f.SessionToken, redact))
	}
	if f.Encoding != scanner.EncPlain {
		row("encoding", string(f.Encoding))
	}
	if f.Commit != "" {
		c := shortCommit(f.Commit)
		who := f.Author
		if f.Email != "" {
			who += " <" + f.Email + ">"
		}
		date := ""
		if !f.Date.IsZero() {
			date = " on " + f.Date.UTC().Format("2006-01-02")
		}
		row("commit", c+" by "+who+date)
	}
	if len(f.PresentIn) > 0 {
		row("still in", strings.Join(f.PresentIn, ", "))
	}
	b.WriteByte('\n')
}

// describePlace names where a finding is for a person: loc (path:line:col)
// for a file, and for content with no path of its own, the commit, tag or
// stash entry that holds it.
func describePlace(f scanner.Finding, loc string) string {
	switch f.Kind {
	case scanner.KindCommitMessage:
		if f.Path == scanner.MessagePath && f.Commit != "" {
			// A message has no path of its own; its commit is where to look.
			return fmt.Sprintf("commit message of %s:%d:%d", shortCommit(f.Commit), f.Line, f.Column)
		}
		return "commit message " + loc
	case scanner.KindTagMessage:
		return fmt.Sprintf("tag message of %s:%d:%d", quotePath(f.Ref), f.Line, f.Column)
	case scanner.KindStash, scanner.KindNote:
		if f.Ref != "" {
			return f.Ref + ":" + loc
		}
	}
	return loc
}
