package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// MessagePath is the Provenance.Path of a finding in a commit message
// (Provenance.Message is true and Provenance.Commit names the commit). A
// fixed name rather than one per commit keeps the fingerprint of a key
// pasted into two commit messages the same, as it is for one key in two
// versions of a file.
const MessagePath = "commit-message"

// maxClockSkew is how far a commit's date may run ahead of its parent's
// and still have the range walk settle which commits the excluded side
// reaches. Commits are walked newest first and the walk stops once only
// excluded history is left and it is older than every commit in the range
// by this much. Skew past it can only include an extra, already-pushed
// commit in the scan, never leave one out.
const maxClockSkew = 24 * time.Hour

// Range is the commits in Spec, in the repository containing Dir, with
// the messages of the annotated tags it pushes: each commit's own changes, that is
// the lines it added compared with its first parent (every file of a root
// commit), and its message. A merge commit is scanned for what neither
// parent had: a line counts as added only when no parent's version of the
// file holds it, which catches an "evil merge" that slips a secret into the
// merge itself, a change that history scans diffing against the first
// parent alone miss or attribute to the wrong commit.
//
// spec takes the forms CI systems and git hooks pass:
//
//	A..B    commits reachable from B and not from A
//	A...B   the same set as merge-base(A,B)..B (what CI means by "this
//	        branch's commits"); with every merge base excluded this is
//	        exactly A..B, so it is computed that way
//	C       that one commit
//	0000000000000000000000000000000000000000..B
//	        what pre-push passes for a new branch: the commits reachable
//	        from B and from no remote-tracking ref (refs/remotes/*), or
//	        all of B's history when there are none
//
// Each side is any revision git-style syntax go-git resolves: branches,
// tags, remote branches (origin/main), short or full hashes, HEAD~3; an
// empty side is HEAD. A shallow clone's boundary commits have no parents to
// compare with: they are scanned as root commits and a warning says so.
// Commits are scanned oldest first. A blob over the size limit is listed in
// Result.Skipped as <commit>:<path> (the commit's first 12 hex digits, git's
// own rev:path notation).
type Range struct {
	Dir, Spec string
	// Progress, if set, is called after each commit is scanned.
	Progress func(RangeProgress)
}

// Scan implements Source.
func (r Range) Scan(ctx context.Context, run *Run) error {
	res, err := run.e.scanRange(ctx, r.Dir, r.Spec, r.Progress)
	if err != nil {
		return err
	}
	run.Merge(res)
	return nil
}

// ScanRange scans the commits in spec in the repository containing dir
// (the Range source without Engine.Run's suppressions).
func (e *Engine) ScanRange(ctx context.Context, dir, spec string) (*Result, error) {
	return e.Collect(ctx, Range{Dir: dir, Spec: spec})
}

// RangeProgress reports how far a range scan has got, in one unit:
// commits, the range's count of work (a commit's diff is what is read).
type RangeProgress struct {
	Commits, CommitsTotal int64
	// Elapsed is the time since the commits were listed.
	Elapsed time.Duration
}

// scanRange is ScanRange with a progress callback, called after each
// commit from the scanning goroutine; the caller throttles what it shows.
func (e *Engine) scanRange(ctx context.Context, dir, spec string, progress func(RangeProgress)) (res *Result, err error) {
	defer guardGit("scan range", &err)
	handles := e.repoHandles(ctx, dir, false)
	defer handles.close()
	repo, err := handles.open()
	if err != nil {
		return nil, err
	}
	w := newRangeWalk(repo)
	if err := w.loadShallow(); err != nil {
		return nil, err
	}
	run := e.startRange(ctx, w, handles.open)
	defer run.stop()
	commits, err := w.resolve(ctx, spec)
	if err != nil {
		return nil, err
	}
	res = &Result{Warnings: w.warnings, Commits: int64(len(commits))}
	if msg := submoduleWarning(repo, "range scans"); msg != "" {
		res.Warnings = append(res.Warnings, msg)
	}
	if err := e.scanTags(ctx, w.tags, res); err != nil {
		return nil, err
	}
	start := time.Now()
	var done func(int)
	if progress != nil {
		done = func(n int) {
			progress(RangeProgress{Commits: int64(n), CommitsTotal: int64(len(commits)), Elapsed: time.Since(start)})
		}
	}
	if err := run.scan(ctx, commits, res, done); err != nil {
		return nil, err
	}
	if n := len(w.cut); n > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"shallow clone: history is cut off at %d commit(s) in the range; they were scanned as first commits, so their findings may predate the range (git fetch --unshallow gives the full history)", n))
	}
	res.Sort()
	return res, nil
}

