package scanner

import (
	"bytes"
	"encoding/hex"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxTagChain bounds how many annotated tags are followed when peeling a
// ref: git allows tags of tags, and a corrupt or hostile repository could
// make them loop.
const maxTagChain = 16

// parseTag reads what an annotated tag points at, its name, tagger and
// message.
func parseTag(data []byte) (tagRec, bool) {
	var t tagRec
	var hasObject bool
	for {
		key, val, rest, ok := nextHeader(data)
		if !ok {
			t.message = rest
			break
		}
		data = rest
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

// nextHeader splits the next header line off a commit or tag object: its
// key, its value and the data after it. At the blank line that ends the
// headers, or at the end of data, ok is false and rest is the message. A
// continuation line (a signature's) comes back with no key.
func nextHeader(data []byte) (key, val, rest []byte, ok bool) {
	if len(data) == 0 {
		return nil, nil, nil, false
	}
	line, rest, _ := bytes.Cut(data, []byte{'\n'})
	if len(line) == 0 {
		return nil, nil, rest, false
	}
	if line[0] == ' ' {
		return nil, nil, rest, true
	}
	key, val, _ = bytes.Cut(line, []byte{' '})
	return key, val, rest, true
}

// decodeHash parses a 40-digit hex object name into h.
func decodeHash(hexHash []byte, h *plumbing.Hash) bool {
	if len(hexHash) != 2*len(h) {
		return false
	}
	_, err := hex.Decode(h[:], hexHash)
	return err == nil
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
