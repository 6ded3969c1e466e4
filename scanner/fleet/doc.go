// Package fleet sweeps many repositories: it reads the list (a file, or a
// GitHub organisation or GitLab group through their REST APIs), takes a
// deterministic shard of it, mirrors each repository into a cache, runs the
// scanner's history sweep on each with bounded parallelism, remembers in a
// state file which ref state of each repository was swept, and groups the
// findings of many repositories into credentials with all their places.
//
// It owns no output format: the caller (cmd/keyward) turns each
// repository's scanner.Result into a report and decides exit codes. Like
// scanner, it never prints and never logs secrets. Issue 12.
package fleet
