package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// HistoryOptions configure a history sweep.
type HistoryOptions struct {
	// AllObjects also reports what no ref reaches: blobs and commits left
	// behind by a reset, an amended commit or a deleted branch, which stay
	// in the object store (and in any clone made with --mirror) until they
	// are pruned.
	AllObjects bool
	// Progress, if set, is called about every progressInterval from one
	// goroutine, and once more when a phase ends.
	Progress func(HistoryProgress)
}

// HistoryProgress reports how far a sweep has got. Blobs count objects;
// Bytes count what is stored on disk (compressed), which is what reading
// costs and what the ETA is computed from.
type HistoryProgress struct {
	Blobs, BlobsTotal int64
	Bytes, BytesTotal int64
	// Phase is "objects" while commits, tags and blobs are read and
	// scanned, then "trees" while trees are read to locate findings (only
	// when there are findings; otherwise their bytes count as done at the
	// end).
	Phase string
	// Elapsed is the time since the sweep began; Rate is Bytes per second
	// over it; ETA is the remaining time at that rate, 0 when unknown.
	Elapsed time.Duration
	Rate    float64
	ETA     time.Duration
}

// attributeCheckEvery is how many commits attribution handles between
// looks at the context: often enough to stop promptly, rarely enough to
// cost nothing.
const attributeCheckEvery = 1024

// progressInterval is how often Progress is called: often enough for a
// live line on a terminal, rare enough to cost nothing.
const progressInterval = 200 * time.Millisecond

// History is every object the refs of the repository containing Dir
// reach: every blob reachable from any ref (branches, tags,
// remote-tracking refs, notes, every stash entry) is scanned once, however
// many commits hold it, and commit and annotated tag messages too. Each
// finding is attributed to the oldest commit (parents first, then by
// committer date) that has the secret at that path, and PresentIn names the
// branches whose tips still hold it.
//
// Objects are read straight from the packs in offset order, resolving each
// delta forest depth-first, because reading in hash order (as go-git's
// object iterators do) inflates delta bases again and again: 5x slower on
// git/git (issue 3).
type History struct {
	Dir  string
	Opts HistoryOptions
}

// Scan implements Source.
func (hs History) Scan(ctx context.Context, run *Run) error {
	s, g, err := run.e.sweepHistory(ctx, hs.Dir, hs.Opts)
	if err != nil {
		return err
	}
	defer s.st.close()
	res, err := s.attribute(ctx, g, hs.Opts.AllObjects)
	if err != nil {
		return err
	}
	run.Merge(res)
	return nil
}

// ScanHistory sweeps the whole history of the repository containing dir
// (the History source without Engine.Run's suppressions).
func (e *Engine) ScanHistory(ctx context.Context, dir string, opts HistoryOptions) (*Result, error) {
	return e.Collect(ctx, History{Dir: dir, Opts: opts})
}

// history is the commit graph as seen from the refs.
type history struct {
	gitDir string
	// repo reads blobs over the in-memory limit as streams (stream.go).
	repo      *git.Repository
	reachable map[plumbing.Hash]*commitRec
	// branches are local and remote-tracking branches by short name, with
	// their peeled tips, for PresentIn.
	branches map[string]plumbing.Hash
	// extraRoots are trees and blobs that refs point at directly (a tag of
	// a tree or a blob).
	extraRoots []refRoot
	// tagReached holds the annotated tags some ref reaches, whose
	// messages are reported (tagmsg.go).
	tagReached map[plumbing.Hash]bool
	// labels name the commits only a stash entry or notes ref reaches
	// (history_refs.go).
	labels   map[plumbing.Hash]refLabel
	warnings []string
	// gaps are parts of the history the walk could not read (a commit,
	// or the object a ref names, missing from a repository that is not
	// shallow): what lies behind them was not swept, so the result is
	// incomplete, as for a missing blob (missing.go).
	gaps []FileError
}

// refRoot is a ref that names a tree or a blob rather than a commit.
type refRoot struct {
	ref  string
	hash plumbing.Hash
	typ  plumbing.ObjectType
}

