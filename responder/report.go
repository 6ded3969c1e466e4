package responder

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyward/keyward/scanner/regfile"
)

// ReportVersion is the incident report's JSON schema version.
const ReportVersion = 1

// maxReportEvents bounds the CloudTrail events listed in the Markdown
// report; the JSON report keeps all that were collected.
const maxReportEvents = 100

// Location is where a leaked key was found.
type Location struct {
	Path   string `json:"path"`
	Line   int    `json:"line,omitempty"`
	Commit string `json:"commit,omitempty"`
	Author string `json:"author,omitempty"`
	Date   string `json:"date,omitempty"`
}

// ManualChecks are the checks AWS asks for after an exposure, which no API
// call can do for you (AWS Knowledge Center, "What do I do if I notice
// unauthorized activity in my AWS account?").
var ManualChecks = []string{
	"Review the bill (Billing console, Bills and Cost Explorer) for charges or services you do not recognise.",
	"Look for resources you did not create in every region, including regions you never use: EC2 instances, spot requests, Lambda functions, S3 buckets, ECS/EKS clusters, SageMaker.",
	"Look for IAM users, roles, groups, access keys and policies you did not create (iam:ListUsers, ListRoles, the credential report).",
	"Check IAM users' console passwords (login profiles) and reset any that may be known.",
	"Make sure the root user has MFA enabled, and change the root password.",
	"Check for AWS Support cases and Health events about this account, and reply to any AWS notice.",
}

// Incident is the content of the incident report. It holds no secret.
type Incident struct {
	Version      int          `json:"schema_version"`
	KeyID        string       `json:"key_id"`
	Kind         string       `json:"key_kind"`
	Mode         string       `json:"mode"` // "plan" or "execute"
	Started      time.Time    `json:"started"`
	Finished     time.Time    `json:"finished"`
	Outcome      string       `json:"outcome"`
	Error        string       `json:"error,omitempty"`
	Stop         *StopError   `json:"stop,omitempty"`
	Verdict      *Verdict     `json:"verdict,omitempty"`
	Locations    []Location   `json:"found_at,omitempty"`
	Plan         *Plan        `json:"plan,omitempty"`
	Steps        []StepResult `json:"steps,omitempty"`
	Facts        Facts        `json:"facts"`
	ManualChecks []string     `json:"manual_checks"`
	FollowUps    []string     `json:"follow_ups,omitempty"`
	// Remaining is why the outcome is not "contained": what is still
	// live, unverified or left for a human.
	Remaining []string `json:"remaining,omitempty"`
	// HumanActions are what only a human can do, with exact commands.
	HumanActions []HumanAction `json:"human_actions,omitempty"`
}

// PlanIncident is the report of a dry run.
func PlanIncident(p *Plan, started time.Time) *Incident {
	inc := &Incident{KeyID: p.KeyID, Kind: p.Kind, Mode: "plan", Started: started, Finished: time.Now().UTC(),
		Outcome: "planned: nothing changed", Plan: p, Stop: p.Stop, Verdict: &p.Verdict, ManualChecks: ManualChecks,
		Facts: Facts{KeyAccount: p.KeyAccount, ARN: p.Verdict.ARN, UserName: p.UserName,
			OperatorARN: p.OperatorARN, OperatorAccount: p.OperatorAccount, UserKeys: p.UserKeys}}
	if p.Stop != nil {
		inc.Outcome = "stopped: " + string(p.Stop.Kind)
	}
	return inc
}

