package scanner

import (
	"bytes"
	"encoding/binary"
	"sync"
)

// Keyword tracking across the versions a range scans. A range scans whole
// file versions (a key ID pairs with its secret anywhere in the file), and
// on git/git's last hundred commits three quarters of the bytes scanned are
// versions of a path the scan met before: a topic's commits edit the same
// files, and the merge that brings the topic in writes them again. The
// regexp rules' prefilter asks of each version which rules' keywords occur
// in it, and searching for every keyword costs most of the scan. So the
// workers of a range scan keep, per path, the last version one of them
// scanned and where its keywords are (deltakw.go's kwOcc); the next version
// is compared with it (the bytes the two share at the start and the end,
// and runs found between them), the kept occurrences are carried over
// through the shared runs, and only the bytes that differ, with a
// keyword's length of context, are searched: kwIndex.derive, the history
// sweep's own derivation, with the shared runs standing in for a delta's
// copy instructions. The AWS finders still read every byte, and which rules
// are live is exactly what a search of the whole version finds
// (TestRangeKeywordsMatchFullScan, TestSharedEndsDescribesData,
// TestRangeTrackedMatchesWhole).

// Limits on what a range scan keeps and compares.
const (
	// maxKeptVersionBytes bounds the bytes of earlier versions a range
	// scan keeps alive; when full the memo is emptied, which costs only
	// whole searches.
	maxKeptVersionBytes = 32 << 20
	// maxDerivedShare is the largest part of a version, in 1/8ths, that
	// may differ from the kept one for its occurrences to be derived: the
	// window search (kwIndex.scanWindow) goes a byte at a time, so a
	// version that changed in many places is searched whole instead.
	maxDerivedShare = 2
)

// versionMemo is the last scanned version of each path, with its keyword
// occurrences, shared by a range scan's workers.
type versionMemo struct {
	mu     sync.Mutex
	byPath map[string]*keptVersion
	bytes  int
}

// keptVersion is a version's bytes and its occurrences; it is never
// modified once kept, so workers read it without the lock. The bytes are
// readBlob's, which are never modified either (the object reader shares
// them with its delta-base cache), so they are kept without a copy.
type keptVersion struct {
	data []byte
	occs []kwOcc
}

// occurrences returns the keyword occurrences of data, the version of path
// being scanned, deriving them from the path's kept version where the two
// share all but a small part, and keeps data for the next version. It
// reports false when there are too many occurrences to track.
func (m *versionMemo) occurrences(idx *kwIndex, path string, data []byte) ([]kwOcc, bool) {
	var occs []kwOcc
	ok := false
	if k := m.get(path); k != nil {
		if segs, small := sharedEnds(k.data, data); small {
			occs, ok = idx.derive(data, k.occs, segs)
		}
	}
	if !ok {
		occs, ok = idx.scanAll(data)
	}
	if !ok {
		m.put(path, nil)
		return nil, false
	}
	if len(data) <= maxKeptVersionBytes/4 {
		m.put(path, &keptVersion{data: data, occs: occs})
	} else {
		m.put(path, nil)
	}
	return occs, true
}

// get returns path's kept version, or nil.
func (m *versionMemo) get(path string) *keptVersion {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byPath[path]
}

// put makes k path's kept version (nil forgets it), emptying the memo
// first when it would hold more than maxKeptVersionBytes.
func (m *versionMemo) put(path string, k *keptVersion) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.byPath[path]; old != nil {
		m.bytes -= len(old.data)
		delete(m.byPath, path)
	}
	if k == nil {
		return
	}
	if m.byPath == nil || m.bytes+len(k.data) > maxKeptVersionBytes {
		m.byPath, m.bytes = map[string]*keptVersion{}, 0
	}
	m.byPath[path] = k
	m.bytes += len(k.data)
}

// sharedEnds describes data as copies of old's bytes and inserted
// middles, as the instructions derive takes: the bytes the two share at
// the start and the end, and between them runs found by looking up a probe
// from the middle of what is left in old and extending it both ways, as
// far as maxSharedDepth levels. Any description is exact for derive (a
// copied run is old's bytes wherever it was found); a better one only
// leaves fewer bytes to search. small reports whether the inserted bytes
// are few enough to search by windows.
func sharedEnds(old, data []byte) (segs []deltaSeg, small bool) {
	p := commonPrefix(old, data)
	s := commonSuffix(old[p:], data[p:])
	d := sharedRuns{old: old, data: data}
	if p > 0 {
		d.copy(0, p, 0)
	}
	d.fill(p, len(old)-s, p, len(data)-s, 0)
	if s > 0 {
		d.copy(len(data)-s, s, len(old)-s)
	}
	if d.inserted > len(data)/8*maxDerivedShare {
		return nil, false
	}
	return d.segs, true
}

