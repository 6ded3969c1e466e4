package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/responder"
)

// This file is what 'keyward respond' prints: the plan, each step as it
// completes, what is left for a human, and what an error means for the
// operator (which also decides the exit code).

// printHumanActions lists what is left, and what only a human can do.
func printHumanActions(e *env, inc *responder.Incident) {
	if len(inc.Remaining) > 0 {
		fmt.Fprintln(e.stdout, "Not contained:")
		for _, r := range inc.Remaining {
			fmt.Fprintf(e.stdout, "  - %s\n", r)
		}
	}
	for _, h := range inc.HumanActions {
		fmt.Fprintf(e.stdout, "Only a human can do this: %s: %s\n", h.Subject, h.What)
		for _, c := range h.Commands {
			fmt.Fprintf(e.stdout, "    %s\n", c)
		}
	}
}

// explain prints what an error means for the operator and returns what
// decides the exit code.
func (o *respondOptions) explain(e *env, err error) error {
	var (
		se *responder.StopError
		pe *responder.PermissionError
		ke *responder.KeyLimitError
		pa *responder.PartialError
	)
	var rp *responder.RecheckPendingError
	if errors.As(err, &pa) && len(pa.Causes) == 0 || errors.As(err, &rp) {
		// Nothing failed: what remains needs a human (listed above), or
		// the re-check is due.
		return errFindings
	}
	switch {
	case errors.As(err, &se):
		fmt.Fprintf(e.stdout, "Stopped: %s\n", se.Reason)
		for _, s := range se.Instructions {
			fmt.Fprintf(e.stdout, "  - %s\n", s)
		}
		return se
	case errors.As(err, &pe):
		errorf(e.stderr, "%v", pe)
		hintf(e.stderr, "grant %s on %s to the operator's credentials, then re-run to continue; for example:\n%s", pe.Action, pe.Resource, pe.PolicySnippet())
		return errSilent
	case errors.As(err, &ke):
		errorf(e.stderr, "%v", ke)
		hintf(e.stderr, "the leaked key is inactive but still counts: re-run with --rotate --delete to delete it first (after the investigation), keys: %s", strings.Join(ke.Keys, ", "))
		return errSilent
	case errors.Is(err, errSilent):
		return errSilent
	case errors.As(err, &pa):
		for _, c := range pa.Causes {
			errorf(e.stderr, "%v", c)
		}
		hintf(e.stderr, "fix the cause, then re-run the same command: it continues where it stopped")
		return errSilent
	}
	errorf(e.stderr, "%v", err)
	if errors.Is(err, responder.ErrNotValidated) {
		hintf(e.stderr, "check the network and the clock, then re-run")
	} else {
		hintf(e.stderr, "re-run the same command to continue where it stopped")
	}
	return errSilent
}

func printPlan(e *env, p *responder.Plan) {
	w := e.stdout
	fmt.Fprintf(w, "Plan for %s (%s key): %s", p.KeyID, p.Kind, p.Verdict.Status)
	if p.KeyAccount != "" {
		fmt.Fprintf(w, ", account %s", p.KeyAccount)
	}
	if p.UserName != "" {
		fmt.Fprintf(w, ", IAM user %s", p.UserName)
	}
	fmt.Fprintln(w)
	if p.OperatorARN != "" {
		fmt.Fprintf(w, "Operator: %s\n", p.OperatorARN)
	}
	if p.Stop != nil {
		return
	}
	fmt.Fprintln(w, "Nothing is changed without --execute.")
	fmt.Fprintln(w)
	for i, s := range p.Steps {
		fmt.Fprintf(w, "%2d. %s [as %s", i+1, s.Title, s.Signer)
		if s.Account != "" {
			fmt.Fprintf(w, ", account %s", s.Account)
		}
		if s.User != "" {
			fmt.Fprintf(w, ", user %s", s.User)
		}
		fmt.Fprintln(w, "]")
		for _, c := range s.Calls {
			fmt.Fprintf(w, "      %s\n", c)
		}
		if len(s.Permissions) > 0 {
			fmt.Fprintf(w, "      needs: %s\n", strings.Join(s.Permissions, ", "))
		}
		if s.Note != "" {
			fmt.Fprintf(w, "      note: %s\n", s.Note)
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	if perms := p.RequiredPermissions(); len(perms) > 0 {
		fmt.Fprintf(w, "\nThe operator needs: %s\n", strings.Join(perms, ", "))
	}
}

// printStep prints one step's outcome as it completes.
func printStep(e *env, s responder.StepResult) {
	status := string(s.Status)
	if s.Resumed {
		status = "resumed"
	}
	detail := s.Detail
	if s.Error != "" {
		detail = s.Error
	}
	fmt.Fprintf(e.stdout, "%-8s %-21s %s\n", status, s.ID, detail)
}
