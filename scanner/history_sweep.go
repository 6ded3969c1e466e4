package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
)

// The sweep reads every object once, in pack order, in two phases: first
// commits, tags and blobs (blobs are scanned as they are inflated), then,
// only if some blob produced a finding or was too large, trees. Splitting
// trees off means that when they are read the interesting blobs are known,
// so a tree keeps only its subtree edges and its edges to those blobs, not
// a copy of every tree in the repository; and a history with nothing to
// report never pays for trees at all.
const (
	phaseObjects = iota
	phaseTrees
)

// sweep is the state of one history sweep, shared by its workers.
type sweep struct {
	e     *Engine
	st    *objectStore
	ext   func(plumbing.Hash) (plumbing.ObjectType, []byte, error)
	phase int

	// interesting holds the blobs the tree phase must locate: those with
	// findings and those over the size limit. interestingPrefix holds
	// their hashes' first 16 bits, so that most tree entries are ruled
	// out without a lookup.
	interesting       bitset
	interestingPrefix bitset

	mu        sync.Mutex
	commits   map[plumbing.Hash]*commitRec
	tags      map[plumbing.Hash]tagRec
	blobFinds map[uint32][]Finding
	tooLarge  map[uint32]int64
	// archiveSkips are the members of archive blobs that limits kept
	// from being read, paths relative to the blob (archive.go).
	archiveSkips map[uint32][]Skip
	msgFinds     map[plumbing.Hash][]Finding
	// trees locates, by tree id, what the tree phase kept of each tree
	// in arenas (one per worker, so appending needs no lock): a tree
	// costs its edges and 16 bytes, not a struct and two slices.
	trees      []treeSpan
	arenas     [][]treeEdge
	looseTrees []int32
	bad        map[string]*badObjects
	names      nameTable

	blobs, blobBytes, stored atomic.Int64
	missing                  missingSet
	fallbacks                atomic.Int64 // objects read through ext after the sweep's reader failed
	sinceDrop                atomic.Int64 // stored bytes read since mapped pages were dropped
	phaseName                atomic.Value // string, for progress
}

// badObjects counts what could not be read from one pack or from the loose
// objects, and keeps the first reason.
type badObjects struct {
	n     int
	first error
}

// tagRec is an annotated tag: what it points at, for peeling refs, and
// what its message held (see tagmsg.go).
type tagRec struct {
	target plumbing.Hash
	typ    plumbing.ObjectType
	tagInfo
}

// treeRec is what the tree phase keeps of a tree: edges to subtrees and to
// interesting blobs, with interned names.
type treeRec struct {
	subs, blobs []treeEdge
}

// treeSpan is where a tree's edges are: nsub subtree edges then nblob
// blob edges from off in arena-1; arena 0 means nothing was kept.
type treeSpan struct {
	off, nsub, nblob uint32
	arena            uint16
}

// treeEdge is one entry of a tree: the object it names and its interned
// name.
type treeEdge struct {
	id   uint32
	name uint32
}

// nameTable interns tree entry names: the same few thousand directory
// names recur across hundreds of thousands of trees.
type nameTable struct {
	mu    sync.Mutex
	ids   map[string]uint32
	names []string
}

func (t *nameTable) intern(b []byte) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[string(b)]; ok {
		return id
	}
	if t.ids == nil {
		t.ids = map[string]uint32{}
	}
	id := uint32(len(t.names))
	s := string(b)
	t.ids[s] = id
	t.names = append(t.names, s)
	return id
}

func (t *nameTable) name(id uint32) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names[id]
}

// newSweep returns an empty sweep over st.
func newSweep(e *Engine, st *objectStore) *sweep {
	s := &sweep{
		e: e, st: st,
		commits:      map[plumbing.Hash]*commitRec{},
		tags:         map[plumbing.Hash]tagRec{},
		blobFinds:    map[uint32][]Finding{},
		tooLarge:     map[uint32]int64{},
		archiveSkips: map[uint32][]Skip{},
		msgFinds:     map[plumbing.Hash][]Finding{},
		bad:          map[string]*badObjects{},
	}
	s.phaseName.Store(phaseNames[phaseObjects])
	return s
}

