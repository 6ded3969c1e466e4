package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/scanner"
	"github.com/keyward/keyward/scanner/config"
)

// Config file names.
const (
	// projectConfigFile sits at the repository root, committed, so every
	// clone, hook and CI job scans the same way.
	projectConfigFile = ".keyward.toml"
	// maxConfigSize bounds a config read into memory; real ones are a few
	// kilobytes, and --config may be pointed at the wrong file.
	maxConfigSize = 1 << 20
)

// scanConfig is everything the configs say about a scan, resolved against
// the repository: the scan command and the baseline command both use it.
type scanConfig struct {
	// root is the repository root, or the working directory outside one;
	// config paths and baseline paths are relative to it.
	root string
	// inRepo is whether root holds a .git.
	inRepo bool
	// configPath is the project config read, "" if there was none.
	configPath string
	project    *config.Config
	user       *config.UserConfig
	// userPath is the user config read, "" if there was none.
	userPath string
}

// loadScanConfig finds and parses the configs: path (from --config) or
// .keyward.toml at the repository root, and the user config. A missing
// default file is no error; a missing --config file is.
func loadScanConfig(e *env, path string) (*scanConfig, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find repository: %w", err)
	}
	sc := &scanConfig{root: wd, project: &config.Config{}, user: &config.UserConfig{}}
	if r, ok := repoRoot(wd); ok {
		sc.root, sc.inRepo = r, true
	}
	explicit := path != ""
	if !explicit {
		path = filepath.Join(sc.root, projectConfigFile)
	}
	data, err := readConfig(path)
	switch {
	case err == nil:
		sc.configPath = path
		if sc.project, err = config.ParseConfig(data, displayPath(path)); err != nil {
			return nil, err
		}
	case explicit || !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read config: %w", err)
	}
	if up := userConfigPath(e); up != "" {
		data, err := readConfig(up)
		switch {
		case err == nil:
			sc.userPath = up
			if sc.user, err = config.ParseUserConfig(data, displayPath(up)); err != nil {
				return nil, err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read user config: %w", err)
		}
	}
	return sc, nil
}

// readConfig reads a config file, refusing one too large to be a config.
func readConfig(path string) ([]byte, error) {
	// Bounded and non-blocking: a FIFO or a symlink to /dev/zero in place
	// of .keyward.toml is refused, never waited on or read forever.
	data, err := scanner.ReadRegularFile(path, maxConfigSize)
	if errors.Is(err, scanner.ErrFileTooLarge) {
		return nil, fmt.Errorf("%s: larger than %d bytes; is it a config file?", displayPath(path), maxConfigSize)
	}
	return data, err
}

// userConfigPath follows the XDG base directory spec:
// $XDG_CONFIG_HOME/keyward/config.toml, else ~/.config/keyward/config.toml.
func userConfigPath(e *env) string {
	if x := e.getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "keyward", "config.toml")
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "keyward", "config.toml")
	}
	return ""
}

// repoRoot returns the top of the working tree containing dir, found as
// git finds it (scanner.FindRepository: a .git directory or file in dir or
// a parent). A bare repository has no working tree, so no root. A .git
// file that names no git directory still marks the root: the config is
// read from there, and the scan itself reports the broken repository.
func repoRoot(dir string) (string, bool) {
	loc, _ := scanner.FindRepository(dir)
	if loc.WorkTree == "" {
		return "", false
	}
	return loc.WorkTree, true
}

// displayPath shortens path for messages: relative to the working
// directory when that is shorter.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && len(r) < len(path) {
		return r
	}
	return path
}

// rules is the rule table for the engine: nil (the engine's default
// table) unless the project config adds or disables rules.
func (sc *scanConfig) rules() []patterns.Rule {
	if len(sc.project.Rules) == 0 && len(sc.project.Disabled) == 0 {
		return nil
	}
	return sc.project.ScanRules()
}