// sweepHistory does everything but attribution, so tests can look at the
// graph.
func (e *Engine) sweepHistory(ctx context.Context, dir string, opts HistoryOptions) (*sweep, *history, error) {
	r, err := e.openHistoryRepo(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	repo, gitDir := r.Repository, r.GitDir
	refs, err := listRefs(repo)
	if err != nil {
		return nil, nil, err
	}
	// A partial clone lacks blobs until they are fetched (promisor.go).
	fetched, promised := completePartialClone(ctx, repo, gitDir)
	if fetched > 0 {
		// The fetch wrote a pack: open again to read it.
		if r, err = e.openHistoryRepo(ctx, dir); err != nil {
			return nil, nil, err
		}
		repo = r.Repository
	}
	// An unreadable stash reflog costs the older stash entries, not the
	// sweep: the warning says what was not swept.
	stash, stashErr := stashEntries(gitDir)
	refs = withStashEntries(refs, stash)
	// The sweep reads the packs the repository opened, in pack order.
	st := openObjects(r.objects)
	if promised != nil {
		st.problems = append(st.problems, *promised)
	}
	st.fetched = fetched
	s := newSweep(e, st)
	// Objects the sweep needs from outside a pack's own forests (a thin
	// pack's REF_DELTA base, or a fallback) are read by hash from the same
	// packs, as range and staged scans read them, with the delta-base
	// cache; then from go-git.
	var extMu sync.Mutex
	s.ext = func(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
		if typ, _, data, err := r.objects.read(h, maxInt64); err == nil {
			return typ, data, nil
		}
		extMu.Lock() // go-git's object storage is not safe for concurrent use
		defer extMu.Unlock()
		obj, err := repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return 0, nil, err
		}
		r, err := obj.Reader()
		if err != nil {
			return 0, nil, err
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		return obj.Type(), data, err
	}
	fail := func(err error) (*sweep, *history, error) {
		st.close()
		return nil, nil, err
	}

	workers := s.workers()
	prog := s.reportProgress(opts.Progress)
	for _, phase := range []int{phaseObjects, phaseTrees} {
		if phase == phaseTrees {
			// Trees are read even with nothing to locate: a blob they
			// name that the repository lacks makes the sweep
			// incomplete (missing.go).
			s.interesting = newBitset(st.ids.len())
			s.interestingPrefix = newBitset(1 << 16)
			s.trees = make([]treeSpan, st.ids.len())
			mark := func(id uint32) {
				s.interesting.set(id)
				h := st.hashOf(id)
				s.interestingPrefix.set(uint32(h[0])<<8 | uint32(h[1]))
			}
			for id := range s.blobFinds {
				mark(id)
			}
			for id := range s.tooLarge {
				mark(id)
			}
			for id := range s.archiveSkips {
				mark(id)
			}
		}
		s.phaseName.Store(phaseNames[phase])
		if err := s.run(ctx, phase, workers); err != nil {
			prog(false)
			return fail(err)
		}
	}
	prog(true)

	h := &history{gitDir: gitDir, repo: repo, branches: map[string]plumbing.Hash{}}
	if w := submoduleWarning(repo, "history sweeps"); w != "" {
		h.warnings = append(h.warnings, w)
	}
	if stashErr != nil {
		h.warnings = append(h.warnings, stashErr.Error()+"; stash entries older than stash@{0} were not swept")
	}
	shallow, _ := repo.Storer.Shallow()
	if err := h.walk(ctx, s, refs, shallow); err != nil {
		return fail(err)
	}
	h.labelSideCommits(s, refs, stash)
	return s, h, nil
}

// openHistoryRepo opens the repository containing dir; the sweep reads
// its packs and git directory.
func (e *Engine) openHistoryRepo(ctx context.Context, dir string) (*Repository, error) {
	return OpenRepository(ctx, dir, OpenOptions{MaxBlobSize: e.opts.MaxFileSize})
}

// commonDir is where a worktree's shared objects and refs live.
func commonDir(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return gitDir
	}
	p := strings.TrimSpace(string(b))
	if !filepath.IsAbs(p) {
		p = filepath.Join(gitDir, p)
	}
	return p
}