// task is a unit of work: a forest root, a delta with its base already
// inflated (handed over by a busy worker), or a loose object.
type task struct {
	p     *packForest
	i     int32
	base  []byte
	kind  plumbing.ObjectType
	loose int32
	// trail is what was learnt from base for its deltas.
	trail trail
}

// trail is what resolving an object learnt that its deltas can reuse,
// when known: a blob's keyword occurrences (deltakw.go), or the offsets of
// a tree's entry hashes that were found in the repository (missing.go).
type trail struct {
	known  bool
	occs   []kwOcc
	hashes []int32
}

// totals counts the blobs and stored bytes a phase will read, for
// progress.
func (s *sweep) totals(phase int) (blobs, stored int64) {
	for _, p := range s.st.packs {
		for _, e := range p.ents {
			if e.kind == 0 || (e.kind == plumbing.TreeObject) != (phase == phaseTrees) {
				continue
			}
			stored += e.end - e.off
			if e.kind == plumbing.BlobObject && !e.dup {
				blobs++
			}
		}
	}
	if phase == phaseObjects {
		for _, l := range s.st.loose {
			stored += l.size
		}
	} else {
		for _, i := range s.looseTrees {
			stored += s.st.loose[i].size
		}
	}
	return blobs, stored
}

// run sweeps the objects of one phase with every core. Delta forests are
// resolved depth-first, so a base stays inflated exactly as long as its
// deltas need it and no object is inflated twice.
func (s *sweep) run(ctx context.Context, phase int, workers int) error {
	s.phase = phase
	tasks := make(chan task, 4*workers)
	if phase == phaseTrees {
		s.arenas = make([][]treeEdge, workers)
	}
	var pending, done sync.WaitGroup
	for k := range workers {
		done.Add(1)
		go func() {
			defer done.Done()
			w := &worker{s: s, idx: k, tasks: tasks, pending: &pending, workers: workers, cache: map[string]uint32{}}
			for t := range tasks {
				if ctx.Err() == nil {
					w.do(t)
				}
				pending.Done()
			}
		}()
	}
	send := func(t task) bool {
		pending.Add(1)
		select {
		case tasks <- t:
			return true
		case <-ctx.Done():
			pending.Done()
			return false
		}
	}
feed:
	for _, p := range s.st.packs {
		for i := range p.ents {
			if !p.isRoot(i) {
				continue
			}
			kind := p.ents[i].kind
			if kind != 0 && (kind == plumbing.TreeObject) != (phase == phaseTrees) {
				continue
			}
			if !send(task{p: p, i: int32(i), kind: kind, loose: -1}) {
				break feed
			}
		}
	}
	if ctx.Err() == nil {
		if phase == phaseObjects {
			for i := range s.st.loose {
				if !send(task{loose: int32(i)}) {
					break
				}
			}
		} else {
			for _, i := range s.looseTrees {
				if !send(task{loose: i}) {
					break
				}
			}
		}
	}
	pending.Wait()
	close(tasks)
	done.Wait()
	return ctx.Err()
}

// worker is one sweeping goroutine with its own buffers.
type worker struct {
	s       *sweep
	idx     int // which arena is this worker's
	z       inflater
	subs    []treeEdge // scratch for tree
	blobs   []treeEdge
	segs    []deltaSeg // scratch for keyword tracking
	tasks   chan task
	pending *sync.WaitGroup
	workers int
	cache   map[string]uint32
}

