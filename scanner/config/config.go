// Package config reads keyward's configuration files: a project's
// .keyward.toml (custom rules, disabled rules, allowlists, the baseline's
// path) and a user's config.toml (presentation settings). It moved out of
// patterns, which holds rule data and key facts only (issue 10). Errors
// name the file, line and key, and never quote a value in full that could
// be a secret (a credentials file symlinked as .keyward.toml).
package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/keyward/keyward/patterns"
)

// Config is a project's .keyward.toml: what the project adds to, removes
// from and accepts in the rule table. It lives in the repository so that
// every clone, hook and CI job scans the same way.
//
// Keys valid in a project config (anything else is an error, so a typo
// cannot silently switch a safeguard off):
//
//	baseline        string   baseline file, relative to the repository root
//	disabled_rules  [string] built-in rule IDs not to run
//	[[rules]]                a custom regexp rule
//	  id, description, regex, keywords, entropy, paths
//	  [rules.allowlist]      an allowlist that applies to this rule only
//	[[allowlist]]            findings to suppress
//	  description, rules, paths, regexes, lines, secret_sha256
//
// The user config (see UserConfig) takes a different set of keys; each
// parser names the other file when it meets a key that belongs there.
type Config struct {
	// Baseline is the baseline file named by the config, relative to the
	// repository root; empty means the default.
	Baseline string
	// Disabled lists built-in rule IDs the project turned off.
	Disabled []string
	// Rules are the project's own detectors.
	Rules []CustomRule
	// Allowlists suppress findings the project has accepted.
	Allowlists []AllowEntry
	// AllowConfigChanges lets a change to the config or baseline in the
	// commits a gate checks (a pull request, a push) take effect in that
	// same check. Off, the gates use the base's config, so a pull request
	// cannot allowlist its own leak (issue 9).
	AllowConfigChanges bool
}

// CustomRule is a regexp rule from a config file. Paths is kept beside the
// Rule rather than in it because the engine sees content, not paths (a
// history sweep scans a blob once for all the paths it was stored under),
// so path scoping is applied to findings afterwards.
type CustomRule struct {
	patterns.Rule
	// Paths limits the rule to matching paths; empty means everywhere.
	Paths []Glob
}

// AllowEntry is one [[allowlist]] table. A finding is suppressed when it
// meets any one of the conditions, within the entry's rules if it names
// some: entries are written to describe one kind of accepted finding
// ("the fixtures under testdata/"), and OR keeps each condition readable
// on its own.
type AllowEntry struct {
	// Description says why, and is reported with each suppression.
	Description string
	// Rules limits the entry to these rule IDs; empty means every rule.
	Rules []string
	// Paths match the finding's path.
	Paths []Glob
	// Regexes match the matched text (the key ID of a pair, the secret or
	// token of a lone one).
	Regexes []*regexp.Regexp
	// Lines match the whole line the finding starts on.
	Lines []*regexp.Regexp
	// SecretSHA256 are hex SHA-256 digests of accepted credentials, as in
	// the JSON report's secret_sha256: a hash, so the config never holds
	// the secret it exempts.
	SecretSHA256 []string
}

// UserConfig is the personal config ($XDG_CONFIG_HOME/keyward/config.toml):
// presentation only, never detection, so that a scan gives the same answer
// on every machine. Valid keys:
//
//	color   "auto" (default), "always" or "never"
//	format  default --format: "text", "json" or "sarif"
type UserConfig struct {
	Color  string
	Format string
}

// Errors a config can fail with, for callers and tests that branch on the
// kind; ConfigError wraps them with the place.
var (
	ErrBadTOML       = errors.New("invalid TOML")
	ErrUnknownKey    = errors.New("unknown key")
	ErrWrongFile     = errors.New("key not valid in this file")
	ErrDuplicateRule = errors.New("duplicate rule ID")
	ErrBadValue      = errors.New("invalid value")
)

// ConfigError is a problem at one place in a config file. Its text is
// "file:line: key: problem", the form editors jump to.
type ConfigError struct {
	File string
	// Line is 1-based; 0 when the place could not be found.
	Line int
	// Key is the dotted path with array indexes, e.g. "rules[1].regex".
	Key string
	Err error
}

// Error formats the error as "file:line: key: problem".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	// Values quoted from the file are redacted: the file may not be a
	// config at all but a credentials file in its place.
	b.WriteString(RedactQuoted(e.Err.Error()))
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// configKind says which file is being parsed, and so which keys it takes.
type configKind int

const (
	projectConfig configKind = iota
	userConfig
)

