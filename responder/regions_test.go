package responder

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/responder/awsemu"
)

// optInRegion is an opt-in region the tests' accounts enable and their
// thief uses.
const optInRegion = "af-south-1"

// attackOptIn uses the leaked key in an opt-in region the account enabled,
// where the built-in list of default regions would never look.
func (l *lab) attackOptIn(t *testing.T) {
	t.Helper()
	must(t, l.emu.EnableRegion(l.acct, optInRegion))
	if err := l.lookupAs(l.leaked, optInRegion); err != nil {
		t.Fatal(err)
	}
	// A region the account has not enabled refuses the key, so no thief
	// was there and no search is needed.
	if err := l.lookupAs(l.leaked, "ap-east-1"); apiErrorCode(err) != "UnrecognizedClientException" {
		t.Fatalf("disabled opt-in region: %v", err)
	}
}

// limitedOperator is an operator allowed everything but action.
func (l *lab) limitedOperator(t *testing.T, action string) awsemu.Credentials {
	t.Helper()
	must(t, l.emu.CreateUser(l.acct, "limited"))
	must(t, l.emu.PutUserPolicy(l.acct, "limited", "most", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"`+action+`","Resource":"*"}]}`))
	c, err := l.emu.CreateAccessKey(l.acct, "limited")
	must(t, err)
	return c
}

func stepOf(inc *Incident, id StepID) StepResult {
	for _, s := range inc.Steps {
		if s.ID == id {
			return s
		}
	}
	return StepResult{}
}

func apis(s StepResult, api string) int {
	n := 0
	for _, c := range s.Calls {
		if c.API == api {
			n++
		}
	}
	return n
}

// TestInvestigateCoversOptInRegion: with no --regions the investigation
// asks account:ListRegions, as the operator, and so finds the thief's use
// of the key in an opt-in region the account enabled.
func TestInvestigateCoversOptInRegion(t *testing.T) {
	l := newLab(t)
	l.attack(t)
	l.attackOptIn(t)
	r := l.runner(t, "")
	r.Regions = nil
	res, err := firstRun(r, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	tr := res.Incident.Facts.Trail
	if tr.RegionSource != RegionsFromAccount || len(tr.Regions) != len(DefaultRegions)+1 || tr.Regions[0] != "us-east-1" || !slices.Contains(tr.Regions, optInRegion) {
		t.Fatalf("regions %v from %s", tr.Regions, tr.RegionSource)
	}
	found := false
	for _, e := range tr.Events {
		found = found || (e.Region == optInRegion && e.AccessKeyID == l.leaked.AccessKeyID && e.Name == "LookupEvents")
	}
	if !found || tr.EventRegions[optInRegion] == 0 {
		t.Fatalf("the use in %s was missed: %v", optInRegion, tr.EventRegions)
	}
	inv := stepOf(res.Incident, StepInvestigate)
	if apis(inv, "account:ListRegions") != 1 || strings.Contains(inv.Detail, "built-in") {
		t.Errorf("investigate step: %+v", inv)
	}
	// ListRegions is the operator's call, never the leaked key's.
	if !slices.Contains(l.emu.Events(l.operator.AccessKeyID), "ListRegions") || slices.Contains(l.emu.Events(l.leaked.AccessKeyID), "ListRegions") {
		t.Error("ListRegions was not signed by the operator alone")
	}
	if md := res.Incident.Markdown(); !strings.Contains(md, "Regions searched: every region enabled in the account") {
		t.Errorf("report does not say where the regions came from:\n%s", md)
	}
}

// TestInvestigateRegionsFallback: when account:ListRegions is denied or
// failing the built-in list is searched, and the step, the report and the
// plan say opt-in regions were not covered.
func TestInvestigateRegionsFallback(t *testing.T) {
	for _, tc := range []struct {
		name, why string
		setup     func(*lab, *Runner)
	}{
		{"denied", "account:ListRegions denied", func(l *lab, r *Runner) {
			r.Config = l.config(l.limitedOperator(t, "account:ListRegions"))
		}},
		{"unavailable", "account:ListRegions failed (InternalFailure)", func(l *lab, r *Runner) {
			l.emu.FailServer("ListRegions", 100)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			l.attackOptIn(t)
			r := l.runner(t, "")
			r.Regions = nil
			tc.setup(l, r)
			want := "regions: built-in default list, " + tc.why + " — opt-in regions not covered"

			p, err := r.Plan(context.Background(), cred(l.leaked))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(p.Notes, want) || !slices.Contains(p.RequiredPermissions(), "account:ListRegions") {
				t.Errorf("plan notes %q, permissions %v", p.Notes, p.RequiredPermissions())
			}

			res, err := firstRun(r, cred(l.leaked))
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			tr := res.Incident.Facts.Trail
			if tr.RegionSource != RegionsFromDefault || !slices.Equal(tr.Regions, DefaultRegions) {
				t.Fatalf("regions %v from %s", tr.Regions, tr.RegionSource)
			}
			if inv := stepOf(res.Incident, StepInvestigate); !strings.HasSuffix(inv.Detail, "; "+want) {
				t.Errorf("investigate detail %q, want it to end %q", inv.Detail, want)
			}
			md := res.Incident.Markdown()
			if !strings.Contains(md, want) || !strings.Contains(md, "Opt-in regions were not searched") {
				t.Errorf("report lacks the fallback:\n%s", md)
			}
		})
	}
}

// TestInvestigateRegionsPaged: ListRegions answers in short pages and every
// page is followed.
func TestInvestigateRegionsPaged(t *testing.T) {
	l := newLab(t)
	must(t, l.emu.EnableRegion(l.acct, optInRegion))
	must(t, l.emu.EnableRegion(l.acct, "il-central-1"))
	l.emu.LimitPage("ListRegions", 2)
	r := l.runner(t, "")
	r.Regions = nil
	res, err := firstRun(r, cred(l.leaked))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	tr := res.Incident.Facts.Trail
	if len(tr.Regions) != 19 || !slices.Contains(tr.Regions, "il-central-1") || !slices.Contains(tr.Regions, "us-west-2") {
		t.Fatalf("regions %v", tr.Regions)
	}
	if n := apis(stepOf(res.Incident, StepInvestigate), "account:ListRegions"); n != 10 {
		t.Errorf("%d ListRegions calls, want 10 pages of 2", n)
	}
}

// TestPlanRegions: the plan counts the account's enabled regions and lists
// account:ListRegions among the permissions, unless --regions overrides.
func TestPlanRegions(t *testing.T) {
	l := newLab(t)
	must(t, l.emu.EnableRegion(l.acct, optInRegion))
	r := l.runner(t, "")
	r.Regions = nil
	p, err := r.Plan(context.Background(), cred(l.leaked))
	if err != nil {
		t.Fatal(err)
	}
	var inv Step
	for _, s := range p.Steps {
		if s.ID == StepInvestigate {
			inv = s
		}
	}
	if !strings.HasPrefix(inv.Calls[0], "account:ListRegions(") || !strings.Contains(inv.Calls[1], "in 18 regions") || !slices.Contains(inv.Permissions, "account:ListRegions") {
		t.Fatalf("investigate step: %+v", inv)
	}
	p, err = l.runner(t, "").Plan(context.Background(), cred(l.leaked))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(p.RequiredPermissions(), "account:ListRegions") {
		t.Error("--regions still asks for account:ListRegions")
	}
}
