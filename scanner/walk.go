package scanner

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// This file is the scanner's one commit walker (issue 10, item 1): the
// commits reachable from some tips and from none of others, git's
// `rev-list INCLUDE... --not EXCLUDE...`, listed parents first. Ranges,
// ScanCommits (the gates) and the history sweep's attribution all list
// their commits with it; they differ only in where commits come from
// (commitSource): read one at a time through the repository's object
// reader for a range, or looked up among the commits the history sweep
// already parsed in pack order. Every commit is a commitRec from
// parseCommit, whichever way it was read.

// errCommitMissing means a commitSource does not have the commit.
var errCommitMissing = errors.New("commit not found")

// commitSource gives the walker the commits it meets.
type commitSource interface {
	// commit returns commit h parsed, errCommitMissing (wrapped or not)
	// if there is no such commit.
	commit(h plumbing.Hash) (*commitRec, error)
}

// sweptCommits is a history sweep's commits, all parsed already.
type sweptCommits map[plumbing.Hash]*commitRec

func (m sweptCommits) commit(h plumbing.Hash) (*commitRec, error) {
	if c, ok := m[h]; ok {
		return c, nil
	}
	return nil, errCommitMissing
}

// storedCommits reads commits through a repository's object storage:
// packed ones through the scanner's object reader (objects.go, with its
// delta-base cache), loose ones and, with OpenOptions.ViaGit, those only git
// sees through the fallbacks behind it. Each commit is parsed by
// parseCommit and kept, message included, for the range scan's provenance.
type storedCommits struct {
	objects storer.EncodedObjectStorer
	read    map[plumbing.Hash]*commitRec
}

func (s *storedCommits) commit(h plumbing.Hash) (*commitRec, error) {
	if c, ok := s.read[h]; ok {
		return c, nil
	}
	obj, err := s.objects.EncodedObject(plumbing.CommitObject, h)
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			err = fmt.Errorf("%w: %w", errCommitMissing, err)
		}
		return nil, err
	}
	var data []byte
	if po, ok := obj.(*packedObject); ok && po.data != nil {
		data = po.data // parsed, never modified: no copy needed
	} else {
		rd, err := obj.Reader()
		if err != nil {
			return nil, err
		}
		defer rd.Close()
		if data, err = io.ReadAll(rd); err != nil {
			return nil, err
		}
	}
	c, ok := parseCommit(data)
	if !ok {
		return nil, errCorruptObject
	}
	c.hash = h
	s.read[h] = c
	return c, nil
}

// walkCheckEvery is how many commits the walk takes between looks at its
// context: often enough to stop within a millisecond, rarely enough to
// cost nothing on a history of 100,000 commits.
const walkCheckEvery = 1024

// Walk flags, one set per commit the walk has met.
const (
	flagSeen uint8 = 1 << iota
	flagQueued
	flagPopped
	flagExcluded
)

// walkNode is what the walker knows of one commit it met.
type walkNode struct {
	c     *commitRec
	flags uint8
}

// walker lists the commits reachable from some tips and not from others.
// It is git's own approach: walk newest first from both sides at once,
// painting what the excluded side reaches, and stop as soon as only
// excluded history is left, so that pushing a branch of three commits
// reads those commits and a few of main's, not main's whole history. With
// nothing excluded it is plain reachability, every commit read once.
type walker struct {
	src commitSource
	// shallow are the commits whose parents were not fetched: the walk
	// treats them as roots.
	shallow map[plumbing.Hash]bool
	// missing, if set, is told of a commit the source lacks, and the walk
	// goes on without it (the history sweep warns and sweeps the rest); if
	// nil such a commit is an error.
	missing func(plumbing.Hash)
	nodes   map[plumbing.Hash]*walkNode
	queue   commitQueue
	// onInclude, if set, is told of each commit a walk with excludes takes
	// from the included side, once its parents are queued: the range scan
	// starts on it at once. The walk may still find it excluded when
	// commit dates are skewed, so the walk's result decides what it was.
	onInclude func(*commitRec)
	// included counts queued commits not (yet) known to be excluded.
	included int
}

// newWalker returns a walker over src's commits.
func newWalker(src commitSource) *walker {
	return &walker{src: src, shallow: map[plumbing.Hash]bool{}, nodes: map[plumbing.Hash]*walkNode{}}
}

// parents returns c's parents, none for a shallow boundary commit.
func (w *walker) parents(c *commitRec) []plumbing.Hash {
	if w.shallow[c.hash] {
		return nil
	}
	return c.parents
}

