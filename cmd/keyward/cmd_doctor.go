package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/hooks"
	"github.com/keyward/keyward/responder"
)

const doctorUsage = `Usage: keyward doctor [--aws] [--profile NAME] [--config FILE]

Checks that keyward can do its job here: the binary the hooks will run is
on PATH, git is there, this repository's hooks are installed and current,
the configuration is valid, and the AWS credentials 'keyward respond' would
use can be found. It contacts AWS only with --aws, which asks STS who those
credentials belong to.

Examples:
  keyward doctor
  keyward doctor --aws --profile security

Exit codes: 0 healthy (warnings allowed), 1 something is broken, 2 error.
`

// doctorOptions are the flags of 'keyward doctor'.
type doctorOptions struct {
	aws     bool
	profile string
	config  string
	// deploy checks a deploy/aws deployment (issue 11).
	deploy doctorDeployOptions
}

func (o *doctorOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.aws, "aws", false, "also ask STS who the operator's credentials belong to (contacts AWS)")
	fs.StringVar(&o.profile, "profile", "", "the AWS profile 'keyward respond --profile' would use")
	fs.StringVar(&o.config, "config", "", "check this config file instead of the repository's .keyward.toml")
	o.deploy.addFlags(fs)
}

// checkLevel orders a check's outcome; the worst decides the exit code.
type checkLevel int

const (
	checkOK checkLevel = iota
	checkWarn
	checkFail
)

func (l checkLevel) String() string {
	return [...]string{"ok", "warn", "FAIL"}[l]
}

// check is one line of the doctor's report, with the fix when there is one.
type check struct {
	level         checkLevel
	name, message string
	hint          string
}

func runDoctor(ctx context.Context, e *env, args []string) error {
	var o doctorOptions
	fs := newFlagSet("doctor")
	o.addFlags(fs)
	if err := parseFlags(fs, doctorUsage+doctorDeployUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("run 'keyward doctor --help' for usage", "doctor takes no arguments")
	}
	if !o.aws && o.deploy.used() {
		return usagef("a deployment is checked against AWS: add --aws", "--assume-role, --member-accounts, --report-bucket and --topic need --aws")
	}
	checks := []check{checkBinary(), checkGit(ctx)}
	checks = append(checks, checkHooks(ctx, e)...)
	checks = append(checks, checkConfig(e, o.config), checkAWS(ctx, o))
	if o.aws {
		checks = append(checks, o.deploy.checkDeployment(ctx, o.profile)...)
	}

	worst := checkOK
	st := styleFor(e, e.stdout)
	for _, c := range checks {
		label := fmt.Sprintf("%-4s", c.level)
		if c.level == checkFail {
			label = st.bad.Render(label)
		}
		fmt.Fprintf(e.stdout, "%s  %-7s %s\n", label, c.name, c.message)
		if c.hint != "" {
			fmt.Fprintf(e.stdout, "               %s\n", st.dim.Render("fix: "+c.hint))
		}
		worst = max(worst, c.level)
	}
	if worst == checkFail {
		return errFindings
	}
	return nil
}

// checkBinary finds the keyward that hooks and CI will run: the first on
// PATH, which should be this one.
func checkBinary() check {
	self, _ := os.Executable()
	onPath, err := exec.LookPath("keyward")
	if err != nil {
		return check{checkFail, "keyward", "not on PATH: installed hooks fall back to the path recorded at install time, and CI recipes call 'keyward'",
			"add the install directory to PATH (./install.sh prints it), e.g. export PATH=\"$(go env GOPATH)/bin:$PATH\""}
	}
	abs, _ := filepath.Abs(onPath)
	if self != "" && !sameFile(abs, self) {
		return check{checkWarn, "keyward", fmt.Sprintf("PATH runs %s, not this binary (%s); they may differ in version", abs, self),
			"reinstall with ./install.sh, or put one keyward first on PATH"}
	}
	return check{checkOK, "keyward", fmt.Sprintf("%s (%s) is the one on PATH", abs, keywardVersion()), ""}
}

func checkGit(ctx context.Context) check {
	out, err := exec.CommandContext(ctx, "git", "--version").Output()
	if err != nil {
		return check{checkFail, "git", "not found: hooks, --staged, --range and --history need it", "install git"}
	}
	return check{checkOK, "git", strings.TrimSpace(string(out)), ""}
}