// Limits of the search for shared runs: a probe shorter than probeLen
// bytes would match by chance; a stretch shorter than minSharedSearch is
// taken as inserted (searching it by windows costs less than looking for
// runs in it), as is what is left after maxSharedDepth levels of halving;
// a probe is looked for within probeReach bytes of where it would be if
// the stretch had only been edited in place, so that a probe from an
// edited line costs a short search, not one of the whole file.
const (
	probeLen        = 32
	minSharedSearch = 1 << 10
	maxSharedDepth  = 10
	probeReach      = 4 << 10
)

// sharedRuns builds the instructions describing data from old.
type sharedRuns struct {
	old, data []byte
	segs      []deltaSeg
	inserted  int
}

func (d *sharedRuns) copy(dst, n, src int) {
	d.segs = append(d.segs, deltaSeg{dst: dst, n: n, src: src})
}

func (d *sharedRuns) insert(dst, n int) {
	if n > 0 {
		d.segs = append(d.segs, deltaSeg{dst: dst, n: n, src: -1})
		d.inserted += n
	}
}

// fill describes data[lo:hi] from old[olo:ohi].
func (d *sharedRuns) fill(olo, ohi, lo, hi, depth int) {
	if hi-lo < minSharedSearch || ohi-olo < probeLen || depth >= maxSharedDepth {
		d.insert(lo, hi-lo)
		return
	}
	mid := lo + (hi-lo-probeLen)/2
	probe := d.data[mid : mid+probeLen]
	// Where the probe would be in old if only the stretch's start, or
	// only its end, had moved: usually one of them is right.
	src := -1
	for _, at := range [2]int{olo + (mid - lo), ohi - (hi - mid)} {
		if at >= olo && at+probeLen <= ohi && bytes.Equal(d.old[at:at+probeLen], probe) {
			src = at
			break
		}
	}
	if src < 0 {
		at := olo + (mid - lo)
		from, to := max(olo, at-probeReach), min(ohi, at+probeReach+probeLen)
		if to-from >= probeLen {
			if k := bytes.Index(d.old[from:to], probe); k >= 0 {
				src = from + k
			}
		}
	}
	if src < 0 {
		d.insert(lo, hi-lo)
		return
	}
	back := commonSuffix(d.old[olo:src], d.data[lo:mid])
	fwd := commonPrefix(d.old[src+probeLen:ohi], d.data[mid+probeLen:hi])
	src, dst, n := src-back, mid-back, back+probeLen+fwd
	d.fill(olo, src, lo, dst, depth+1)
	d.copy(dst, n, src)
	d.fill(src+n, ohi, dst+n, hi, depth+1)
}

// compareBlock is how many bytes commonPrefix and commonSuffix compare at
// once with bytes.Equal (vectorised) before narrowing down a difference.
const compareBlock = 256

// commonPrefix returns how many leading bytes a and b share.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+compareBlock <= n && bytes.Equal(a[i:i+compareBlock], b[i:i+compareBlock]) {
		i += compareBlock
	}
	for i+8 <= n && binary.LittleEndian.Uint64(a[i:]) == binary.LittleEndian.Uint64(b[i:]) {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix returns how many trailing bytes a and b share.
func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0 // bytes matched from the end
	for i+compareBlock <= n && bytes.Equal(a[len(a)-i-compareBlock:len(a)-i], b[len(b)-i-compareBlock:len(b)-i]) {
		i += compareBlock
	}
	for i+8 <= n && binary.LittleEndian.Uint64(a[len(a)-i-8:]) == binary.LittleEndian.Uint64(b[len(b)-i-8:]) {
		i += 8
	}
	for i < n && a[len(a)-i-1] == b[len(b)-i-1] {
		i++
	}
	return i
}

// scanVersion is ScanContent for a file version a range worker scans:
// plain content is scanned with its keyword occurrences tracked from the
// path's previous version (m), archives and everything tracking cannot
// serve as ScanContent does. m nil, or an engine with tracking off, scans
// as ScanContent.
func (e *Engine) scanVersion(data []byte, prov Provenance, m *versionMemo) ([]Finding, []Skip) {
	if m == nil || e.noTrack || len(e.regexp) == 0 || len(data) == 0 || len(data) > maxTrackedBlob || sniffArchive(data) != notArchive {
		return e.ScanContent(data, prov)
	}
	// Scan would have counted these bytes towards the plan's ranking.
	e.planner.sample(data)
	idx := e.kwTracker()
	if !idx.usable {
		return e.ScanContent(data, prov)
	}
	occs, ok := m.occurrences(idx, prov.Path, data)
	if !ok {
		return e.ScanContent(data, prov)
	}
	return capFindings(e.scanTracked(data, prov, occs), nil, prov.Path)
}