func (w *worker) do(t task) {
	if t.loose >= 0 {
		w.doLoose(t.loose)
		return
	}
	e := &t.p.ents[t.i]
	if e.extBase && t.base == nil {
		kind, base, err := w.s.ext(t.p.extHashes[t.i])
		if err != nil {
			w.fail(t.p, t.i, fmt.Errorf("read delta base %s: %w", t.p.extHashes[t.i], err))
			return
		}
		if (kind == plumbing.TreeObject) != (w.s.phase == phaseTrees) {
			return // the other phase's
		}
		t.base, t.kind = base, kind
	}
	w.resolve(t.p, t.i, t.base, t.kind, t.trail)
}

// resolve inflates entry i (patching it onto base if it is a delta),
// handles it, then resolves its deltas while it is still in memory. When
// the queue runs dry it hands deltas to idle workers instead, so one huge
// forest at the end of a pack does not leave a core idle.
func (w *worker) resolve(p *packForest, i int32, base []byte, kind plumbing.ObjectType, bt trail) {
	e := &p.ents[i]
	kids := p.kids(i)
	var content []byte
	// Keyword occurrences are tracked through blob delta chains, when
	// there are rules to serve (deltakw.go).
	track := kind == plumbing.BlobObject && w.s.e.tracking()
	trackTree := kind == plumbing.TreeObject && w.s.phase == phaseTrees
	var segs *[]deltaSeg
	if (track || trackTree) && base != nil && bt.known {
		segs = &w.segs
	}
	if kind == plumbing.BlobObject && base == nil && len(kids) == 0 && e.size > w.s.e.opts.MaxFileSize {
		// Too large and nobody's base: skip without inflating.
		w.s.stored.Add(e.end - e.off)
		w.handleTooLarge(e.id, e.size, e.dup)
		return
	}
	raw, err := w.z.inflate(p, i)
	if err == nil && base != nil {
		delta := raw
		raw, err = w.z.applyDeltaSegs(base, delta, segs)
		w.z.bufs.put(delta)
	}
	if err != nil {
		segs = nil // a partial record: search the fallback's result whole
		raw, err = w.fallback(p, i, kind, err)
	}
	if err != nil {
		w.fail(p, i, err)
		return
	}
	content = raw
	w.s.stored.Add(e.end - e.off)
	w.s.boundMapped(e.end - e.off)
	var t trail
	if track {
		if segs != nil {
			t.occs, t.known = w.s.e.kwTracker().derive(content, bt.occs, *segs)
		} else {
			t.occs, t.known = w.s.e.kwTracker().scanAll(content)
		}
	}
	var applied []deltaSeg
	if segs != nil {
		applied = *segs
	}
	w.handle(e.id, kind, content, e.dup, &t, applied, bt)
	shared := false
	for k, c := range kids {
		if k < len(kids)-1 && len(w.tasks) == 0 {
			w.pending.Add(1)
			select {
			case w.tasks <- task{p: p, i: c, base: content, kind: kind, loose: -1, trail: t}:
				shared = true
				continue
			default:
				w.pending.Done()
			}
		}
		w.resolve(p, c, content, kind, t)
	}
	if !shared {
		// Nothing kept a reference: handle copies what it keeps, and
		// the deltas are done.
		w.z.bufs.put(content)
	}
}

// maxMappedResident bounds how much of the mapped packs a sweep keeps in
// its resident set: every object is read once, so pages behind the sweep
// are rarely needed again, and without a bound a 300 MB pack would count
// in full towards peak RSS (issue 3 asks for under 500 MB in all).
const maxMappedResident = 64 << 20

// boundMapped drops the packs' mapped pages after every
// maxMappedResident bytes read.
func (s *sweep) boundMapped(n int64) {
	if s.sinceDrop.Add(n) < maxMappedResident {
		return
	}
	s.sinceDrop.Store(0)
	for _, p := range s.st.packs {
		if p.data != nil {
			dropMapped(p.data)
		}
	}
}