// commit reads commit h, naming it in the error.
func (w *walker) commit(h plumbing.Hash) (*commitRec, error) {
	if n, ok := w.nodes[h]; ok && n.c != nil {
		return n.c, nil
	}
	c, err := w.src.commit(h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return c, nil
}

// walk returns the commits reachable from include and not from exclude,
// parents first (topoOrder): whatever the commit dates say, a commit comes
// after every parent of it that is listed, so "the commit that introduced
// it" is the first listed one to have it, for ranges as for the history.
func (w *walker) walk(ctx context.Context, include, exclude []plumbing.Hash) ([]*commitRec, error) {
	set, err := w.reach(ctx, include, exclude)
	if err != nil {
		return nil, err
	}
	return topoOrder(set), nil
}

// reach returns the set walk lists. A walk with excludes paints the
// walker's nodes, so it is done once per walker; reachAll and reachUntil
// keep no state and may be repeated.
func (w *walker) reach(ctx context.Context, include, exclude []plumbing.Hash) (map[plumbing.Hash]*commitRec, error) {
	if len(exclude) == 0 {
		return w.reachAll(ctx, include)
	}
	for _, h := range exclude {
		if err := w.push(h, true); err != nil {
			return nil, err
		}
	}
	for _, h := range include {
		if err := w.push(h, false); err != nil {
			return nil, err
		}
	}
	var popped []*commitRec
	var oldest int64
	met := false
	for i := 0; w.queue.Len() > 0; i++ {
		if i%walkCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if w.included == 0 && (!met || w.queue[0].c.commitTime < oldest-int64(maxClockSkew.Seconds())) {
			break // only excluded history is left, and it is older
		}
		n := heap.Pop(&w.queue).(*walkNode)
		n.flags = n.flags&^flagQueued | flagPopped
		excluded := n.flags&flagExcluded != 0
		if !excluded {
			w.included--
			popped = append(popped, n.c)
			if !met || n.c.commitTime < oldest {
				oldest, met = n.c.commitTime, true
			}
		}
		for _, p := range w.parents(n.c) {
			pn := w.nodes[p]
			switch {
			case pn == nil:
				if err := w.push(p, excluded); err != nil {
					return nil, err
				}
			case excluded:
				w.exclude(p)
			}
		}
		if !excluded && w.onInclude != nil {
			w.onInclude(n.c)
		}
	}
	set := make(map[plumbing.Hash]*commitRec, len(popped))
	for _, c := range popped {
		if w.nodes[c.hash].flags&flagExcluded == 0 {
			set[c.hash] = c
		}
	}
	return set, nil
}

// reachAll is reach with nothing excluded: every commit reachable is
// listed, so the order of the walk does not matter and a stack serves
// (the history's 85,000 commits in about half the time of the heap).
func (w *walker) reachAll(ctx context.Context, include []plumbing.Hash) (map[plumbing.Hash]*commitRec, error) {
	return w.reachUntil(ctx, include, nil)
}

// reachUntil is reachAll that does not enter the commits stop names,
// whose history is accounted for already: the commits only a stash entry
// or notes ref reaches are what it reaches short of every ordinary ref's
// (history_refs.go).
func (w *walker) reachUntil(ctx context.Context, include []plumbing.Hash, stop func(plumbing.Hash) bool) (map[plumbing.Hash]*commitRec, error) {
	set := map[plumbing.Hash]*commitRec{}
	var lost map[plumbing.Hash]bool
	stack := append([]plumbing.Hash(nil), include...)
	for i := 0; len(stack) > 0; i++ {
		if i%walkCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := set[h]; ok || lost[h] || stop != nil && stop(h) {
			continue
		}
		c, err := w.commit(h)
		if err != nil {
			if w.missing != nil && errors.Is(err, errCommitMissing) {
				if lost == nil {
					lost = map[plumbing.Hash]bool{}
				}
				lost[h] = true
				w.missing(h)
				continue
			}
			return nil, err
		}
		set[h] = c
		for _, p := range w.parents(c) {
			if _, ok := set[p]; !ok {
				stack = append(stack, p)
			}
		}
	}
	return set, nil
}

// push queues commit h, excluded or not; a commit already met is only
// painted.
func (w *walker) push(h plumbing.Hash, excluded bool) error {
	if _, ok := w.nodes[h]; ok {
		if excluded {
			w.exclude(h)
		}
		return nil
	}
	c, err := w.commit(h)
	if err != nil {
		if w.missing != nil && errors.Is(err, errCommitMissing) {
			w.nodes[h] = &walkNode{flags: flagSeen | flagPopped | flagExcluded}
			w.missing(h)
			return nil
		}
		return err
	}
	n := &walkNode{c: c, flags: flagSeen | flagQueued}
	if excluded {
		n.flags |= flagExcluded
	} else {
		w.included++
	}
	w.nodes[h] = n
	heap.Push(&w.queue, n)
	return nil
}

// exclude paints h and, where the walk already passed them (clock skew),
// its ancestors as reachable from the excluded side.
func (w *walker) exclude(h plumbing.Hash) {
	stack := []plumbing.Hash{h}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := w.nodes[h]
		if n == nil || n.flags&flagExcluded != 0 {
			continue
		}
		n.flags |= flagExcluded
		if n.flags&flagQueued != 0 {
			w.included--
		}
		if n.flags&flagPopped != 0 {
			stack = append(stack, w.parents(n.c)...)
		}
	}
}

