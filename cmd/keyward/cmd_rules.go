package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/patterns"
)

const rulesUsage = `Usage: keyward rules [--format text|json]

Lists every built-in rule with its ID and description. The IDs are stable:
baselines, allowlists, disabled_rules and SARIF results refer to them.

The AWS rules are keyward's flagship: a finding of an access key ID (with
its secret, when one is nearby) can be checked with 'keyward verify' and
contained with 'keyward respond'. Every other rule is detection only:
keyward reports the credential, redacted, and never contacts its provider.

Examples:
  keyward rules                    the table, for people
  keyward rules --format json      the same, for scripts
  keyward rules | grep github      the IDs to put in disabled_rules

Exit codes:
  0  listed
  2  usage error
`

// rulesOptions are the flags of 'keyward rules'.
type rulesOptions struct {
	format string
}

func (o *rulesOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
}

// ruleInfo is one rule as 'keyward rules' shows it. The JSON field names
// are a stable interface like the scan report's: added to, never renamed.
type ruleInfo struct {
	ID          string   `json:"id"`
	Description string   `json:"description"`
	Family      string   `json:"family"`
	Keywords    []string `json:"keywords"`
	// Verified and Responded say whether 'keyward verify' and 'keyward
	// respond' act on the rule's findings. Only an access key ID can be
	// checked against STS or disabled: a lone secret or token names no key.
	Verified  bool `json:"verified"`
	Responded bool `json:"responded"`
}

type rulesReport struct {
	SchemaVersion int        `json:"schema_version"`
	Rules         []ruleInfo `json:"rules"`
}

func listRules() []ruleInfo {
	var out []ruleInfo
	for _, r := range patterns.All() {
		ri := ruleInfo{ID: r.ID, Description: r.Description, Family: "other", Keywords: append([]string{}, r.Keywords...)}
		if patterns.IsAWS(r.ID) {
			ri.Family = "aws"
			ri.Verified = r.ID == patterns.RuleAWSAccessKeyID
			ri.Responded = ri.Verified
		}
		out = append(out, ri)
	}
	return out
}

func runRules(ctx context.Context, e *env, args []string) error {
	var o rulesOptions
	fs := newFlagSet("rules")
	o.addFlags(fs)
	if err := parseFlags(fs, rulesUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("run 'keyward rules' with no arguments", "rules takes no arguments, got %q", fs.Arg(0))
	}
	rules := listRules()
	switch o.format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rulesReport{SchemaVersion: 1, Rules: rules}); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	case "text":
		if _, err := fmt.Fprint(e.stdout, rulesText(rules, styleFor(e, e.stdout))); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	return usagef("use --format text or json", "%v %q", errUnknownFormat, o.format)
}

// rulesText lays the rules out in two sections, AWS first, with what
// keyward does about each AWS finding written out rather than coloured.
func rulesText(rules []ruleInfo, st style) string {
	width := 0
	for _, r := range rules {
		width = max(width, len(r.ID))
	}
	var b strings.Builder
	section := func(title, family string, action func(ruleInfo) string) {
		b.WriteString(st.head.Render(title) + "\n")
		for _, r := range rules {
			if r.Family != family {
				continue
			}
			fmt.Fprintf(&b, "  %-*s  %s%s\n", width, r.ID, action(r), r.Description)
		}
	}
	section("AWS rules (flagship):", "aws", func(r ruleInfo) string {
		if r.Verified && r.Responded {
			return "[verify, respond]  "
		}
		return "[detect]           "
	})
	b.WriteString("\n")
	section("Other rules (detection only):", "other", func(ruleInfo) string { return "" })
	b.WriteString("\nAn AWS secret or session token found next to its key ID is reported with\n" +
		"the key ID's finding, and so is verified and responded to with it.\n")
	return b.String()
}
