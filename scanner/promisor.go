package scanner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/go-git/go-git/v5"
)

// Partial clones (issue 10, item 7). `git clone --filter=blob:none`, common
// in CI, leaves blobs out of the repository and fetches them from the
// promisor remote when a command needs them. The history sweep reads the
// object store directly, so it would see no blobs at all and report a
// clean history. Instead, before sweeping a partial clone, the missing
// objects are listed and fetched the way git's own lazy fetch does (git
// fetch --stdin from the promisor remote, with git's noop negotiation);
// what still cannot be had makes the result incomplete, never clean.

// maxPromisorList bounds the missing-object list read from git, so a
// corrupt or hostile repository cannot grow it without end.
const maxPromisorList = 1 << 26

// promisorRemote returns the name of repo's promisor remote, or "" if the
// repository is not a partial clone.
func promisorRemote(repo *git.Repository) string {
	cfg, err := repo.Config()
	if err != nil || cfg.Raw == nil {
		return ""
	}
	if name := cfg.Raw.Section("extensions").Option("partialclone"); name != "" {
		return name
	}
	for _, sub := range cfg.Raw.Section("remote").Subsections {
		if strings.EqualFold(sub.Option("promisor"), "true") {
			return sub.Name
		}
	}
	return ""
}

// completePartialClone fetches the objects a partial clone lacks. It
// returns how many were fetched, and a problem if some are still missing
// (or could not be listed), in which case the sweep is incomplete.
func completePartialClone(ctx context.Context, repo *git.Repository, gitDir string) (int, *FileError) {
	remote := promisorRemote(repo)
	if remote == "" {
		return 0, nil
	}
	incomplete := func(err error) (int, *FileError) {
		return 0, &FileError{Path: "partial clone", Err: err}
	}
	missing, err := missingObjects(ctx, gitDir)
	if err != nil {
		return incomplete(fmt.Errorf("list objects missing from this partial clone: %w", err))
	}
	if len(missing) == 0 {
		return 0, nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", gitDir, "-c", "fetch.negotiationAlgorithm=noop",
		"fetch", remote, "--no-tags", "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin")
	cmd.Stdin = strings.NewReader(strings.Join(missing, "\n") + "\n")
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return incomplete(fmt.Errorf("fetch %d missing object(s) from promisor remote %q: %w: %s", len(missing), remote, err, firstLine(out)))
	}
	still, err := missingObjects(ctx, gitDir)
	if err != nil {
		return incomplete(fmt.Errorf("list objects missing from this partial clone: %w", err))
	}
	if len(still) > 0 {
		return incomplete(fmt.Errorf("%d object(s) are still missing after fetching from promisor remote %q (first: %s)", len(still), remote, still[0]))
	}
	return len(missing), nil
}

// missingObjects lists the objects reachable from any ref or reflog that
// are not in the repository, as git rev-list reports them.
func missingObjects(ctx context.Context, gitDir string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", gitDir, "rev-list", "--objects", "--all", "--reflog", "--missing=print")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var missing []string
	read := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Bytes()
		read += len(line)
		if read > maxPromisorList {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("more than %d bytes of object list", maxPromisorList)
		}
		if h, ok := bytes.CutPrefix(line, []byte("?")); ok && len(h) >= 40 {
			missing = append(missing, string(h[:40]))
		}
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git rev-list: %w: %s", err, firstLine(stderr.Bytes()))
	}
	return missing, nil
}

// firstLine is the first line of a command's output, for an error.
func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	return string(line)
}