// listRefs returns every ref that names an object: branches, tags,
// remote-tracking refs, notes, the stash, and HEAD when it is detached.
// Symbolic refs are skipped: they name another ref, which is listed.
func listRefs(repo *git.Repository) ([]*plumbing.Reference, error) {
	it, err := repo.Storer.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	var refs []*plumbing.Reference
	err = it.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference {
			refs = append(refs, r)
		}
		return nil
	})
	if err != nil && !errors.Is(err, storer.ErrStop) {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	if head, err := repo.Storer.Reference(plumbing.HEAD); err == nil && head.Type() == plumbing.HashReference {
		refs = append(refs, head)
	}
	return refs, nil
}

// walk finds every commit reachable from refs with the one commit walker
// (walk.go) over the commits the sweep parsed, following every parent of
// every commit. (go-git's Log with All stops a ref's walk at the first
// commit already seen, dropping merges' other parents, and skips refs to
// annotated tags; issue 3.)
func (h *history) walk(ctx context.Context, s *sweep, refs []*plumbing.Reference, shallow []plumbing.Hash) error {
	h.reachable = map[plumbing.Hash]*commitRec{}
	h.tagReached = map[plumbing.Hash]bool{}
	var stack []plumbing.Hash
	var missing []string
	for _, r := range refs {
		h.markTags(s, r.Hash())
		target, typ, ok := peel(s, r.Hash())
		if !ok {
			missing = append(missing, r.Name().String())
			continue
		}
		name := r.Name()
		switch typ {
		case plumbing.CommitObject:
			stack = append(stack, target)
			switch {
			case name.IsBranch():
				h.branches[name.Short()] = target
			case name.IsRemote() && !strings.HasSuffix(name.String(), "/HEAD"):
				h.branches[name.Short()] = target
			}
		case plumbing.TreeObject, plumbing.BlobObject:
			h.extraRoots = append(h.extraRoots, refRoot{ref: name.String(), hash: target, typ: typ})
		}
	}
	w := newWalker(sweptCommits(s.commits))
	for _, c := range shallow {
		w.shallow[c] = true // its parents were not fetched
	}
	var lost int
	var firstLost plumbing.Hash
	w.missing = func(c plumbing.Hash) {
		if lost == 0 {
			firstLost = c
		}
		lost++
	}
	reachable, err := w.reach(ctx, stack, nil)
	if err != nil {
		return err
	}
	h.reachable = reachable
	if len(refs) == 0 {
		h.warnings = append(h.warnings, "repository has no commits")
	}
	if len(shallow) > 0 {
		h.warnings = append(h.warnings, fmt.Sprintf("shallow clone: history behind %d boundary commit(s) is not in this repository and was not swept; run 'git fetch --unshallow' to sweep it", len(shallow)))
	}
	if len(missing) > 0 {
		err := fmt.Errorf("%d ref(s) point at missing objects (first: %s)", len(missing), missing[0])
		h.gaps = append(h.gaps, FileError{Path: "missing refs", Err: err})
		h.warnings = append(h.warnings, fmt.Sprintf("%v; the result is incomplete", err))
	}
	if lost > 0 {
		err := fmt.Errorf("%d commit(s) are missing or unreadable (first: %s)", lost, firstLost)
		h.gaps = append(h.gaps, FileError{Path: "missing commits", Err: err})
		h.warnings = append(h.warnings, fmt.Sprintf("%v; history behind them was not swept and the result is incomplete", err))
	}
	return nil
}

// peel follows annotated tags to what they finally name.
func peel(s *sweep, h plumbing.Hash) (plumbing.Hash, plumbing.ObjectType, bool) {
	typ := plumbing.AnyObject
	for range maxTagChain {
		if t, ok := s.tags[h]; ok {
			h, typ = t.target, t.typ
			continue
		}
		if _, ok := s.commits[h]; ok {
			return h, plumbing.CommitObject, true
		}
		if _, ok := s.st.ids.get(h[:]); !ok {
			return h, 0, false
		}
		if typ == plumbing.AnyObject {
			if _, ok := s.treeRec(idOf(s, h)); ok {
				typ = plumbing.TreeObject
			} else {
				typ = plumbing.BlobObject
			}
		}
		return h, typ, true
	}
	return h, 0, false
}