func followUps(f *Facts, c Credential) []string {
	var out []string
	if !f.RevokedBefore.IsZero() && f.DenyRemoved.IsZero() {
		who := "user " + f.UserName
		if f.RoleName != "" {
			who = "role " + f.RoleName
		}
		until := f.RevokedBefore
		if len(f.Roles) > 0 {
			who += " and the roles it assumed"
			if f.RolesRevokedBefore.After(until) {
				until = f.RolesRevokedBefore
			}
		}
		out = append(out, fmt.Sprintf("Optional hygiene: after %s, remove the inline policy %s from %s (every session it matches has expired by then; until then it also blocks legitimate sessions issued before the response): keyward respond --key-id %s --cleanup --execute",
			until.Add(SessionDenyHold).Format(time.RFC3339), RevokePolicyName, who, c.KeyID))
	}
	if t := f.Trail; t != nil && t.RegionSource == RegionsFromDefault {
		out = append(out, "Opt-in regions were not searched ("+t.RegionsWhy+"): list the account's enabled regions (aws account list-regions) and search CloudTrail event history there for "+strings.Join(t.KeysFollowed, ", ")+".")
	}
	for _, r := range f.Roles {
		out = append(out, "Review role "+r+": the leaked key assumed it; its older sessions are denied by "+RevokePolicyName+".")
	}
	for _, it := range f.Persistence {
		if it.Created && (it.Kind == "user" || it.Kind == "role") {
			out = append(out, "Once the evidence is kept, delete the "+it.Kind+" "+it.Target+" the attacker created (it is disabled by "+DenyAllPolicyName+").")
		}
	}
	if f.NewKeyID != "" {
		step := "Deploy the new key " + f.NewKeyID + " where the leaked one was used"
		if f.KeyStatus != KeyAbsent {
			step += ", then delete the leaked key (keyward respond --delete)"
		}
		out = append(out, step+".")
		if slices.ContainsFunc(f.UserPolicies, isQuarantineARN) {
			out = append(out, "The user still carries the quarantine policy, which also restricts the new key (S3 reads, ECR, PassRole and more): after a re-check that finds nothing live, keyward respond --key-id "+c.KeyID+" --execute --release-quarantine.")
		}
	}
	if f.AWSQuarantine != "" {
		out = append(out, f.AWSQuarantine+" was attached before keyward acted, likely by AWS: look for an open AWS Support case about this key and answer it.")
	}
	out = append(out, "Remove the key from the repository and its history, and from any other copy (CI variables, images, backups).")
	return out
}

// WriteReport writes the incident as Markdown and JSON into dir, each 0600,
// and returns their paths. A re-run of the same incident replaces them
// atomically.
func WriteReport(dir string, inc *Incident) (mdPath, jsonPath string, err error) {
	inc.Version = ReportVersion
	base := filepath.Join(dir, "incident-"+inc.KeyID)
	js, err := json.MarshalIndent(inc, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("write report: %w", err)
	}
	if err := WriteFileAtomic(base+".json", append(js, '\n')); err != nil {
		return "", "", err
	}
	if err := WriteFileAtomic(base+".md", []byte(inc.Markdown())); err != nil {
		return "", "", err
	}
	return base + ".md", base + ".json", nil
}

// maxReportFile bounds an incident report read back: the JSON keeps at
// most maxTrailEvents events, a few hundred kilobytes.
const maxReportFile = 16 << 20

