package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/scanner/config"
)

const configUsage = `Usage: keyward config check [--user] [FILE]

Checks keyward's configuration and prints the first problem as
FILE:LINE: KEY: PROBLEM. Without FILE it checks .keyward.toml at the
repository root, the user config and the baseline, whichever exist; with
FILE, that file as a project config (--user: as a user config).

Project config (.keyward.toml at the repository root, committed):
  baseline = ".keyward-baseline.json"   baseline file, relative to the root
  disabled_rules = ["aws-session-token"] built-in rules not to run

  [[rules]]                   a custom rule
  id = "acme-api-key"         unique; not a built-in ID
  description = "ACME API key"
  regex = '''acme_(?P<secret>[a-z0-9]{32})'''   group "secret" is optional
  keywords = ["acme_"]        the regex runs only where one occurs
  entropy = 3.5               bits per byte below which a match is ignored
  paths = ["config/**"]       only in these paths
  [rules.allowlist]           same keys as [[allowlist]] except rules

  [[allowlist]]               suppress findings meeting any condition
  description = "fixtures"    shown with each suppression
  rules = ["aws-access-key-id"]  only these rules (default: all)
  paths = ["testdata/", "**/*_test.go"]   globs on repository paths
  regexes = ['''^AKIA.*TEST''']  regexps on the matched credential
  lines = ['''fake-key''']    regexps on the finding's line
  secret_sha256 = ["..."]     a finding's secret_sha256 from a JSON report

User config ($XDG_CONFIG_HOME/keyward/config.toml, else
~/.config/keyward/config.toml; personal, never about detection):
  color = "auto"              auto, always or never
  format = "text"             default --format: text, json or sarif

Any other key is an error, so a typo cannot switch a safeguard off.

Examples:
  keyward config check
  keyward config check ci/keyward.toml
  keyward config check --user ~/.config/keyward/config.toml

Exit codes:
  0  valid (or no config to check)
  2  invalid, or unreadable
`

// configOptions are the flags of 'keyward config check'.
type configOptions struct {
	user bool
}

func (o *configOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.user, "user", false, "check FILE as a user config")
}

func runConfig(ctx context.Context, e *env, args []string) error {
	var o configOptions
	fs := newFlagSet("config")
	o.addFlags(fs)
	if err := parseFlags(fs, configUsage, e, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] != "check" {
		return usagef("run 'keyward config check [FILE]'", "config needs a subcommand: check")
	}
	rest = rest[1:]
	switch {
	case len(rest) > 1:
		return usagef("check one file at a time", "config check takes at most one FILE")
	case len(rest) == 1:
		data, err := readConfig(rest[0])
		if err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		if o.user {
			if _, err := config.ParseUserConfig(data, rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: ok (user config)\n", rest[0])
			return nil
		}
		c, err := config.ParseConfig(data, rest[0])
		if err != nil {
			if errors.Is(err, config.ErrWrongFile) {
				return usagef("is this a user config? check it with --user", "%v", err)
			}
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ok (%s)\n", rest[0], describeConfig(c))
		return nil
	case o.user:
		return usagef("name the file: keyward config check --user FILE", "--user needs a FILE")
	}
	sc, err := loadScanConfig(e, "")
	if err != nil {
		return err
	}
	if sc.configPath == "" && sc.userPath == "" {
		fmt.Fprintf(e.stdout, "no config: neither %s nor %s exists\n",
			displayPath(filepath.Join(sc.root, projectConfigFile)), userConfigPath(e))
		return nil
	}
	if sc.configPath != "" {
		fmt.Fprintf(e.stdout, "%s: ok (%s)\n", displayPath(sc.configPath), describeConfig(sc.project))
	}
	if sc.userPath != "" {
		fmt.Fprintf(e.stdout, "%s: ok (user config)\n", displayPath(sc.userPath))
	}
	// The baseline the scan would use is part of the configuration too.
	path, required := sc.baselinePath("", false)
	b, err := loadBaseline(path, required)
	if err != nil {
		return err
	}
	switch {
	case b != nil:
		fmt.Fprintf(e.stdout, "%s: ok (%d %s)\n", displayPath(path), len(b.Entries), plural(int64(len(b.Entries)), "entry", "entries"))
	case sc.project.Baseline != "":
		fmt.Fprintf(e.stdout, "%s: not created yet ('keyward baseline create'); scans report everything\n", displayPath(path))
	}
	return nil
}

// describeConfig summarises what a valid config does.
func describeConfig(c *config.Config) string {
	n := func(k int, one, many string) string { return fmt.Sprintf("%d %s", k, plural(int64(k), one, many)) }
	parts := []string{
		n(len(c.Rules), "custom rule", "custom rules"),
		n(len(c.Allowlists), "allowlist", "allowlists"),
		n(len(c.Disabled), "disabled rule", "disabled rules"),
	}
	if c.Baseline != "" {
		parts = append(parts, "baseline "+c.Baseline)
	}
	return strings.Join(parts, ", ")
}
