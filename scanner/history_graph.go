package scanner

import (
	"bytes"
	"container/heap"
	"encoding/hex"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxTagChain bounds how many annotated tags are followed when peeling a
// ref: git allows tags of tags, and a corrupt or hostile repository could
// make them loop.
const maxTagChain = 16

// commitRec is what the sweep keeps of a commit: enough to walk the graph,
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
	for len(data) > 0 {
		var line []byte
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl], data[nl+1:]
		} else {
			line, data = data, nil
		}
		if len(line) == 0 {
			c.message = data
			break
		}
		if line[0] == ' ' {
			continue
		}
		key, val, _ := bytes.Cut(line, []byte{' '})
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

// parseTag reads what an annotated tag points at, its name, tagger and
// message.
func parseTag(data []byte) (tagRec, bool) {
	var t tagRec
	var hasObject bool
	for len(data) > 0 {
		var line []byte
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl], data[nl+1:]
		} else {
			line, data = data, nil
		}
		if len(line) == 0 {
			t.message = data
			break
		}
		key, val, _ := bytes.Cut(line, []byte{' '})
		switch string(key) {
		case "tag":
			t.name = string(val)
		case "tagger":
			var sig object.Signature
			sig.Decode(val)
			t.tagger, t.email, t.when = sig.Name, sig.Email, sig.When
		case "object":
			hasObject = decodeHash(val, &t.target)
		case "type":
			typ, err := plumbing.ParseObjectType(string(val))
			if err == nil {
				t.typ = typ
			}
		}
	}
	return t, hasObject
}

// decodeHash parses a 40-digit hex object name into h.
func decodeHash(hexHash []byte, h *plumbing.Hash) bool {
	if len(hexHash) != 2*len(h) {
		return false
	}
	_, err := hex.Decode(h[:], hexHash)
	return err == nil
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

// pathBlob is an interesting blob at a path inside some tree.
type pathBlob struct {
	path string
	blob uint32
}

// locator answers "where are the interesting blobs under this tree", from
// the skeleton the tree phase kept, memoized per tree: a commit that
// changes one file shares every other subtree with its parent, so the work
// per commit is the handful of trees it changed.
type locator struct {
	s        *sweep
	contains []int8 // by tree id: 0 unknown, 1 no, 2 yes
	paths    map[uint32][]pathBlob
}

// newLocator returns a locator over s's tree skeleton.
func newLocator(s *sweep) *locator {
	return &locator{s: s, contains: make([]int8, s.st.ids.len()), paths: map[uint32][]pathBlob{}}
}

func (l *locator) has(tree uint32) bool {
	if v := l.contains[tree]; v != 0 {
		return v == 2
	}
	rec, ok := l.s.treeRec(tree)
	v := false
	if ok {
		v = len(rec.blobs) > 0
		for _, sub := range rec.subs {
			if l.has(sub.id) {
				v = true
			}
		}
	}
	l.contains[tree] = 1
	if v {
		l.contains[tree] = 2
	}
	return v
}

// treeRec is what the tree phase kept of tree; false if nothing (or if
// the phase did not run).
func (s *sweep) treeRec(tree uint32) (treeRec, bool) {
	if int(tree) >= len(s.trees) || s.trees[tree].arena == 0 {
		return treeRec{}, false
	}
	sp := s.trees[tree]
	a := s.arenas[sp.arena-1]
	mid, end := sp.off+sp.nsub, sp.off+sp.nsub+sp.nblob
	return treeRec{subs: a[sp.off:mid:mid], blobs: a[mid:end:end]}, true
}

// under lists the interesting blobs under tree with their paths.
func (l *locator) under(tree uint32) []pathBlob {
	if !l.has(tree) {
		return nil
	}
	if ps, ok := l.paths[tree]; ok {
		return ps
	}
	rec, _ := l.s.treeRec(tree)
	var out []pathBlob
	for _, b := range rec.blobs {
		out = append(out, pathBlob{path: l.s.names.name(b.name), blob: b.id})
	}
	for _, sub := range rec.subs {
		if !l.has(sub.id) {
			continue
		}
		prefix := l.s.names.name(sub.name) + "/"
		for _, pb := range l.under(sub.id) {
			out = append(out, pathBlob{path: prefix + pb.path, blob: pb.blob})
		}
	}
	l.paths[tree] = out
	return out
}