// ReadReport reads back the JSON incident report WriteReport wrote for
// keyID into dir, so that a later step (the cleanup) can add to it rather
// than lose what the response recorded; fs.ErrNotExist if there is none.
func ReadReport(dir, keyID string) (*Incident, error) {
	// Bounded and non-blocking (regfile.Read): a FIFO or a symlink to
	// /dev/zero in the report's place is refused, not waited on or read
	// without end.
	data, err := regfile.Read(filepath.Join(dir, "incident-"+keyID+".json"), maxReportFile)
	if errors.Is(err, regfile.ErrTooLarge) {
		return nil, fmt.Errorf("read report: larger than %d bytes", maxReportFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var inc Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if inc.KeyID != keyID {
		return nil, fmt.Errorf("read report: it is for key %s, not %s", inc.KeyID, keyID)
	}
	return &inc, nil
}

// Markdown renders the incident for people.
func (inc *Incident) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	p("# Incident report: leaked AWS access key %s\n\n", inc.KeyID)
	p("| | |\n|---|---|\n")
	p("| Key | `%s` (%s) |\n", inc.KeyID, inc.Kind)
	p("| Mode | %s |\n", inc.Mode)
	p("| Outcome | %s |\n", inc.Outcome)
	p("| Started | %s |\n| Finished | %s |\n", ts(inc.Started), ts(inc.Finished))
	f := inc.Facts
	if f.KeyAccount != "" {
		p("| Account | %s |\n", f.KeyAccount)
	}
	if f.ARN != "" {
		p("| Principal | `%s` |\n", f.ARN)
	}
	if f.UserName != "" {
		p("| IAM user | %s |\n", f.UserName)
	}
	if f.OperatorARN != "" {
		p("| Operator | `%s` |\n", f.OperatorARN)
	}
	if f.LastUsed != "" {
		p("| Last used (IAM) | %s |\n", f.LastUsed)
	}
	if f.NewKeyID != "" {
		p("| Replacement key | `%s` (secret not recorded here) |\n", f.NewKeyID)
	}
	if inc.Error != "" {
		p("\n**Error:** %s\n", inc.Error)
	}
	if len(inc.Remaining) > 0 {
		p("\n## Not contained\n\nThe outcome is not \"contained\" because:\n\n")
		for _, r := range inc.Remaining {
			p("- %s\n", r)
		}
	}
	if inc.Outcome == "awaiting re-check" && !f.RecheckAfter.IsZero() {
		p("\n**CloudTrail delivers events late** (about 5 minutes on average): everything it showed is contained, but run `keyward respond --key-id %s --recheck --execute` after %s before calling this contained.\n", inc.KeyID, ts(f.RecheckAfter))
	}
	if len(inc.HumanActions) > 0 {
		p("\n## What only a human can do\n\n")
		for _, h := range inc.HumanActions {
			p("- **%s**: %s\n", h.Subject, h.What)
			for _, c := range h.Commands {
				p("  - `%s`\n", c)
			}
		}
	}
	if len(f.Persistence) > 0 {
		p("\n## Persistence\n\nWhat the leaked key, or a credential derived from it, created or changed (from CloudTrail), and what became of it.\n\n| Time | Event | What | By | Created by the attacker | What keyward did | What remains |\n|---|---|---|---|---|---|---|\n")
		for _, it := range f.Persistence {
			remains := it.Remaining
			if remains == "" {
				remains = "nothing"
			}
			p("| %s | %s | %s %s | %s | %v | %s | %s |\n", ts(it.At), it.Event, it.Kind, mdCell(it.Target), it.By, it.Created, mdCell(orDash(it.Action)), mdCell(remains))
		}
	}
	if inc.Stop != nil {
		p("\n## Stopped\n\n%s\n\n", inc.Stop.Reason)
		for _, s := range inc.Stop.Instructions {
			p("- %s\n", s)
		}
	}
	if len(inc.Locations) > 0 {
		p("\n## Where it was found\n\n| Path | Line | Commit | Author | Date |\n|---|---|---|---|---|\n")
		for _, l := range inc.Locations {
			p("| `%s` | %d | %s | %s | %s |\n", l.Path, l.Line, l.Commit, l.Author, l.Date)
		}
	}
	if v := inc.Verdict; v != nil {
		p("\n## Validation\n\n%s", v.Status)
		if v.Reason != "" {
			p(": %s", v.Reason)
		}
		if v.Code != "" {
			p(" (`%s`)", v.Code)
		}
		p("\n")
	}
	if inc.Plan != nil {
		p("\n## Plan (nothing was changed)\n\n")
		for i, s := range inc.Plan.Steps {
			p("%d. **%s** (as %s", i+1, s.Title, s.Signer)
			if s.Account != "" {
				p(", account %s", s.Account)
			}
			if s.User != "" {
				p(", user %s", s.User)
			}
			p(")\n")
			for _, c := range s.Calls {
				p("   - `%s`\n", c)
			}
			if len(s.Permissions) > 0 {
				p("   - needs: %s\n", strings.Join(s.Permissions, ", "))
			}
			if s.Note != "" {
				p("   - %s\n", s.Note)
			}
		}
		for _, n := range inc.Plan.Notes {
			p("\n> %s\n", n)
		}
	}
	if len(inc.Steps) > 0 {
		p("\n## Timeline\n\n| Step | Status | Started | Finished | Calls (request IDs) | Detail |\n|---|---|---|---|---|---|\n")
		for _, s := range inc.Steps {
			status := string(s.Status)
			if s.Resumed {
				status += " (earlier run)"
			}
			var calls []string
			for _, c := range s.Calls {
				x := c.API
				if c.RequestID != "" {
					x += " `" + c.RequestID + "`"
				}
				if c.Error != "" {
					x += " " + c.Error
				}
				calls = append(calls, x)
			}
			if len(calls) > 6 {
				calls = append(calls[:6], fmt.Sprintf("and %d more", len(calls)-6))
			}
			detail := s.Detail
			if s.Error != "" {
				detail = "error: " + s.Error
			}
			p("| %s | %s | %s | %s | %s | %s |\n", s.ID, status, ts(s.Started), ts(s.Finished), mdCell(strings.Join(calls, "<br>")), mdCell(detail))
		}
	}
	if t := f.Trail; t != nil {
		p("\n## CloudTrail\n\nSearched %s to %s in %d regions (%s) for %s. CloudTrail's view ends at %s: events it had not yet delivered are not here", ts(t.Since), ts(t.Until), len(t.Regions), strings.Join(t.Regions, ", "), strings.Join(t.KeysFollowed, ", "), ts(t.Until))
		if !f.Rechecked.IsZero() {
			p(" (a re-check searched up to %s)", ts(f.Rechecked))
		}
		p(".\n\n")
		if t.RegionSource != "" {
			rs := RegionSet{Source: t.RegionSource, Why: t.RegionsWhy}
			if rs.Fallback() {
				p("**Warning:** %s. Search CloudTrail event history in the account's opt-in regions by hand.\n\n", rs.Describe())
			} else {
				p("- Regions searched: %s\n", strings.TrimPrefix(rs.Describe(), "regions: "))
			}
		}
		p("- Events: %d (first use %s, last use %s, keyward's own calls left out, recognised by their request IDs)\n", len(t.Events), ts(t.First), ts(t.Last))
		p("- Event names: %s\n", counts(t.EventNames))
		p("- Regions: %s\n", counts(t.EventRegions))
		p("- Source IPs: %s\n", list(t.SourceIPs))
		p("- User agents: %s\n", list(t.UserAgents))
		if len(t.Errors) > 0 {
			p("- Errors: %s\n", counts(t.Errors))
		}
		if len(t.DerivedKeys) > 0 {
			p("- Temporary keys minted from it: %s\n", strings.Join(t.DerivedKeys, ", "))
		}
		if len(t.RolesAssumed) > 0 {
			p("- Roles assumed: %s\n", strings.Join(t.RolesAssumed, ", "))
		}
		if len(t.CreatedKeys) > 0 {
			p("- Access keys it created (investigated like the leaked key): %s\n", strings.Join(t.CreatedKeys, ", "))
		}
		p("\nEvents marked * are keyward's own validation calls.\n\n| Time | Event | Source | Region | Key | Source IP | User agent | Error |\n|---|---|---|---|---|---|---|---|\n")
		for i, e := range t.Events {
			if i == maxReportEvents {
				p("\n%d more events in the JSON report.\n", len(t.Events)-maxReportEvents)
				break
			}
			mark := ""
			if e.Responder {
				mark = " *"
			}
			p("| %s | %s%s | %s | %s | %s | %s | %s | %s |\n", ts(e.Time), e.Name, mark, e.Source, e.Region, e.AccessKeyID, e.SourceIP, mdCell(e.UserAgent), e.ErrorCode)
		}
	}
	p("\n## Manual checks AWS asks for\n\n")
	for _, c := range inc.ManualChecks {
		p("- [ ] %s\n", c)
	}
	if len(inc.FollowUps) > 0 {
		p("\n## Follow-ups\n\n")
		for _, c := range inc.FollowUps {
			p("- [ ] %s\n", c)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mdCell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s (%d)", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
