package scanner

import (
	"context"
	"os"
	"path/filepath"

	"github.com/keyward/keyward/scanner/config"
)

// Suppressions are everything besides the rule table that decides what a
// scan reports, in the order they act: inline keyward:allow comments and
// the allowlists' line, match and secret-hash conditions (while scanning,
// with the content at hand), then the allowlists' path conditions, custom
// rules' path scopes and the baseline (Suppressions.Apply, once a source
// is done). Engine.Run applies them to whatever source it runs, so no
// caller assembles the pipeline itself: before issue 10 each command did,
// and a custom rule's path scope held only where the caller remembered
// Filter.Apply.
type Suppressions struct {
	// Filter is the project's allowlists and custom rules' path scopes;
	// nil still honours inline comments.
	Filter *Filter
	// Baseline accepts known findings; nil means none.
	Baseline *Baseline
	// BaselineDetail names the baseline in each suppression it makes.
	BaselineDetail string
	// Root is the directory configs and baselines are relative to (the
	// repository root). Files named on the command line are made relative
	// to it; "" uses paths as the source reports them.
	Root string
}

// Configure sets what a project config decides about a scan: the rule
// table (custom rules added, disabled rules removed) and the Filter
// (allowlists, custom rules' path scopes). A nil config changes nothing.
func (o *Options) Configure(c *config.Config) {
	if c == nil {
		return
	}
	if len(c.Rules) > 0 || len(c.Disabled) > 0 {
		o.Rules = c.ScanRules()
	}
	o.Filter = &Filter{Allow: c.Allowlists, RulePaths: c.RulePaths()}
}

// RootRelative is implemented by sources that name files as the user
// gave them (relative to the working directory, or absolute) rather than
// relative to the repository; configs and baselines need the latter.
type RootRelative interface {
	// RelTo returns the mapping from the source's paths to slash-separated
	// paths relative to root.
	RelTo(root string) PathFunc
}

// Run scans src with the engine and applies the engine's suppressions
// (Options.Filter, Options.Baseline) to what it recorded, sorted by path
// and position. It is the one entry point every command uses; the ScanX
// methods run one source without Run's suppressions, returning results
// with only the content-based ones marked.
func (e *Engine) Run(ctx context.Context, src Source) (*Result, error) {
	res, err := e.Collect(ctx, src)
	if err != nil {
		return nil, err
	}
	var rel PathFunc
	if rr, ok := src.(RootRelative); ok && e.opts.Root != "" {
		rel = rr.RelTo(e.opts.Root)
	}
	e.Suppressions().Apply(res, rel)
	return res, nil
}

// Suppressions returns the engine's suppression pipeline.
func (e *Engine) Suppressions() *Suppressions {
	return &Suppressions{Filter: e.opts.Filter, Baseline: e.opts.Baseline, BaselineDetail: e.opts.BaselineDetail, Root: e.opts.Root}
}

// Apply runs the path-dependent suppressions over a finished result:
// custom rules' path scopes drop findings outside them, allowlists' path
// conditions and the baseline move findings to res.Suppressed. rel maps
// the result's paths to root-relative ones; nil uses them as they are.
func (s *Suppressions) Apply(res *Result, rel PathFunc) {
	if res == nil {
		return
	}
	if rel == nil {
		rel = func(p string) string { return filepath.ToSlash(p) }
	}
	s.Filter.Apply(res, rel)
	if s.Baseline == nil {
		return
	}
	s.Baseline.Apply(res, BaselineMatch{Rel: rel, Exists: s.exists, Detail: s.BaselineDetail})
}

// exists reports whether a root-relative path is in the working tree, for
// the baseline's rename rule. Without a root every path counts as present,
// so a credential at a new path is reported rather than taken for moved.
func (s *Suppressions) exists(p string) bool {
	if s.Root == "" {
		return true
	}
	_, err := os.Lstat(filepath.Join(s.Root, filepath.FromSlash(p)))
	return err == nil
}