// rangeWalk lists the commits of a range with the one commit walker
// (walk.go), reading commits through the repository's object reader.
// repo.Log is not used: it mishandles merges, and it cannot exclude.
type rangeWalk struct {
	*walker
	repo *git.Repository
	cut  map[plumbing.Hash]bool // shallow commits met in the range
	// warnings are for Result.Warnings.
	warnings []string
	// tags are the annotated tags the range's right side names: a pushed
	// tag, whose message is scanned with the commits (tagmsg.go).
	tags []*object.Tag
}

// loadShallow reads .git/shallow: commits whose parents were not fetched.
func (w *rangeWalk) loadShallow() error {
	hs, err := w.repo.Storer.Shallow()
	if err != nil {
		return fmt.Errorf("read shallow list: %w", err)
	}
	w.cut = map[plumbing.Hash]bool{}
	for _, h := range hs {
		w.shallow[h] = true
	}
	return nil
}

// resolve turns spec into the commits to scan, parents first.
func (w *rangeWalk) resolve(ctx context.Context, spec string) ([]*commitRec, error) {
	fail := func(err error) error { return fmt.Errorf("resolve range %q: %w", spec, err) }
	left, right, isRange := strings.Cut(spec, "...")
	if !isRange {
		left, right, isRange = strings.Cut(spec, "..")
	}
	if !isRange {
		w.tags = w.pushedTags(spec)
		h, err := w.revision(spec)
		if err != nil {
			return nil, fail(err)
		}
		c, err := w.commit(h)
		if err != nil {
			return nil, fail(err)
		}
		return []*commitRec{c}, nil
	}
	if right == "" {
		right = "HEAD"
	}
	if left == "" {
		left = "HEAD"
	}
	if isZeroRev(right) {
		return nil, fail(errors.New("the right side is the zero object name (a deleted ref): nothing to scan"))
	}
	w.tags = w.pushedTags(right)
	to, err := w.revision(right)
	if err != nil {
		return nil, fail(err)
	}
	var exclude []plumbing.Hash
	switch {
	case isZeroRev(left):
		exclude, err = w.remoteTips()
	case isFullHash(left) && !w.hasCommit(left):
		// pre-push after someone else pushed (or a force-push): the
		// remote's old tip was never fetched here. What the remotes are
		// known to have is the best stand-in; it can only scan more.
		w.warnings = append(w.warnings, fmt.Sprintf(
			"%s is not in this repository; scanning the commits no remote-tracking ref has instead", left))
		exclude, err = w.remoteTips()
	default:
		var h plumbing.Hash
		h, err = w.revision(left)
		exclude = []plumbing.Hash{h}
	}
	if err != nil {
		return nil, fail(err)
	}
	cs, err := w.walk(ctx, []plumbing.Hash{to}, exclude)
	if err != nil {
		return nil, fail(err)
	}
	return cs, nil
}

// isZeroRev reports whether s is git's all-zero object name (SHA-1 or
// SHA-256 length), which hooks pass for a ref that does not exist yet.
func isZeroRev(s string) bool {
	return (len(s) == 40 || len(s) == 64) && strings.Trim(s, "0") == ""
}

// isFullHash reports whether s is a full hexadecimal object name.
func isFullHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// hasCommit reports whether the commit named by the full hash s is here.
func (w *rangeWalk) hasCommit(s string) bool {
	_, err := w.commit(plumbing.NewHash(s))
	return err == nil
}

// revision resolves one side of a range to a commit. Ancestry steps at
// its end (HEAD~100, main^2, v2.0~3^) are taken through the walk's own
// commit reader, so the commits they pass are read once, for the walk
// too, rather than decoded by go-git first; go-git resolves the rest.
func (w *rangeWalk) revision(rev string) (plumbing.Hash, error) {
	base, steps := splitAncestry(rev)
	h, err := w.repo.ResolveRevision(plumbing.Revision(base))
	if err != nil {
		if _, herr := w.repo.Head(); errors.Is(herr, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, errors.New("the repository has no commits yet")
		}
		if errors.Is(err, io.EOF) {
			return plumbing.ZeroHash, fmt.Errorf("%s: goes past the first commit", rev)
		}
		return plumbing.ZeroHash, fmt.Errorf("%s: %w", rev, err)
	}
	at := *h
	for _, st := range steps {
		for range st.times {
			c, err := w.commit(at)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("%s: %w", rev, err)
			}
			ps := w.parents(c)
			switch {
			case st.parent <= len(ps):
				at = ps[st.parent-1]
			case w.shallow[c.hash]:
				return plumbing.ZeroHash, fmt.Errorf("%s: goes past the shallow clone's first commit %s (git fetch --deepen or --unshallow fetches more)", rev, c.hash)
			case len(ps) == 0:
				return plumbing.ZeroHash, fmt.Errorf("%s: goes past the first commit", rev)
			default:
				return plumbing.ZeroHash, fmt.Errorf("%s: commit %s has no parent %d", rev, c.hash, st.parent)
			}
		}
	}
	if len(steps) > 0 {
		// A step count of zero (X~0, X^0) names X's commit itself.
		if _, err := w.commit(at); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s: %w", rev, err)
		}
	}
	return at, nil
}