// fallback reads entry i by hash through ext (the object reader, then
// go-git) when the sweep's own reader could not (err): a pack feature or
// an instruction this reader does not handle should cost speed, not
// coverage. It returns err again if that cannot read the object either,
// or reads something of another type.
func (w *worker) fallback(p *packForest, i int32, kind plumbing.ObjectType, err error) ([]byte, error) {
	if w.s.ext == nil {
		return nil, err
	}
	typ, data, ferr := w.s.ext(w.s.st.hashOf(p.ents[i].id))
	if ferr != nil || typ != kind {
		return nil, err
	}
	w.s.fallbacks.Add(1)
	// A copy: the worker recycles the buffers it resolves, and these
	// bytes may be the object reader's cached object.
	return bytes.Clone(data), nil
}

// fail records that entry i and every delta based on it could not be read.
func (w *worker) fail(p *packForest, i int32, err error) {
	n := 0
	var count func(int32)
	count = func(j int32) {
		n++
		for _, c := range p.kids(j) {
			count(c)
		}
	}
	count(i)
	w.s.noteBad(p.path, n, fmt.Errorf("read object %s at offset %d: %w", w.s.st.hashOf(p.ents[i].id), p.ents[i].off, err))
}

func (s *sweep) noteBad(where string, n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bad[where]
	if b == nil {
		b = &badObjects{first: err}
		s.bad[where] = b
	}
	b.n += n
}

func (w *worker) doLoose(i int32) {
	l := &w.s.st.loose[i]
	typ, data, err := w.z.readLoose(l.path, w.s.e.opts.MaxFileSize)
	if w.s.phase == phaseObjects {
		w.s.stored.Add(l.size) // loose trees are read again, but counted once
	}
	var tl *tooLargeError
	switch {
	case errors.As(err, &tl):
		w.handleTooLarge(l.id, tl.size, false)
		return
	case err != nil:
		w.s.noteBad(filepath.Dir(filepath.Dir(l.path)), 1, fmt.Errorf("read object %s: %w", w.s.st.hashOf(l.id), err))
		return
	}
	if typ == plumbing.TreeObject && w.s.phase == phaseObjects {
		w.s.mu.Lock()
		w.s.looseTrees = append(w.s.looseTrees, i)
		w.s.mu.Unlock()
		return
	}
	w.handle(l.id, typ, data, false, &trail{}, nil, trail{})
}

func (w *worker) handleTooLarge(id uint32, size int64, dup bool) {
	if dup {
		return
	}
	w.s.blobs.Add(1)
	w.s.mu.Lock()
	w.s.tooLarge[id] = size
	w.s.mu.Unlock()
}

// handle takes one whole object. Duplicates (an object stored twice) are
// resolved, since their deltas need them, but not handled again.
// out is what its deltas may reuse (a blob's is filled by the caller, a
// tree's here); segs are the delta instructions that built data from the
// object base describes, or nil.
func (w *worker) handle(id uint32, kind plumbing.ObjectType, data []byte, dup bool, out *trail, segs []deltaSeg, base trail) {
	if dup {
		return
	}
	s := w.s
	switch kind {
	case plumbing.BlobObject:
		if int64(len(data)) > s.e.opts.MaxFileSize {
			w.handleTooLarge(id, int64(len(data)), false)
			return
		}
		s.blobs.Add(1)
		s.blobBytes.Add(int64(len(data)))
		var fs []Finding
		var skips []Skip
		if out.known && sniffArchive(data) == notArchive {
			// Delta-tracked keyword positions only describe plain
			// content; an archive is expanded and searched whole.
			fs, skips = capFindings(s.e.scanTracked(data, Provenance{}, out.occs), nil, "")
		} else {
			fs, skips = s.e.ScanContent(data, Provenance{})
		}
		if len(fs)+len(skips) > 0 {
			s.mu.Lock()
			if len(fs) > 0 {
				s.blobFinds[id] = fs
			}
			if len(skips) > 0 {
				s.archiveSkips[id] = skips
			}
			s.mu.Unlock()
		}
	case plumbing.CommitObject:
		c, ok := parseCommit(data)
		if !ok {
			s.noteBad("commits", 1, fmt.Errorf("parse commit %s: %w", s.st.hashOf(id), errCorruptObject))
			return
		}
		c.hash = s.st.hashOf(id)
		var fs []Finding
		if msg := c.message; len(msg) > 0 {
			fs = s.e.scanMessage(msg, Provenance{Kind: KindCommitMessage})
		}
		c.message = nil // only the findings are kept
		s.mu.Lock()
		s.commits[c.hash] = c
		if len(fs) > 0 {
			s.msgFinds[c.hash] = fs
		}
		s.mu.Unlock()
	case plumbing.TagObject:
		if t, ok := parseTag(data); ok {
			s.scanTag(&t)
			s.mu.Lock()
			s.tags[s.st.hashOf(id)] = t
			s.mu.Unlock()
		}
	case plumbing.TreeObject:
		var from []int32
		if base.known && segs != nil {
			from = base.hashes
		}
		out.hashes = w.tree(id, data, segs, from, segs != nil && base.known)
		out.known = true
	}
}