// idOf is h's object id; callers have checked that it exists.
func idOf(s *sweep, h plumbing.Hash) uint32 {
	id, _ := s.st.ids.get(h[:])
	return id
}

// phaseNames are HistoryProgress.Phase values.
var phaseNames = [...]string{phaseObjects: "objects", phaseTrees: "trees"}

// reportProgress calls fn every progressInterval until the returned stop
// is called, then once more with the final counts; done marks a sweep
// that finished, whose last report says all bytes are read (the tree
// phase, skipped when there are no findings, counts as read).
func (s *sweep) reportProgress(fn func(HistoryProgress)) (stop func(done bool)) {
	if fn == nil {
		return func(bool) {}
	}
	blobsTotal, bytesA := s.totals(phaseObjects)
	_, bytesB := s.totals(phaseTrees)
	start := time.Now()
	snap := func(done bool) HistoryProgress {
		p := HistoryProgress{
			Phase:      s.phaseName.Load().(string),
			Blobs:      s.blobs.Load(),
			BlobsTotal: blobsTotal,
			Bytes:      s.stored.Load(),
			BytesTotal: bytesA + bytesB,
			Elapsed:    time.Since(start),
		}
		if done {
			p.Bytes = p.BytesTotal
		}
		if sec := p.Elapsed.Seconds(); sec > 0 {
			p.Rate = float64(p.Bytes) / sec
		}
		if p.Rate > 0 && p.BytesTotal > p.Bytes {
			p.ETA = time.Duration(float64(p.BytesTotal-p.Bytes) / p.Rate * float64(time.Second))
		}
		return p
	}
	stopc := make(chan bool)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fn(snap(false))
			case done := <-stopc:
				fn(snap(done))
				return
			}
		}
	}()
	return func(done bool) {
		stopc <- done
		<-finished
	}
}

