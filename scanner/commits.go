package scanner

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// This file is the source the gates use when "the commits to check" is not
// one git range: a push (pre-push to one remote, pre-receive on a server, a
// CI push event) brings several new tips and must be compared with several
// existing ones. It reuses the range walk and the per-commit scan, so a
// gate sees exactly what 'scan --range' would (issue 9).

// ScanCommits scans the commits reachable from any of include and from none
// of exclude — git's `rev-list INCLUDE... --not EXCLUDE...` — each commit's
// added lines and message, as ScanRange does. Each entry is a full object
// name or any revision go-git resolves. An include that is an annotated tag
// is peeled; a tag pointing at a blob or a tree (git allows both) has that
// blob, or every blob of that tree, scanned whole, since it has no parent
// to compare with. Excludes must resolve to commits (or tags of commits);
// an exclude that does not resolve is an error, because dropping it could
// only make the scan smaller than the caller meant.
// walked is how many commits the walk found, so a gate can tell "nothing
// was pushed" from "nothing was found".
//
// With opts.ViaGit, objects go-git cannot find are read through git itself
// (see gitobjects.go): what a pre-receive hook needs to see a push's
// objects in git's quarantine.
func (e *Engine) ScanCommits(ctx context.Context, dir string, include, exclude []string, opts CommitsOptions) (res *Result, walked int, err error) {
	defer guardGit("scan commits", &err)
	handles := e.repoHandles(ctx, dir, opts.ViaGit)
	defer handles.close()
	repo, err := handles.open()
	if err != nil {
		return nil, 0, err
	}
	w := newRangeWalk(repo)
	if err := w.loadShallow(); err != nil {
		return nil, 0, err
	}
	res = &Result{}
	var inc, exc []plumbing.Hash
	for _, x := range exclude {
		h, err := w.revision(x)
		if err != nil {
			return nil, 0, fmt.Errorf("scan commits: exclude %s: %w", x, err)
		}
		exc = append(exc, h)
	}
	seenObj := map[plumbing.Hash]bool{}
	var tags []*object.Tag
	for _, x := range include {
		// A pushed annotated tag's message is scanned too (tagmsg.go).
		for _, t := range w.pushedTags(x) {
			if !seenObj[t.Hash] {
				seenObj[t.Hash] = true
				tags = append(tags, t)
			}
		}
		h, err := resolveObject(w, x)
		if err != nil {
			return nil, 0, fmt.Errorf("scan commits: %s: %w", x, err)
		}
		obj, err := peelObject(w, h)
		if err != nil {
			return nil, 0, fmt.Errorf("scan commits: %s: %w", x, err)
		}
		switch o := obj.(type) {
		case *object.Commit:
			inc = append(inc, o.Hash)
		case *object.Blob:
			if !seenObj[o.Hash] {
				seenObj[o.Hash] = true
				if err := e.scanWholeBlob(w, o.Hash, x, res); err != nil {
					return nil, 0, err
				}
			}
		case *object.Tree:
			if !seenObj[o.Hash] {
				seenObj[o.Hash] = true
				err := diffTrees(ctx, repo, plumbing.ZeroHash, o.Hash, "", func(tc treeChange) error {
					return e.scanWholeBlob(w, tc.To, x+":"+tc.Path, res)
				})
				if err != nil {
					return nil, 0, fmt.Errorf("scan commits: tree %s: %w", x, err)
				}
			}
		}
	}
	run := e.startRange(ctx, w, handles.open)
	defer run.stop()
	commits, err := w.walk(ctx, inc, exc)
	if err != nil {
		return nil, 0, fmt.Errorf("scan commits: %w", err)
	}
	walked = len(commits)
	res.Commits = int64(walked)
	if err := e.scanTags(ctx, tags, res); err != nil {
		return nil, 0, err
	}
	if err := run.scan(ctx, commits, res, nil); err != nil {
		return nil, 0, err
	}
	if n := len(w.cut); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"shallow clone: history is cut off at %d commit(s) in the range; they were scanned as first commits", n))
	}
	res.Sort()
	return res, walked, nil
}

// CommitsOptions are ScanCommits' options.
type CommitsOptions struct {
	// ViaGit reads objects go-git's store lacks with git cat-file, which
	// honours GIT_OBJECT_DIRECTORY and GIT_ALTERNATE_OBJECT_DIRECTORIES.
	ViaGit bool
}

// resolveObject resolves x to an object name without requiring a commit:
// a full hash is taken as is, anything else goes through the revision
// parser.
func resolveObject(w *rangeWalk, x string) (plumbing.Hash, error) {
	if isFullHash(x) {
		return plumbing.NewHash(x), nil
	}
	if ref, err := w.repo.Reference(plumbing.ReferenceName(x), true); err == nil {
		return ref.Hash(), nil
	}
	return w.revision(x)
}

// maxTagDepth bounds a chain of tags pointing at tags; git itself stops
// peeling far sooner than any real chain needs.
const maxTagDepth = 64

// peelObject follows annotated tags to the object they finally name.
func peelObject(w *rangeWalk, h plumbing.Hash) (object.Object, error) {
	for range maxTagDepth {
		obj, err := w.repo.Object(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("read object %s: %w", h, err)
		}
		t, ok := obj.(*object.Tag)
		if !ok {
			return obj, nil
		}
		h = t.Target
	}
	return nil, fmt.Errorf("read object %s: tags nested more than %d deep", h, maxTagDepth)
}

// scanWholeBlob scans every line of blob h: a blob a tag points at
// directly has no earlier version to compare with.
func (e *Engine) scanWholeBlob(w *rangeWalk, h plumbing.Hash, label string, res *Result) error {
	data, size, tooLarge, err := e.readBlob(w.repo, h, label)
	if err != nil {
		return err
	}
	if tooLarge {
		// Over the in-memory limit: scanned as a stream (stream.go).
		fs, n, skips, err := e.streamBlob(context.Background(), w.repo, h, Provenance{Path: label}, label)
		if err != nil {
			return err
		}
		res.addContent(n, fs, skips)
		return nil
	}
	fs, skips := e.ScanContent(data, Provenance{Path: label})
	res.addContent(size, fs, skips)
	return nil
}