// tree keeps a tree's subtree edges and its edges to interesting blobs,
// notes entries that name objects the repository lacks, and returns the
// offsets of the entry hashes it found present, for its deltas: when
// derived, data was built by segs from a tree whose present hashes were
// at from, and an entry copied whole from one of those needs no lookup.
func (w *worker) tree(id uint32, data []byte, segs []deltaSeg, from []int32, derived bool) []int32 {
	w.subs, w.blobs = w.subs[:0], w.blobs[:0]
	ids := w.s.st.ids
	hashes := make([]int32, 0, len(from)+8)
	cov := coverage{segs: segs, from: from, on: derived}
	all := data
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		nul := bytes.IndexByte(data, 0)
		if sp < 0 || nul < sp || len(data) < nul+21 {
			break // a corrupt tree keeps what parsed
		}
		mode, name, h := data[:sp], data[sp+1:nul], data[nul+1:nul+21]
		at := int32(len(all) - len(data) + nul + 1)
		data = data[nul+21:]
		if string(mode) == "160000" {
			continue // a submodule's commit lives in another repository
		}
		if string(mode) == "40000" {
			if cid, ok := ids.get(h); ok {
				w.subs = append(w.subs, treeEdge{cid, w.name(name)})
			} else {
				w.s.noteMissing(id, h)
			}
			continue
		}
		// A blob entry copied from the base tree, where it was found,
		// needs no lookup unless it may be interesting.
		present := cov.covered(at)
		if !present || w.s.interestingPrefix.has(uint32(h[0])<<8|uint32(h[1])) {
			cid, ok := ids.get(h)
			if !ok {
				w.s.noteMissing(id, h)
				continue
			}
			if w.s.interesting.has(cid) {
				w.blobs = append(w.blobs, treeEdge{cid, w.name(name)})
			}
		}
		hashes = append(hashes, at)
	}
	if len(w.subs)+len(w.blobs) == 0 {
		return hashes
	}
	a := w.s.arenas[w.idx]
	off := len(a)
	a = append(append(a, w.subs...), w.blobs...)
	w.s.arenas[w.idx] = a
	w.s.trees[id] = treeSpan{off: uint32(off), nsub: uint32(len(w.subs)), nblob: uint32(len(w.blobs)), arena: uint16(w.idx + 1)}
	return hashes
}

func (w *worker) name(b []byte) uint32 {
	if id, ok := w.cache[string(b)]; ok {
		return id
	}
	id := w.s.names.intern(b)
	w.cache[string(b)] = id
	return id
}

// workers is Options.Workers, or GOMAXPROCS.
func (s *sweep) workers() int {
	if s.e.opts.Workers > 0 {
		return s.e.opts.Workers
	}
	return runtime.GOMAXPROCS(0)
}