// checkHooks reports this repository's hooks: missing ones are a warning
// (CI-only use is legitimate), hooks keyward cannot run behind are too.
func checkHooks(ctx context.Context, e *env) []check {
	rs, err := hooks.Status(ctx, hooks.Git{}, keywardBinary())
	switch {
	case errors.Is(err, hooks.ErrNotRepo):
		return []check{{checkOK, "hooks", "not inside a git repository; nothing to check", ""}}
	case err != nil:
		return []check{{checkFail, "hooks", err.Error(), ""}}
	}
	var out []check
	var current []string
	for _, h := range rs.Hooks {
		switch {
		case h.State == hooks.StateCurrent:
			current = append(current, h.Hook)
		case h.State == hooks.StateMissing:
			out = append(out, check{checkWarn, "hooks", h.Hook + ": not installed in " + quotePath(rs.Dir), "keyward hook install"})
		case h.State == hooks.StateOutdated:
			out = append(out, check{checkWarn, "hooks", h.Hook + ": installed by another keyward or for another binary", "keyward hook install (refreshes it)"})
		case h.State == hooks.StateForeign && h.Framework && frameworkRunsKeyward(h.Hook):
			current = append(current, h.Hook+" (pre-commit framework)")
		case h.State == hooks.StateForeign && h.Framework:
			out = append(out, check{checkWarn, "hooks", h.Hook + ": managed by the pre-commit framework, whose " + frameworkConfig + " does not run keyward", "add '- id: " + frameworkIDs[h.Hook] + "' under keyward's repo in " + frameworkConfig + " (see .pre-commit-hooks.yaml)"})
		case h.State == hooks.StateForeign:
			out = append(out, check{checkWarn, "hooks", h.Hook + ": a hook keyward did not write is there, so keyward does not run", "keyward hook install --chain (keeps it, runs it after keyward)"})
		}
	}
	if rs.Covered {
		if dir, err := hooks.GlobalDir(e.getenv); err == nil {
			if gs, err := hooks.StatusGlobal(ctx, hooks.Git{}, dir, keywardBinary()); err == nil && len(gs.Unforwarded) > 0 {
				out = append(out, check{checkWarn, "hooks", "the global hooks do not forward " + strings.Join(gs.Unforwarded, ", ") + ", so repositories' own hooks of these names do not run", "keyward hook install --global"})
			}
		}
	}
	if len(current) > 0 {
		where := quotePath(rs.Dir)
		if rs.Covered {
			where += " (global hooks)"
		}
		out = append([]check{{checkOK, "hooks", strings.Join(current, ", ") + " installed and current in " + where, ""}}, out...)
	}
	return out
}

func checkConfig(e *env, path string) check {
	sc, err := loadScanConfig(e, path)
	if err != nil {
		return check{checkFail, "config", err.Error(), "keyward config check shows the same error; fix the file it names"}
	}
	var parts []string
	if sc.configPath != "" {
		parts = append(parts, fmt.Sprintf("%s valid (%d custom rules, %d allowlists)",
			displayPath(sc.configPath), len(sc.project.Rules), len(sc.project.Allowlists)))
	} else {
		parts = append(parts, "no .keyward.toml (built-in rules)")
	}
	if sc.userPath != "" {
		parts = append(parts, "user config "+displayPath(sc.userPath)+" valid")
	}
	return check{checkOK, "config", strings.Join(parts, "; "), ""}
}

// checkAWS finds the operator's credentials without contacting AWS, and
// with --aws asks STS whose they are. Missing credentials are a warning:
// only 'keyward respond --execute' needs them.
func checkAWS(ctx context.Context, o doctorOptions) check {
	src, err := responder.DescribeOperator(ctx, o.profile)
	if err != nil {
		return check{checkFail, "aws", err.Error(), "set AWS_PROFILE or pass --profile NAME"}
	}
	if src.Kind == "" || src.Kind == responder.SourceInstance {
		msg := "no operator credentials in the environment or the AWS config files"
		if src.Kind != "" {
			msg += "; the SDK would try " + src.Kind
		}
		return check{checkWarn, "aws", msg + "; 'keyward respond --execute' needs some", "aws configure, aws sso login, or AWS_PROFILE"}
	}
	desc := src.Kind
	if src.Profile != "" {
		desc += ", profile " + src.Profile
	}
	if src.Detail != "" {
		desc += ", " + src.Detail
	}
	if !o.aws {
		return check{checkOK, "aws", "operator credentials from " + desc + " (not contacted; --aws checks them)", ""}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cfg, err := loadOperatorConfig(ctx, respondOptions{profile: o.profile})
	if err != nil {
		return check{checkFail, "aws", err.Error(), ""}
	}
	account, arn, err := responder.OperatorIdentity(ctx, cfg)
	if err != nil {
		return check{checkFail, "aws", "operator credentials from " + desc + " do not work: " + err.Error(), "refresh them (aws sso login, new keys) or choose another --profile"}
	}
	return check{checkOK, "aws", fmt.Sprintf("operator is %s in account %s (from %s)", arn, account, desc), ""}
}
