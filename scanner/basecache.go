package scanner

import (
	"container/list"

	"github.com/go-git/go-git/v5/plumbing"
)

// The object reader's delta-base cache. A range scan reads the trees of a
// hundred consecutive commits and the old and new versions of the files
// they touch: objects stored as deltas of one another, often fifty deep.
// Without a cache each read rebuilt its whole chain from the root (54% of
// a range scan's CPU on git/git, issue 10); with one, the next version's
// chain stops at the previous version's result. git keeps such a cache
// too (core.deltaBaseCacheLimit).

// maxBaseCache bounds the bytes of objects the cache holds: a third of
// git's default core.deltaBaseCacheLimit (96 MiB), because a pre-commit
// hook's memory matters more here than the last few cache hits.
const maxBaseCache = 32 << 20

// maxBaseCacheEntry bounds one cached object, so that one large blob
// cannot evict every tree.
const maxBaseCacheEntry = maxBaseCache / 4

// baseKey names an object by where it is stored.
type baseKey struct {
	p   *pack
	off int64
}

// baseEntry is one cached object; data is never modified.
type baseEntry struct {
	key  baseKey
	typ  plumbing.ObjectType
	data []byte
}

// baseCache is a least-recently-used cache of inflated objects, by bytes.
// It is not safe for concurrent use: the object reader locks around each
// get and add.
type baseCache struct {
	lru   list.List // of *baseEntry, most recent first
	byKey map[baseKey]*list.Element
	bytes int
}

func (c *baseCache) get(p *pack, off int64) (*baseEntry, bool) {
	el, ok := c.byKey[baseKey{p, off}]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*baseEntry), true
}

func (c *baseCache) add(p *pack, off int64, typ plumbing.ObjectType, data []byte) {
	if len(data) > maxBaseCacheEntry {
		return
	}
	k := baseKey{p, off}
	if c.byKey == nil {
		c.byKey = map[baseKey]*list.Element{}
	}
	if _, ok := c.byKey[k]; ok {
		return
	}
	c.byKey[k] = c.lru.PushFront(&baseEntry{key: k, typ: typ, data: data})
	c.bytes += len(data)
	for c.bytes > maxBaseCache {
		el := c.lru.Back()
		e := el.Value.(*baseEntry)
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		c.bytes -= len(e.data)
	}
}
