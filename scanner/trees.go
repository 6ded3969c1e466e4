package scanner

import (
	"bytes"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Parsed trees for the staged and range scans. A range walks the trees of
// consecutive commits, and locating each changed file's old version reads
// the trees along its path again; go-git decodes a tree through a
// bufio.Reader, a string allocation per field, and keeps no cache: half
// of a range scan's CPU on git/git after the delta-base cache. The point
// reader parses tree objects straight from their bytes and keeps the
// result.

// maxTreeCacheEntries bounds the tree entries the cache holds (each a few
// dozen bytes plus its name): tens of megabytes at most. When full it is
// emptied, which costs only the re-parsing.
const maxTreeCacheEntries = 1 << 17

// tree returns the entries of tree h, or false if the point reader cannot
// serve it (go-git then decodes it and reports any error).
func (r *pointReader) tree(h plumbing.Hash) ([]object.TreeEntry, bool) {
	r.mu.Lock()
	if es, ok := r.trees[h]; ok {
		r.mu.Unlock()
		return es, true
	}
	r.mu.Unlock()
	typ, _, data, err := r.read(h, maxInt64)
	if err != nil || typ != plumbing.TreeObject {
		return nil, false
	}
	es, ok := parseTree(data)
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trees == nil || r.treeEntries+len(es) > maxTreeCacheEntries {
		r.trees, r.treeEntries = map[plumbing.Hash][]object.TreeEntry{}, 0
	}
	r.trees[h] = es
	r.treeEntries += len(es)
	return es, true
}

// parseTree decodes a tree object: entries of an octal mode, a space, a
// name, a NUL and a 20-byte hash. It reports false on anything malformed.
func parseTree(data []byte) ([]object.TreeEntry, bool) {
	n := bytes.Count(data, []byte{0})
	es := make([]object.TreeEntry, 0, n)
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 || sp > 7 {
			return nil, false
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return nil, false
			}
			mode = mode<<3 | uint32(c-'0')
		}
		rest := data[sp+1:]
		nul := bytes.IndexByte(rest, 0)
		if nul < 0 || len(rest) < nul+21 {
			return nil, false
		}
		var h plumbing.Hash
		copy(h[:], rest[nul+1:nul+21])
		es = append(es, object.TreeEntry{Name: string(rest[:nul]), Mode: filemode.FileMode(mode), Hash: h})
		data = rest[nul+21:]
	}
	return es, true
}