// commitQueue is a max-heap of commits by committer date, newest first;
// ties go by hash so the order is stable. Its methods are heap.Interface.
type commitQueue []*walkNode

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	a, b := q[i].c, q[j].c
	if a.commitTime != b.commitTime {
		return a.commitTime > b.commitTime
	}
	return bytes.Compare(a.hash[:], b.hash[:]) < 0
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(*walkNode)) }
func (q *commitQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	*q = old[:len(old)-1]
	return n
}

// newRangeWalk returns a walk of repo's commits for a range or a push,
// each read through the repository's object storage.
func newRangeWalk(repo *git.Repository) *rangeWalk {
	src := &storedCommits{objects: repo.Storer, read: map[plumbing.Hash]*commitRec{}}
	return &rangeWalk{walker: newWalker(src), repo: repo}
}

// commitRec is what the walker keeps of a commit: enough to walk the graph,
// order it, and say who introduced a secret.
type commitRec struct {
	hash, tree plumbing.Hash
	parents    []plumbing.Hash
	author     string
	email      string
	when       time.Time // author date, as git log shows it
	commitTime int64     // committer date, for ordering
	message    []byte    // only until the message is scanned
}

// parseCommit reads a commit object's headers and message. Headers it does
// not need (gpgsig, mergetag, encoding) are skipped, continuation lines
// included.
func parseCommit(data []byte) (*commitRec, bool) {
	c := &commitRec{}
	hasTree := false
	for {
		key, val, rest, ok := nextHeader(data)
		if !ok {
			c.message = rest
			break
		}
		data = rest
		switch string(key) {
		case "tree":
			hasTree = decodeHash(val, &c.tree)
		case "parent":
			var p plumbing.Hash
			if decodeHash(val, &p) {
				c.parents = append(c.parents, p)
			}
		case "author":
			var sig object.Signature
			sig.Decode(val)
			c.author, c.email, c.when = sig.Name, sig.Email, sig.When
		case "committer":
			var sig object.Signature
			sig.Decode(val)
			c.commitTime = sig.When.Unix()
		}
	}
	return c, hasTree
}

// commitHeap orders commits that are ready (all parents emitted) by
// committer date, then hash, so that the order is deterministic.
type commitHeap []*commitRec

func (h commitHeap) Len() int { return len(h) }
func (h commitHeap) Less(i, j int) bool {
	if h[i].commitTime != h[j].commitTime {
		return h[i].commitTime < h[j].commitTime
	}
	return bytes.Compare(h[i].hash[:], h[j].hash[:]) < 0
}
func (h commitHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *commitHeap) Push(x any)   { *h = append(*h, x.(*commitRec)) }
func (h *commitHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// topoOrder returns set's commits parents first, oldest first among those
// ready: the order in which "the commit that introduced it" is the first
// one met. Parents outside set (a shallow boundary, or reachable commits
// when set is the unreachable rest) do not hold a commit back.
func topoOrder(set map[plumbing.Hash]*commitRec) []*commitRec {
	indeg := make(map[plumbing.Hash]int, len(set))
	children := make(map[plumbing.Hash][]*commitRec, len(set))
	for _, c := range set {
		for _, p := range c.parents {
			if _, ok := set[p]; ok {
				indeg[c.hash]++
				children[p] = append(children[p], c)
			}
		}
	}
	var ready commitHeap
	for _, c := range set {
		if indeg[c.hash] == 0 {
			ready = append(ready, c)
		}
	}
	heap.Init(&ready)
	order := make([]*commitRec, 0, len(set))
	for ready.Len() > 0 {
		c := heap.Pop(&ready).(*commitRec)
		order = append(order, c)
		for _, ch := range children[c.hash] {
			indeg[ch.hash]--
			if indeg[ch.hash] == 0 {
				heap.Push(&ready, ch)
			}
		}
	}
	return order
}