// Top-level keys of each kind of file.
var (
	projectKeys = []string{"baseline", "disabled_rules", "rules", "allowlist", "allow_config_changes"}
	userKeys    = []string{"color", "format"}
)

// Limits on what a config may ask for.
const (
	// maxEntropy is the most Shannon entropy a byte string can have, in
	// bits per byte; a larger floor would disable the rule silently.
	maxEntropy = 8
)

// ruleIDPattern keeps rule IDs usable in file names, SARIF and shell
// arguments without quoting.
var ruleIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`) })

// sha256Pattern is a lower- or upper-case hex SHA-256 digest.
var sha256Pattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F]{64}$`) })

// rawConfig is the union of both files' keys; which subset is legal is
// checked after decoding, so both files share one parser and one set of
// error messages.
type rawConfig struct {
	Baseline      string     `toml:"baseline"`
	DisabledRules []string   `toml:"disabled_rules"`
	Rules         []rawRule  `toml:"rules"`
	Allowlist     []rawAllow `toml:"allowlist"`
	Color         string     `toml:"color"`
	Format        string     `toml:"format"`
	// AllowConfigChanges is the project key allow_config_changes.
	AllowConfigChanges bool `toml:"allow_config_changes"`
}

type rawRule struct {
	ID          string    `toml:"id"`
	Description string    `toml:"description"`
	Regex       string    `toml:"regex"`
	Keywords    []string  `toml:"keywords"`
	Entropy     float64   `toml:"entropy"`
	Paths       []string  `toml:"paths"`
	Allowlist   *rawAllow `toml:"allowlist"`
}

type rawAllow struct {
	Description  string   `toml:"description"`
	Rules        []string `toml:"rules"`
	Paths        []string `toml:"paths"`
	Regexes      []string `toml:"regexes"`
	Lines        []string `toml:"lines"`
	SecretSHA256 []string `toml:"secret_sha256"`
}

// ParseConfig parses a project config. filename is used in errors only:
// patterns does no I/O.
func ParseConfig(data []byte, filename string) (*Config, error) {
	raw, p, err := decode(data, filename, projectConfig)
	if err != nil {
		return nil, err
	}
	return p.project(raw)
}

// ParseUserConfig parses a user config. filename is used in errors only.
func ParseUserConfig(data []byte, filename string) (*UserConfig, error) {
	raw, p, err := decode(data, filename, userConfig)
	if err != nil {
		return nil, err
	}
	uc := &UserConfig{Color: raw.Color, Format: raw.Format}
	switch uc.Color {
	case "", "auto", "always", "never":
	default:
		return nil, p.errf(keyPath{{name: "color", index: -1}}, ErrBadValue, "%q: use auto, always or never", uc.Color)
	}
	switch uc.Format {
	case "", "text", "json", "sarif":
	default:
		return nil, p.errf(keyPath{{name: "format", index: -1}}, ErrBadValue, "%q: use text, json or sarif", uc.Format)
	}
	return uc, nil
}

// parser holds what error messages need: the file's name and lines.
type parser struct {
	file  string
	lines []string
}

func decode(data []byte, filename string, kind configKind) (*rawConfig, *parser, error) {
	p := &parser{file: filename, lines: strings.Split(string(data), "\n")}
	var raw rawConfig
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, nil, p.tomlError(err)
	}
	// Keys in file order, with the index of the array table each is in:
	// Undecoded reports "rules.regexp" without saying which rule.
	counts := map[string]int{}
	valid, other := projectKeys, userKeys
	if kind == userConfig {
		valid, other = userKeys, projectKeys
	}
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	for _, k := range md.Keys() {
		if len(k) == 1 && (k[0] == "rules" || k[0] == "allowlist") && md.Type(k...) == "ArrayHash" {
			counts[k[0]]++
		}
		if len(k) == 1 && !contains(valid, k[0]) {
			kp := keyPath{{name: k[0], index: -1}}
			if contains(other, k[0]) {
				where := "the user config ($XDG_CONFIG_HOME/keyward/config.toml)"
				if kind == userConfig {
					where = "a project's .keyward.toml"
				}
				return nil, nil, p.errf(kp, ErrWrongFile, "valid only in %s", where)
			}
			return nil, nil, p.unknown(kp)
		}
		if undecoded[k.String()] {
			return nil, nil, p.unknown(indexed(k, counts))
		}
	}
	return &raw, p, nil
}

