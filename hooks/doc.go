// Package hooks installs, chains, uninstalls and inspects keyward's git
// hooks (pre-commit, commit-msg and pre-push), and holds the little logic the
// hooks need at run time that is not scanning: which hook keyward chains to,
// running it with the same arguments and standard input, and parsing what
// git writes to a pre-push hook.
//
// The installed scripts are POSIX sh shims of a dozen lines. They find the
// keyward binary (first at the absolute path recorded at install time, then
// on PATH, so an upgrade that moves the binary keeps working), and exec
// `keyward hook run --shim "$0" <hook> "$@"`; if keyward cannot be found they
// fail closed, saying how to reinstall or bypass. Keeping the logic in Go
// keeps it testable and the same on every platform git runs on.
//
// Where hooks go. A repository install writes into the directory git runs
// hooks from, as `git rev-parse --git-path hooks` reports it: the common
// .git/hooks shared by every worktree, or a repository-local core.hooksPath.
// If core.hooksPath comes from the global or system configuration, writing
// there would change every repository that uses it, so Install refuses and
// points at `keyward hook install --global` instead; if it is keyward's own
// global directory, the repository is already covered.
//
// Never clobbering. A file at a hook's path that keyward did not write (no
// marker line, or a symlink: keyward never writes symlinks) is never
// overwritten. By default Install refuses, naming the hooks in the way; with
// Chain it renames each to <name>.keyward-chained (the rename moves a
// symlink, not its target) and the shim runs it after keyward's check passes,
// with the same arguments and standard input (pre-push's is replayed).
// Refusing is the default because hook managers (husky, lefthook, the
// pre-commit framework) recognise their own hook by its path, and moving it
// behind their back is a change the user should ask for. Uninstall removes
// only regular files carrying keyward's marker and renames the chained hook
// back.
//
// Global install. InstallGlobal writes the shims into a keyward-owned
// directory ($XDG_CONFIG_HOME/keyward/hooks, else ~/.config/keyward/hooks)
// and points the global core.hooksPath at it, recording the previous value
// in a state file beside the shims so UninstallGlobal can put back exactly
// what was there (or unset it). Because core.hooksPath makes git ignore each
// repository's .git/hooks, the global shims chain to the hook git would have
// run without keyward: the previous global core.hooksPath's hook if there
// was one, else the repository's own .git/hooks/<name>. A repository-local
// core.hooksPath still overrides the global one; Status reports that.
package hooks
