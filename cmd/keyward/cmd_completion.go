package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/hooks"
)

const completionUsage = `Usage: keyward completion bash|zsh|fish

Prints a completion script for the shell. Subcommands, flags and flag
values come from keyward itself at completion time (its own flag sets, not
its help text), so the script stays right as keyward changes:
'keyward hook in<Tab>', 'keyward scan --for<Tab>', 'keyward scan --format <Tab>'.

Examples:
  keyward completion bash > ~/.local/share/bash-completion/completions/keyward
  keyward completion zsh  > "${fpath[1]}/_keyward"
  keyward completion fish > ~/.config/fish/completions/keyward.fish
`

func runCompletion(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		if len(args) == 1 {
			fmt.Fprint(e.stdout, completionUsage)
			return nil
		}
		return usagef("keyward completion bash|zsh|fish", "completion needs exactly one shell name")
	}
	script, ok := completionScripts[args[0]]
	if !ok {
		return usagef("keyward completion bash|zsh|fish", "no completion for shell %q", args[0])
	}
	_, err := io.WriteString(e.stdout, script)
	return err
}

// runCompleteWords is the hidden helper the scripts call with the words
// typed so far (after "keyward"), the last being the one to complete. It
// answers from the commands' own flag sets and subcommand tables, never by
// reading --help: subcommands ('hook in' -> install), flags ('scan --for'
// -> --format) and flag values ('--format ' -> text json sarif junit).
// With no arguments it lists the commands.
func runCompleteWords(ctx context.Context, e *env, args []string) error {
	for _, w := range completeWords(args) {
		fmt.Fprintln(e.stdout, w)
	}
	return nil
}

// completeNode is one command's completion: its flag set (built by the
// same addFlags the command parses with), the values each flag takes,
// its subcommands, and the words its arguments can be.
type completeNode struct {
	flags  func() *pflag.FlagSet
	values map[string][]string
	subs   map[string]completeNode
	args   []string
}

// completionTree is every command's completeNode.
func completionTree() map[string]completeNode {
	flagsOf := func(name string, add func(*pflag.FlagSet)) func() *pflag.FlagSet {
		return func() *pflag.FlagSet {
			fs := newFlagSet(name)
			add(fs)
			return fs
		}
	}
	scanFlags := flagsOf("scan", func(fs *pflag.FlagSet) { (&scanOptions{}).addFlags(fs) })
	scanValues := map[string][]string{"format": outputFormats(), "report-format": reportFormats()}
	var cmdNames []string
	for n, c := range commands() {
		if !c.hidden {
			cmdNames = append(cmdNames, n)
		}
	}
	sort.Strings(cmdNames)
	runNames := append(append([]string(nil), hooks.ClientHooks...), hooks.PreReceive)
	sort.Strings(runNames)
	return map[string]completeNode{
		"scan": {flags: scanFlags, values: scanValues},
		"ci": {flags: flagsOf("ci", func(fs *pflag.FlagSet) {
			(&scanOptions{}).addFlags(fs)
			fs.String("base", "", "compare pushes with BRANCH")
			for _, n := range []string{"range", "staged", "history", "commit-msg", "all-objects"} {
				_ = fs.MarkHidden(n) // ci chooses these itself
			}
		}), values: scanValues},
		"hook": {subs: map[string]completeNode{
			"install":   {flags: flagsOf("hook install", func(fs *pflag.FlagSet) { (&hookInstallOptions{}).addFlags(fs) }), values: map[string][]string{"hooks": hooks.Names}},
			"uninstall": {flags: flagsOf("hook uninstall", func(fs *pflag.FlagSet) { (&hookUninstallOptions{}).addFlags(fs) }), values: map[string][]string{"hooks": hooks.Names}},
			"status":    {},
			"run":       {flags: flagsOf("hook run", func(fs *pflag.FlagSet) { (&hookRunOptions{}).addFlags(fs) }), args: runNames},
		}},
		"verify":     {flags: flagsOf("verify", func(fs *pflag.FlagSet) { (&verifyOptions{}).addFlags(fs) })},
		"respond":    {flags: flagsOf("respond", func(fs *pflag.FlagSet) { (&respondOptions{}).addFlags(fs) })},
		"doctor":     {flags: flagsOf("doctor", func(fs *pflag.FlagSet) { (&doctorOptions{}).addFlags(fs) })},
		"rules":      {flags: flagsOf("rules", func(fs *pflag.FlagSet) { (&rulesOptions{}).addFlags(fs) })},
		"config":     {flags: flagsOf("config", func(fs *pflag.FlagSet) { (&configOptions{}).addFlags(fs) }), subs: map[string]completeNode{"check": {}}},
		"baseline":   {flags: flagsOf("baseline", func(fs *pflag.FlagSet) { (&baselineOptions{}).addFlags(fs) }), subs: map[string]completeNode{"create": {}, "update": {}, "prune": {}}},
		"completion": {args: sortedKeys(completionScripts)},
		"version":    {},
		"help":       {args: cmdNames},
	}
}