// ancestryStep is one step of a revision's suffix: take parent number
// parent (1 is the first), times times. X~3 is {1, 3}; X^2 is {2, 1};
// X^0 and X~0 are no step at all ({1, 0}).
type ancestryStep struct{ parent, times int }

// splitAncestry splits the ~N and ^N steps off the end of rev, as git
// reads them (a bare ~ or ^ means 1). A revision that is nothing but
// steps, or whose steps follow a :/ search, is left whole for go-git.
func splitAncestry(rev string) (base string, steps []ancestryStep) {
	i := len(rev)
	for i > 0 {
		j := i
		for j > 0 && rev[j-1] >= '0' && rev[j-1] <= '9' {
			j--
		}
		if j == 0 || (rev[j-1] != '~' && rev[j-1] != '^') {
			break
		}
		i = j - 1
	}
	base = rev[:i]
	if base == "" || strings.HasPrefix(base, ":") || strings.ContainsAny(base, "{}") || i == len(rev) {
		return rev, nil
	}
	for k := i; k < len(rev); {
		op := rev[k]
		k++
		j := k
		for j < len(rev) && rev[j] >= '0' && rev[j] <= '9' {
			j++
		}
		n := 1
		if j > k {
			v, err := strconv.Atoi(rev[k:j])
			if err != nil || v > maxAncestrySteps {
				return rev, nil // go-git says what is wrong with it
			}
			n = v
		}
		k = j
		switch {
		case op == '~':
			steps = append(steps, ancestryStep{parent: 1, times: n})
		case n == 0:
			steps = append(steps, ancestryStep{parent: 1, times: 0})
		default:
			steps = append(steps, ancestryStep{parent: n, times: 1})
		}
	}
	return base, steps
}

// maxAncestrySteps bounds a step's number, so a typo of HEAD~1000000000
// is refused by go-git's parser rather than walked.
const maxAncestrySteps = 1 << 20

// remoteTips returns the commits remote-tracking refs point at: what the
// remotes are known to have already.
func (w *rangeWalk) remoteTips() ([]plumbing.Hash, error) {
	refs, err := w.repo.References()
	if err != nil {
		return nil, fmt.Errorf("list references: %w", err)
	}
	defer refs.Close()
	var tips []plumbing.Hash
	for {
		ref, err := refs.Next()
		if err == io.EOF {
			return tips, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list references: %w", err)
		}
		if ref.Type() != plumbing.HashReference || !ref.Name().IsRemote() {
			continue // refs/remotes/origin/HEAD is symbolic, its target is listed too
		}
		if _, err := w.commit(ref.Hash()); err == nil {
			tips = append(tips, ref.Hash())
		}
	}
}

// commitJob is one commit of a range with what its scan needs from the
// walk: the trees of its parents (the first is diffed, all are consulted).
// Jobs are built in order by the walk's goroutine, so the workers that
// scan them never touch the walk's maps.
type commitJob struct {
	c           *commitRec
	parentTrees []plumbing.Hash
}

// job prepares commit c's scan, noting a shallow boundary it meets.
func (w *rangeWalk) job(c *commitRec) (commitJob, error) {
	w.noteCut(c)
	return w.jobFor(c)
}

// noteCut records c if it is a shallow boundary: a commit of the range
// scanned as a root because its parents were not fetched.
func (w *rangeWalk) noteCut(c *commitRec) {
	if w.shallow[c.hash] {
		w.cut[c.hash] = true
	}
}

// jobFor prepares commit c's scan. The walk calls it as it takes c, so
// the workers can start before the range is settled; c's parents have
// been read by then (the walk queues them first).
func (w *rangeWalk) jobFor(c *commitRec) (commitJob, error) {
	j := commitJob{c: c}
	for _, p := range w.parents(c) {
		pc, err := w.commit(p)
		if err != nil {
			return commitJob{}, err
		}
		j.parentTrees = append(j.parentTrees, pc.tree)
	}
	return j, nil
}

// rangeWorker is what a range worker carries from one commit to the next:
// the trees checked (trees.go), and the last version of each path scanned
// (rangekw.go), both shared by the workers of one scan.
type rangeWorker struct {
	trees    *treeIndexes // shared by the workers of one scan
	versions *versionMemo // shared by the workers of one scan
}

// newRangeWorker returns the empty state of a scan's only worker.
func (e *Engine) newRangeWorker(versions *versionMemo) *rangeWorker {
	return &rangeWorker{trees: &treeIndexes{byName: e.diffByName}, versions: versions}
}