// attribute turns per-blob findings into per-path findings, each
// attributed to the commit that introduced it.
func (s *sweep) attribute(ctx context.Context, h *history, allObjects bool) (*Result, error) {
	res := &Result{Files: s.blobs.Load(), Bytes: s.blobBytes.Load(), Commits: int64(len(h.reachable))}
	res.Warnings = append(res.Warnings, h.warnings...)
	res.Errors = append(res.Errors, h.gaps...)
	if n, first := s.missingReached(h, allObjects); n > 0 {
		err := fmt.Errorf("%d object(s) named by trees are not in the repository (first: %s)", n, first)
		res.Errors = append(res.Errors, FileError{Path: "missing objects", Err: err})
		res.Warnings = append(res.Warnings, fmt.Sprintf("%v; their content was not scanned and the result is incomplete", err))
	}
	if s.st.fetched > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("partial clone: fetched %d missing object(s) from the promisor remote before sweeping", s.st.fetched))
	}
	for _, p := range s.st.problems {
		res.Errors = append(res.Errors, p)
		if p.Path == "partial clone" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("partial clone: %v; the result is incomplete", p.Err))
			continue
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s could not be read; objects in it were not swept", filepath.Base(p.Path)))
	}
	for _, p := range s.st.packs {
		if p.bad > 0 {
			s.noteBad(p.path, p.bad, p.badFirst)
		}
	}
	var badWhere []string
	for w := range s.bad {
		badWhere = append(badWhere, w)
	}
	sort.Strings(badWhere)
	for _, w := range badWhere {
		b := s.bad[w]
		res.Errors = append(res.Errors, FileError{Path: w, Err: b.first})
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %d object(s) could not be read; the result may be incomplete", filepath.Base(w), b.n))
	}

	loc := newLocator(s)
	found := map[string]*Finding{}
	var order []string
	attributed := map[uint32]bool{}
	skipped := map[uint32]bool{}
	add := func(f Finding, prov Provenance) {
		fp := fingerprint(f.RuleID, prov.Path, f.secretMaterial())
		if _, ok := found[fp]; ok {
			return
		}
		f.Provenance = prov
		f.Fingerprint = fp
		found[fp] = &f
		order = append(order, fp)
	}
	// A blob met again at the same path (in every commit that did not
	// touch it) adds nothing: its findings were claimed the first time.
	seenAt := map[pathBlob]bool{}
	visit := func(pbs []pathBlob, prov Provenance) {
		for _, pb := range pbs {
			if seenAt[pb] {
				continue
			}
			seenAt[pb] = true
			if size, ok := s.tooLarge[pb.blob]; ok && !skipped[pb.blob] {
				// Over the in-memory limit: scanned now, as a stream, once.
				skipped[pb.blob] = true
				res.Skipped = append(res.Skipped, s.streamLarge(ctx, h, pb.blob, size, pb.path, res)...)
			}
			attributed[pb.blob] = true
			if skips, ok := s.archiveSkips[pb.blob]; ok && !skipped[pb.blob] {
				skipped[pb.blob] = true
				for _, sk := range skips {
					sk.Path = pb.path + sk.Path // a member path starts with MemberSep
					res.Skipped = append(res.Skipped, sk)
				}
			}
			for _, f := range s.blobFinds[pb.blob] {
				p := prov
				p.Path = pb.path + f.Path // f.Path names the archive member, if any
				add(f, p)
			}
		}
	}
	commitProv := func(c *commitRec) Provenance {
		p := Provenance{Commit: c.hash.String(), Author: c.author, Email: c.email, Date: c.when}
		if l, ok := h.labels[c.hash]; ok {
			p.Kind, p.Ref = l.kind, l.ref
		}
		return p
	}
	seenRoot := map[uint32]bool{}
	walkCommits := func(order []*commitRec) error {
		for i, c := range order {
			if i%attributeCheckEvery == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			prov := commitProv(c)
			for _, f := range s.msgFinds[c.hash] {
				p := prov
				p.Path, p.Kind = MessagePath, KindCommitMessage // the ref stays, naming the stash entry
				add(f, p)
			}
			root, ok := s.st.ids.get(c.tree[:])
			if !ok || seenRoot[root] {
				continue // an earlier commit had this very tree
			}
			seenRoot[root] = true
			visit(loc.under(root), prov)
		}
		return nil
	}
	if err := walkCommits(topoOrder(h.reachable)); err != nil {
		return nil, err
	}
	s.addTagFindings(h, allObjects, res, add)
	for _, r := range h.extraRoots {
		id := idOf(s, r.hash)
		if r.typ == plumbing.TreeObject {
			visit(loc.under(id), Provenance{})
		} else if s.interesting != nil && s.interesting.has(id) {
			visit([]pathBlob{{path: r.ref, blob: id}}, Provenance{})
		}
	}
	if allObjects {
		rest := map[plumbing.Hash]*commitRec{}
		for hash, c := range s.commits {
			if _, ok := h.reachable[hash]; !ok {
				rest[hash] = c
			}
		}
		if err := walkCommits(topoOrder(rest)); err != nil {
			return nil, err
		}
		res.Commits += int64(len(rest))
		var loose []uint32
		for id := range s.blobFinds {
			if !attributed[id] {
				loose = append(loose, id)
			}
		}
		for id := range s.tooLarge {
			if !skipped[id] {
				loose = append(loose, id)
			}
		}
		for id := range s.archiveSkips {
			if !skipped[id] && !attributed[id] {
				loose = append(loose, id)
			}
		}
		sort.Slice(loose, func(i, j int) bool { return loose[i] < loose[j] })
		for _, id := range loose {
			visit([]pathBlob{{path: s.st.hashOf(id).String(), blob: id}}, Provenance{Kind: KindBlob})
		}
	}

	// PresentIn: which branch tips still hold each finding at its path.
	var names []string
	for n := range h.branches {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := s.commits[h.branches[n]]
		root, ok := s.st.ids.get(c.tree[:])
		if !ok {
			continue
		}
		for _, pb := range loc.under(root) {
			for _, f := range s.blobFinds[pb.blob] {
				fp := fingerprint(f.RuleID, pb.path+f.Path, f.secretMaterial())
				if g, ok := found[fp]; ok && (len(g.PresentIn) == 0 || g.PresentIn[len(g.PresentIn)-1] != n) {
					g.PresentIn = append(g.PresentIn, n)
				}
			}
		}
	}
	for _, fp := range order {
		res.Findings = append(res.Findings, *found[fp])
	}
	res.Bytes = s.blobBytes.Load() // blobs streamed above included
	return res, nil
}