// completeWords answers one completion request.
func completeWords(words []string) []string {
	tree := completionTree()
	if len(words) <= 1 {
		prefix := ""
		if len(words) == 1 {
			prefix = words[0]
		}
		var names []string
		for n, c := range commands() {
			if !c.hidden && strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return names
	}
	node, ok := tree[words[0]]
	if !ok {
		return nil
	}
	cur := words[len(words)-1]
	var fs *pflag.FlagSet
	if node.flags != nil {
		fs = node.flags()
	}
	values := node.values
	positional := 0
	for i := 1; i < len(words)-1; i++ {
		w := words[i]
		if strings.HasPrefix(w, "-") {
			// A flag that takes a value consumes the next word.
			if f := lookupFlag(fs, w); f != nil && f.NoOptDefVal == "" && !strings.Contains(w, "=") {
				i++
			}
			continue
		}
		if sub, ok := node.subs[w]; ok && positional == 0 {
			node = sub
			if sub.flags != nil {
				fs = sub.flags()
			}
			if sub.values != nil {
				values = sub.values
			}
			continue
		}
		positional++
	}
	// The value of the flag before the cursor.
	if len(words) >= 3 {
		prev := words[len(words)-2]
		if f := lookupFlag(fs, prev); f != nil && f.NoOptDefVal == "" && !strings.Contains(prev, "=") {
			return filterPrefix(values[f.Name], cur)
		}
	}
	if name, val, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(name, "--") {
		if f := lookupFlag(fs, name); f != nil {
			var out []string
			for _, v := range filterPrefix(values[f.Name], val) {
				out = append(out, name+"="+v)
			}
			return out
		}
	}
	if strings.HasPrefix(cur, "-") {
		var out []string
		if fs != nil {
			fs.VisitAll(func(f *pflag.Flag) {
				if !f.Hidden && strings.HasPrefix("--"+f.Name, cur) {
					out = append(out, "--"+f.Name)
				}
			})
		}
		return out
	}
	if positional == 0 && len(node.subs) > 0 {
		return filterPrefix(sortedKeys(node.subs), cur)
	}
	return filterPrefix(node.args, cur)
}

func lookupFlag(fs *pflag.FlagSet, w string) *pflag.Flag {
	if fs == nil || !strings.HasPrefix(w, "-") {
		return nil
	}
	name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
	if strings.HasPrefix(w, "--") {
		return fs.Lookup(name)
	}
	if len(name) == 1 {
		return fs.ShorthandLookup(name)
	}
	return nil
}

func filterPrefix(vs []string, prefix string) []string {
	var out []string
	for _, v := range vs {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// formatCandidates are the names the format flags could take; the lists
// below keep those the renderers accept, so completion offers exactly what
// --format and --report-format take.
var formatCandidates = []string{"text", "json", "sarif", "junit"}

func outputFormats() []string {
	var out []string
	for _, f := range formatCandidates {
		if _, err := newRenderer(f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func reportFormats() []string {
	var out []string
	for _, f := range formatCandidates {
		if f == "text" {
			continue // a report is for machines; --report-format text is not documented
		}
		if _, err := reportRenderer("r", f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

var completionScripts = map[string]string{
	"bash": `# bash completion for keyward: keyward itself answers from its flag sets.
_keyward() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local IFS=$'\n'
	COMPREPLY=($(keyward __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
	if [ ${#COMPREPLY[@]} -eq 0 ] && [[ $cur != -* ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -F _keyward keyward
`,
	"zsh": `#compdef keyward
# zsh completion for keyward: keyward itself answers from its flag sets.
_keyward() {
	local -a found
	found=(${(f)"$(keyward __complete "${(@)words[2,CURRENT]}" 2>/dev/null)"})
	if (( ${#found} )); then
		compadd -- $found
	else
		_files
	fi
}
compdef _keyward keyward
`,
	"fish": `# fish completion for keyward: keyward itself answers from its flag sets.
complete -c keyward -f -a '(keyward __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
}