// indexed turns a TOML key into a keyPath, giving array tables the index
// of the element being read.
func indexed(k toml.Key, counts map[string]int) keyPath {
	kp := make(keyPath, len(k))
	for i, name := range k {
		kp[i] = keyElem{name: name, index: -1}
	}
	if len(kp) > 1 && (k[0] == "rules" || k[0] == "allowlist") {
		kp[0].index = max(counts[k[0]]-1, 0)
	}
	return kp
}

// suggestions are likely slips and what was meant; in an allowlist the
// regexp keys are plural.
var suggestions = map[string]string{
	"regexp": "regex", "pattern": "regex", "regexps": "regexes", "regex": "regexes",
	"secrets": "secret_sha256", "hashes": "secret_sha256", "sha256": "secret_sha256",
	"path": "paths", "rule": "rules", "keyword": "keywords", "min_entropy": "entropy",
	"disabled": "disabled_rules", "disable": "disabled_rules", "colour": "color",
	"allowlists": "allowlist", "allow": "allowlist", "line": "lines",
}

func (p *parser) unknown(kp keyPath) error {
	last := kp[len(kp)-1].name
	s, ok := suggestions[last]
	inAllow := false
	for _, e := range kp[:len(kp)-1] {
		inAllow = inAllow || e.name == "allowlist"
	}
	if inAllow && (s == "regex" || last == "regexps") {
		s = "regexes"
	}
	if ok {
		return p.errf(kp, ErrUnknownKey, "did you mean %q?", s)
	}
	return p.errf(kp, ErrUnknownKey, "")
}

// tomlError places a syntax or type error from the TOML library.
func (p *parser) tomlError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &ConfigError{File: p.file, Line: pe.Position.Line, Key: p.indexKey(pe.LastKey, pe.Position.Line),
			Err: fmt.Errorf("%w: %s", ErrBadTOML, pe.Message)}
	}
	// Type mismatches come as "toml: line N (last key "k"): msg".
	if m := typeErrPattern().FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ConfigError{File: p.file, Line: line, Key: p.indexKey(m[2], line), Err: fmt.Errorf("%w: %s", ErrBadTOML, m[3])}
	}
	return &ConfigError{File: p.file, Err: fmt.Errorf("%w: %s", ErrBadTOML, strings.TrimPrefix(err.Error(), "toml: "))}
}

// indexKey adds the array index to a key the TOML library reports
// without one ("rules.entropy" on line 9 is in the second [[rules]] if one
// header precedes line 9).
func (p *parser) indexKey(key string, line int) string {
	table, rest, ok := strings.Cut(key, ".")
	if !ok || (table != "rules" && table != "allowlist") {
		return key
	}
	n := -1
	for i := 0; i < line && i < len(p.lines); i++ {
		if m := headerPattern().FindStringSubmatch(p.lines[i]); m != nil && strings.HasPrefix(strings.TrimSpace(p.lines[i]), "[[") &&
			strings.ReplaceAll(m[1], " ", "") == table {
			n++
		}
	}
	if n < 0 {
		return key
	}
	return fmt.Sprintf("%s[%d].%s", table, n, rest)
}

var typeErrPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`) })

func (p *parser) project(raw *rawConfig) (*Config, error) {
	c := &Config{Baseline: raw.Baseline, AllowConfigChanges: raw.AllowConfigChanges}
	builtin := map[string]bool{}
	for _, r := range patterns.All() {
		builtin[r.ID] = true
	}
	if strings.ContainsRune(raw.Baseline, 0) {
		return nil, p.errf(keyPath{{name: "baseline", index: -1}}, ErrBadValue, "contains a NUL byte")
	}
	for i, id := range raw.DisabledRules {
		if !builtin[id] {
			return nil, p.errf(keyPath{{name: "disabled_rules", index: i}}, ErrBadValue,
				"%q is not a built-in rule (see 'keyward rules')", id)
		}
		c.Disabled = append(c.Disabled, id)
	}
	seen := map[string]int{}
	known := map[string]bool{}
	for id := range builtin {
		known[id] = true
	}
	for i, rr := range raw.Rules {
		at := func(key string, idx int) keyPath {
			return keyPath{{name: "rules", index: i}, {name: key, index: idx}}
		}
		switch {
		case rr.ID == "":
			return nil, p.errf(at("id", -1), ErrBadValue, "missing: every rule needs an id")
		case !ruleIDPattern().MatchString(rr.ID):
			return nil, p.errf(at("id", -1), ErrBadValue, "%q: use lower-case letters, digits, '.', '_' and '-'", rr.ID)
		case builtin[rr.ID]:
			return nil, p.errf(at("id", -1), ErrDuplicateRule, "%q is a built-in rule", rr.ID)
		}
		if j, ok := seen[rr.ID]; ok {
			return nil, p.errf(at("id", -1), ErrDuplicateRule, "%q is also rules[%d].id", rr.ID, j)
		}
		seen[rr.ID] = i
		known[rr.ID] = true
		if rr.Regex == "" {
			return nil, p.errf(at("regex", -1), ErrBadValue, "missing: a custom rule needs a regex")
		}
		re, err := regexp.Compile(rr.Regex)
		if err != nil {
			return nil, p.errf(at("regex", -1), err, "")
		}
		if re.MatchString("") {
			return nil, p.errf(at("regex", -1), ErrBadValue, "matches the empty string, so it would match everywhere")
		}
		if i := re.SubexpIndex("secret"); i < 0 && strings.Contains(rr.Regex, "?P<secret") {
			return nil, p.errf(at("regex", -1), ErrBadValue, "the secret group could not be found")
		}
		if math.IsNaN(rr.Entropy) || rr.Entropy < 0 || rr.Entropy > maxEntropy {
			return nil, p.errf(at("entropy", -1), ErrBadValue, "%v: an entropy floor is between 0 and %d bits per byte", rr.Entropy, maxEntropy)
		}
		cr := CustomRule{Rule: patterns.Rule{
			ID: rr.ID, Description: rr.Description, Matcher: patterns.MatchRegexp,
			Regexp: patterns.Compiled(re), MinEntropy: rr.Entropy,
		}}
		if cr.Description == "" {
			cr.Description = "custom rule " + rr.ID
		}
		for j, k := range rr.Keywords {
			if strings.TrimSpace(k) == "" {
				return nil, p.errf(at("keywords", j), ErrBadValue, "empty keyword")
			}
			cr.Keywords = append(cr.Keywords, k)
		}
		if cr.Paths, err = p.globs(rr.Paths, func(j int) keyPath { return at("paths", j) }); err != nil {
			return nil, err
		}
		c.Rules = append(c.Rules, cr)
	}
	// Allowlists are checked after all rules, so that an entry may name a
	// rule defined further down the file.
	for i, rr := range raw.Rules {
		if rr.Allowlist == nil {
			continue
		}
		base := keyPath{{name: "rules", index: i}, {name: "allowlist", index: -1}}
		a, err := p.allow(*rr.Allowlist, base, known, false)
		if err != nil {
			return nil, err
		}
		a.Rules = []string{rr.ID}
		c.Allowlists = append(c.Allowlists, a)
	}
	for i, ra := range raw.Allowlist {
		a, err := p.allow(ra, keyPath{{name: "allowlist", index: i}}, known, true)
		if err != nil {
			return nil, err
		}
		c.Allowlists = append(c.Allowlists, a)
	}
	return c, nil
}

func (p *parser) allow(ra rawAllow, base keyPath, known map[string]bool, top bool) (AllowEntry, error) {
	at := func(key string, idx int) keyPath {
		return append(append(keyPath{}, base...), keyElem{name: key, index: idx})
	}
	a := AllowEntry{Description: ra.Description}
	if !top && len(ra.Rules) > 0 {
		return a, p.errf(at("rules", -1), ErrBadValue, "a rule's own allowlist applies to that rule only")
	}
	for j, id := range ra.Rules {
		if !known[id] {
			return a, p.errf(at("rules", j), ErrBadValue, "%q is not a rule (see 'keyward rules')", id)
		}
		a.Rules = append(a.Rules, id)
	}
	var err error
	if a.Paths, err = p.globs(ra.Paths, func(j int) keyPath { return at("paths", j) }); err != nil {
		return a, err
	}
	if a.Regexes, err = p.regexps(ra.Regexes, func(j int) keyPath { return at("regexes", j) }); err != nil {
		return a, err
	}
	if a.Lines, err = p.regexps(ra.Lines, func(j int) keyPath { return at("lines", j) }); err != nil {
		return a, err
	}
	for j, h := range ra.SecretSHA256 {
		if !sha256Pattern().MatchString(h) {
			// The value is not echoed: someone may have pasted the secret
			// itself here.
			return a, p.errf(at("secret_sha256", j), ErrBadValue,
				"not a SHA-256 digest (64 hex characters, the secret_sha256 of a JSON report); never put the secret itself here")
		}
		a.SecretSHA256 = append(a.SecretSHA256, strings.ToLower(h))
	}
	if len(a.Paths)+len(a.Regexes)+len(a.Lines)+len(a.SecretSHA256) == 0 {
		return a, p.errf(base, ErrBadValue, "no condition: give paths, regexes, lines or secret_sha256")
	}
	return a, nil
}

func (p *parser) globs(ss []string, at func(int) keyPath) ([]Glob, error) {
	var gs []Glob
	for j, s := range ss {
		g, err := CompileGlob(s)
		if err != nil {
			return nil, p.errf(at(j), err, "")
		}
		gs = append(gs, g)
	}
	return gs, nil
}

func (p *parser) regexps(ss []string, at func(int) keyPath) ([]*regexp.Regexp, error) {
	var res []*regexp.Regexp
	for j, s := range ss {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, p.errf(at(j), err, "")
		}
		res = append(res, re)
	}
	return res, nil
}

// ScanRules is the rule table a project runs: the built-in rules it did
// not disable, then its own.
func (c *Config) ScanRules() []patterns.Rule {
	rules := []patterns.Rule{}
	for _, r := range patterns.All() {
		if !contains(c.Disabled, r.ID) {
			rules = append(rules, r)
		}
	}
	for _, cr := range c.Rules {
		rules = append(rules, cr.Rule)
	}
	return rules
}

// RulePaths maps each path-scoped custom rule to its globs.
func (c *Config) RulePaths() map[string][]Glob {
	m := map[string][]Glob{}
	for _, cr := range c.Rules {
		if len(cr.Paths) > 0 {
			m[cr.ID] = cr.Paths
		}
	}
	return m
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// keyPath names a place in a config: rules[1].regex is
// {{"rules", 1}, {"regex", -1}}.
type keyPath []keyElem

type keyElem struct {
	name  string
	index int // -1: not an array element
}

func (kp keyPath) String() string {
	var b strings.Builder
	for i, e := range kp {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
		if e.index >= 0 {
			fmt.Fprintf(&b, "[%d]", e.index)
		}
	}
	return b.String()
}

// errf makes a ConfigError at kp. detail, if not empty, follows err.
func (p *parser) errf(kp keyPath, err error, format string, args ...any) error {
	if format != "" {
		err = fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...))
	}
	return &ConfigError{File: p.file, Line: p.locate(kp), Key: kp.String(), Err: err}
}

// Patterns for finding a key's line in the file text; the TOML library
// keeps positions to itself. They cover the ordinary layout (one key per
// line, [[rules]] headers); a key in an inline table is placed at its
// table's line, and failing that the error carries no line.
var (
	headerPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$`) })
	keyPattern    = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]`)
	})
)

// locate returns the 1-based line of kp in the file, or 0.
func (p *parser) locate(kp keyPath) int {
	type header struct {
		line  int
		name  string
		array bool
	}
	var headers []header
	for i, l := range p.lines {
		if m := headerPattern().FindStringSubmatch(l); m != nil && !keyPattern().MatchString(l) {
			name := strings.Join(strings.Fields(strings.ReplaceAll(m[1], " ", "")), "")
			headers = append(headers, header{line: i, name: name, array: strings.HasPrefix(strings.TrimSpace(l), "[[")})
		}
	}
	sectionEnd := func(from int) int {
		for _, h := range headers {
			if h.line >= from {
				return h.line
			}
		}
		return len(p.lines)
	}
	start, end := 0, sectionEnd(0)
	found := 0 // 1-based line of the innermost place found so far
	prefix := ""
	for i, e := range kp {
		if prefix != "" {
			prefix += "."
		}
		prefix += e.name
		if i == len(kp)-1 {
			// The key itself, in the current section; else a table of
			// that name (an error about a whole [[allowlist]]).
			if l := p.keyLine(e.name, start, end); l > 0 {
				return l
			}
		}
		// A table header: the index-th [[prefix]], or the first [prefix]
		// at or after the current section.
		n := max(e.index, 0)
		hit := false
		for _, h := range headers {
			if h.name != prefix || h.line < start-1 || (e.index >= 0 && !h.array) {
				continue
			}
			if n == 0 {
				start, end, found, hit = h.line+1, sectionEnd(h.line+1), h.line+1, true
				break
			}
			n--
		}
		if !hit {
			// Perhaps an inline table: the line of the key that holds it.
			if l := p.keyLine(e.name, start, end); l > 0 {
				return l
			}
			return found
		}
		if i == len(kp)-1 {
			return found
		}
	}
	return found
}

// keyLine returns the 1-based line in [start, end) that sets key, or 0.
func (p *parser) keyLine(key string, start, end int) int {
	for l := start; l < end && l < len(p.lines); l++ {
		if m := keyPattern().FindStringSubmatch(p.lines[l]); m != nil && m[1]+m[2]+m[3] == key {
			return l + 1
		}
	}
	return 0
}
