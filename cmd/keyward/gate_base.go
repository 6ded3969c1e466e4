package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/config"
)

// gateConfig is the configuration a gate checks with. It comes from the
// base the commits are checked against (the target branch of a pull
// request, the receiving ref of a push), never from the commits under
// test: otherwise a pull request adding `[[allowlist]] paths = ["**"]`
// would pass its own gate (issue 9). The base's own .keyward.toml can set
// allow_config_changes = true to let changes take effect in the check.
type gateConfig struct {
	// from names the revision the config was read from, for messages.
	from string
	// args are the scan flags that select it.
	args []string
	// changed lists the config files the checked commits change.
	changed []string
	// ignored says changed files were not used (the base does not allow
	// config changes).
	ignored bool
	dir     string
}

// cleanup removes the temporary copies.
func (c *gateConfig) cleanup() {
	if c != nil && c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// gitShow reads path at rev in the repository at dir; ok is false when it
// does not exist there.
func gitShow(ctx context.Context, dir, rev, path string) (data []byte, ok bool, err error) {
	spec := rev + ":" + path
	chk := exec.CommandContext(ctx, "git", "cat-file", "-e", spec)
	chk.Dir = dir
	if chk.Run() != nil {
		return nil, false, ctx.Err()
	}
	cmd := exec.CommandContext(ctx, "git", "cat-file", "blob", spec)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", spec, err)
	}
	if len(out) > maxConfigSize*64 {
		return nil, false, fmt.Errorf("read %s: too large", spec)
	}
	return out, true, nil
}

// gitChanged lists which of paths differ between base and each head.
func gitChanged(ctx context.Context, dir, base string, heads, paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, h := range heads {
		cmd := exec.CommandContext(ctx, "git", append([]string{"diff", "--no-renames", "--name-only", base, h, "--"}, paths...)...)
		cmd.Dir = dir
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("compare config with %s: %w", base, err)
		}
		for _, p := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if p != "" && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// loadGateConfig prepares the scan flags for the configuration at base
// (empty: there is no base, so built-in rules and no baseline), comparing
// it with heads. When the base allows config changes and heads changes
// them, the config of head (the first of heads) is used instead.
func loadGateConfig(ctx context.Context, dir, base string, heads []string) (*gateConfig, error) {
	gc := &gateConfig{from: base}
	if base == "" {
		gc.from = "built-in defaults (there is no base to read .keyward.toml from)"
	}
	rev := base
	cfg, baseline, err := readRevConfig(ctx, dir, rev)
	if err != nil {
		return nil, err
	}
	if base != "" && len(heads) > 0 {
		gc.changed, err = gitChanged(ctx, dir, base, heads, []string{projectConfigFile, baseline})
		if err != nil {
			return nil, err
		}
		if len(gc.changed) > 0 && cfg.allowChanges {
			rev = heads[0]
			gc.from = heads[0]
			if cfg, baseline, err = readRevConfig(ctx, dir, rev); err != nil {
				return nil, err
			}
		} else if len(gc.changed) > 0 {
			gc.ignored = true
		}
	}
	gc.dir, err = os.MkdirTemp("", "keyward-gate-")
	if err != nil {
		return nil, fmt.Errorf("prepare gate config: %w", err)
	}
	cpath := filepath.Join(gc.dir, projectConfigFile)
	if err := os.WriteFile(cpath, cfg.data, 0o600); err != nil {
		gc.cleanup()
		return nil, fmt.Errorf("prepare gate config: %w", err)
	}
	gc.args = []string{"--config", cpath}
	data, ok, err := []byte(nil), false, error(nil)
	if rev != "" {
		data, ok, err = gitShow(ctx, dir, rev, baseline)
	}
	switch {
	case err != nil:
		gc.cleanup()
		return nil, err
	case ok:
		bpath := filepath.Join(gc.dir, "baseline.json")
		if err := os.WriteFile(bpath, data, 0o600); err != nil {
			gc.cleanup()
			return nil, fmt.Errorf("prepare gate config: %w", err)
		}
		gc.args = append(gc.args, "--baseline", bpath)
	default:
		gc.args = append(gc.args, "--no-baseline")
	}
	return gc, nil
}

// revConfig is a .keyward.toml read from a revision.
type revConfig struct {
	data         []byte
	allowChanges bool
}

// readRevConfig reads and checks .keyward.toml at rev, and says where its
// baseline is. A base whose config is broken fails the gate: guessing could
// only check with rules the project did not ask for.
func readRevConfig(ctx context.Context, dir, rev string) (revConfig, string, error) {
	baseline := scanner.DefaultBaselineFile
	if rev == "" {
		return revConfig{}, baseline, nil
	}
	data, ok, err := gitShow(ctx, dir, rev, projectConfigFile)
	if err != nil || !ok {
		return revConfig{}, baseline, err
	}
	c, err := config.ParseConfig(data, rev+":"+projectConfigFile)
	if err != nil {
		return revConfig{}, "", fmt.Errorf("the base's configuration: %w", err)
	}
	if c.Baseline != "" {
		baseline = c.Baseline
	}
	return revConfig{data: data, allowChanges: c.AllowConfigChanges}, baseline, nil
}

// explain says which configuration the gate used, when that matters: the
// commits change it.
func (gc *gateConfig) explain(e *env) {
	if gc == nil || len(gc.changed) == 0 {
		return
	}
	if gc.ignored {
		warnf(e.stderr, "these commits change %s; the check used the configuration of %s instead, so a change that would hide a finding cannot pass its own gate",
			strings.Join(gc.changed, " and "), gc.from)
		hintf(e.stderr, "the change takes effect once it is merged; to let such changes count in the check, set allow_config_changes = true in the base's %s", projectConfigFile)
		return
	}
	fmt.Fprintf(e.stderr, "keyward: these commits change %s; the base allows config changes (allow_config_changes), so the check used theirs\n", strings.Join(gc.changed, " and "))
}
