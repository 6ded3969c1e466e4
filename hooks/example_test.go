package hooks_test

import (
	"fmt"

	"github.com/keyward/keyward/hooks"
)

// The shim keyward installs as .git/hooks/pre-commit.
func ExampleScript() {
	fmt.Print(string(hooks.Script(hooks.PreCommit, "/home/me/go/bin/keyward")))
	// Output:
	// #!/bin/sh
	// # keyward-hook: pre-commit v1
	// #
	// # Written by 'keyward hook install'; 'keyward hook uninstall' removes it and
	// # restores any hook keyward moved aside. Edits here are lost on reinstall.
	// # The logic lives in 'keyward hook run'; this script only finds keyward,
	// # first where it was at install time, then on PATH.
	// recorded='/home/me/go/bin/keyward'
	// keyward=$recorded
	// if [ ! -x "$keyward" ]; then
	// 	keyward=$(command -v keyward 2>/dev/null) || keyward=
	// fi
	// if [ -z "$keyward" ]; then
	// 	printf 'keyward: error: pre-commit hook: keyward not found at %s or on PATH\n' "$recorded" >&2
	// 	printf 'keyward: hint: install keyward again, or delete %s to stop using it; to skip the check once, use "git commit --no-verify"\n' "$0" >&2
	// 	exit 1
	// fi
	// exec "$keyward" hook run --shim "$0" pre-commit "$@"
}