// options completes an engine's options with what the configs decide:
// rules, allowlists, custom rules' path scopes and the repository root
// (scanner.Options.Configure). Engine.Run then applies the whole
// suppression pipeline to any source.
func (sc *scanConfig) options(o scanner.Options) scanner.Options {
	o.Configure(sc.project)
	o.Root = sc.root
	return o
}

// withBaseline adds the baseline --baseline, --no-baseline and the config
// choose to o, for Engine.Run to apply.
func (sc *scanConfig) withBaseline(o scanner.Options, baselineFlag string, noBaseline bool) (scanner.Options, error) {
	path, required := sc.baselinePath(baselineFlag, noBaseline)
	b, err := loadBaseline(path, required)
	if err != nil || b == nil {
		return o, err
	}
	o.Baseline, o.BaselineDetail = b, displayPath(path)
	return o, nil
}

// rel maps the paths a source reports to repository-relative ones: the
// git sources already report those, files are named as given on the
// command line, relative to the working directory.
func (sc *scanConfig) rel(src string) scanner.PathFunc {
	if src != "paths" {
		return func(p string) string { return p }
	}
	return scanner.Paths(nil).RelTo(sc.root)
}

// exists reports whether a repository-relative path is in the working
// tree, for the baseline's rename rule.
func (sc *scanConfig) exists(p string) bool {
	_, err := os.Lstat(filepath.Join(sc.root, filepath.FromSlash(p)))
	return err == nil
}

// baselinePath resolves the baseline: --no-baseline, else --baseline,
// else the config's baseline key, else .keyward-baseline.json at the root.
// required is true when the file was named on the command line, so that
// a typo is an error rather than silently no baseline. A missing default
// or config-named baseline means none yet: everything is reported, which
// fails safe.
func (sc *scanConfig) baselinePath(flag string, off bool) (path string, required bool) {
	switch {
	case off:
		return "", false
	case flag != "":
		return flag, true
	case sc.project.Baseline != "":
		p := filepath.FromSlash(sc.project.Baseline)
		if !filepath.IsAbs(p) {
			p = filepath.Join(sc.root, p)
		}
		return p, false
	}
	return filepath.Join(sc.root, scanner.DefaultBaselineFile), false
}

// loadBaseline reads the baseline at path; a missing optional one is nil.
func loadBaseline(path string, required bool) (*scanner.Baseline, error) {
	if path == "" {
		return nil, nil
	}
	data, err := scanner.ReadRegularFile(path, scanner.MaxBaselineSize)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	b, err := scanner.ParseBaseline(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", displayPath(path), err)
	}
	return b, nil
}

// format is --format's default: the user config's, else text.
func (sc *scanConfig) format() string {
	if sc.user.Format != "" {
		return sc.user.Format
	}
	return "text"
}

// style applies the user's color setting. "always" and "never" are the
// user's explicit word and so override NO_COLOR and the terminal check,
// as no-color.org asks of user-level configuration; "auto" is styleFor.
func (sc *scanConfig) style(e *env, w io.Writer) style {
	switch sc.user.Color {
	case "never":
		return plainStyle()
	case "always":
		r := lipgloss.NewRenderer(w)
		r.SetColorProfile(termenv.ANSI)
		return colorStyle(r)
	}
	return styleFor(e, w)
}

// summarizeSuppressed writes how many findings the configs and baseline
// withheld, and why, so a suppression never hides silently.
func summarizeSuppressed(e *env, rr *runResult) {
	n := len(rr.Suppressed)
	if n == 0 {
		return
	}
	by := rr.SuppressedByReason()
	var parts []string
	for _, r := range []scanner.SuppressReason{scanner.SuppressInline, scanner.SuppressAllowlist, scanner.SuppressBaseline} {
		if by[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", by[r], r))
		}
	}
	fmt.Fprintf(e.stderr, "keyward: %d %s suppressed (%s)\n", n, plural(int64(n), "finding", "findings"), strings.Join(parts, ", "))
}