// scanCommit scans one commit's message and the lines it added; rw, if
// set, carries what was learnt from one commit to the next.
func (e *Engine) scanCommit(ctx context.Context, w *rangeWalk, rw *rangeWorker, c *commitRec, res *Result) error {
	j, err := w.job(c)
	if err != nil {
		return err
	}
	return e.scanJob(ctx, w.repo, rw, j, res)
}

// scanJob scans one prepared commit through repo, adding to res. rw, if
// set, is the worker's state: the trees it already checked and the
// versions it already scanned.
func (e *Engine) scanJob(ctx context.Context, repo *git.Repository, rw *rangeWorker, j commitJob, res *Result) error {
	var idx *treeIndexes
	var versions *versionMemo
	if rw != nil {
		idx, versions = rw.trees, rw.versions
	}
	c, parentTrees := j.c, j.parentTrees
	prov := Provenance{
		Commit: c.hash.String(),
		Author: c.author,
		Email:  c.email,
		Date:   c.when,
	}
	short := c.hash.String()[:12]
	mp := prov
	mp.Path, mp.Kind = MessagePath, KindCommitMessage
	res.Findings = append(res.Findings, e.scanMessage(c.message, mp)...)

	var first plumbing.Hash
	if len(parentTrees) > 0 {
		first = parentTrees[0]
	}
	var others, walkOthers []plumbing.Hash
	if len(parentTrees) > 1 {
		others = parentTrees[1:]
		for _, pt := range others {
			if pt == c.tree && (idx == nil || !idx.byName) {
				return nil // the merge kept another parent's tree as it was
			}
		}
		if idx == nil || !idx.byName {
			walkOthers = others
		}
	}
	var changes []treeChange
	var renames renameSources
	err := diffMerge(ctx, repo, idx, first, walkOthers, c.tree, "", func(tc treeChange) error {
		if tc.To.IsZero() {
			renames.deleted = append(renames.deleted, deletedFile{Path: tc.Path, Hash: tc.From, Tree: tc.Tree, Kept: tc.Kept})
		} else {
			changes = append(changes, tc)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("diff commit %s: %w", c.hash, err)
	}
	for _, tc := range changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		from, fromParent, err := mergeSources(repo, tc, others)
		if err != nil {
			return fmt.Errorf("diff commit %s: %w", c.hash, err)
		}
		if fromParent {
			continue // the merge took this file from another parent as is
		}
		if err := e.scanAdded(ctx, repo, tc, from, &renames, versions, prov, short, res); err != nil {
			return err
		}
	}
	return nil
}

// mergeSources returns the versions a change's file had before it: in the
// first parent, then in each of others (a merge's other parents' trees),
// and whether one of those is the version written (the merge took the file
// from that parent as it was). The walk read the other parents' trees
// alongside (tc.Others); blobAt answers only where it could not.
func mergeSources(repo *git.Repository, tc treeChange, others []plumbing.Hash) (from []plumbing.Hash, fromParent bool, err error) {
	from = []plumbing.Hash{tc.From}
	for i, pt := range others {
		var h plumbing.Hash
		if tc.Others != nil {
			h = tc.Others[i]
		} else if h, err = blobAt(repo, pt, tc.Path); err != nil {
			return nil, false, err
		}
		fromParent = fromParent || h == tc.To
		from = append(from, h)
	}
	return from, fromParent, nil
}

// scanAdded scans the blob a change wrote and keeps the findings on lines
// none of the versions from had; versions, if set, tracks keywords from
// the path's previous version.
func (e *Engine) scanAdded(ctx context.Context, repo *git.Repository, tc treeChange, from []plumbing.Hash, rs *renameSources, versions *versionMemo, prov Provenance, short string, res *Result) error {
	allNew := true
	for _, h := range from {
		allNew = allNew && h.IsZero()
	}
	if allNew {
		pure, err := rs.isPureRename(ctx, repo, tc.To)
		if err != nil || pure {
			return err
		}
	}
	data, size, tooLarge, err := e.readBlob(repo, tc.To, short+":"+tc.Path)
	if err != nil {
		return err
	}
	if tooLarge {
		prov.Path = tc.Path
		fs, n, skips, err := e.scanChangedLarge(ctx, repo, tc.To, prov, from, short+":"+tc.Path)
		if err != nil {
			return err
		}
		res.addContent(n, fs, skips)
		return nil
	}
	res.Files++
	res.Bytes += size
	prov.Path = tc.Path
	fs, skips, err := e.scanChangedVersion(ctx, repo, data, prov, from, rs, versions)
	if err != nil {
		return err
	}
	for _, s := range skips {
		s.Path = short + ":" + s.Path
		res.Skipped = append(res.Skipped, s)
	}
	res.Findings = append(res.Findings, fs...)
	return nil
}
