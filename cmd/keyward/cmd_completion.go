package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

const completionUsage = `Usage: keyward completion bash|zsh|fish

Prints a completion script for the shell. Commands and their flags come from
keyward itself at completion time, so the script stays right as keyward
changes.

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

// runCompleteWords is the hidden helper the scripts call: with no argument
// it lists the commands, with a command it lists that command's flags.
func runCompleteWords(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		var names []string
		for n, c := range commands() {
			if !c.hidden {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		fmt.Fprintln(e.stdout, strings.Join(names, "\n"))
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		return nil
	}
	var out bytes.Buffer
	sub := &env{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard, getenv: e.getenv}
	_ = cmd.run(ctx, sub, []string{"--help"})
	for _, f := range helpFlags(out.String()) {
		fmt.Fprintln(e.stdout, f)
	}
	return nil
}

var flagRE = regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)`)

// helpFlags extracts the long flags from a command's help text, which every
// command prints through pflag's FlagUsages.
func helpFlags(help string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range flagRE.FindAllStringSubmatch(help, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

var completionScripts = map[string]string{
	"bash": `# bash completion for keyward
_keyward() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$(keyward __complete 2>/dev/null)" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(keyward __complete "${COMP_WORDS[1]}" 2>/dev/null)" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _keyward keyward
`,
	"zsh": `#compdef keyward
# zsh completion for keyward
_keyward() {
	if (( CURRENT == 2 )); then
		compadd -- ${(f)"$(keyward __complete 2>/dev/null)"}
	elif [[ $words[CURRENT] == -* ]]; then
		compadd -- ${(f)"$(keyward __complete $words[2] 2>/dev/null)"}
	else
		_files
	fi
}
compdef _keyward keyward
`,
	"fish": `# fish completion for keyward
complete -c keyward -f -n '__fish_use_subcommand' -a '(keyward __complete 2>/dev/null)'
complete -c keyward -n 'not __fish_use_subcommand' -a '(keyward __complete (commandline -opc)[2] 2>/dev/null)'
complete -c keyward -n 'not __fish_use_subcommand' -F
`,
}
