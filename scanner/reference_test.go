package scanner

// The reference the differential tests hold the engine's sweep to: the hit
// finding as it was before the passes were shared, each finder and the
// regexp prefilter making its own passes over the whole content. Only the
// hits are found independently; what the engine does with them (decoding,
// pairing, locating) is the engine's own code, so this file cannot drift
// from it and checks exactly what the sweep changed.

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/patterns"
)

// refScan is Scan with the reference hit finder.
func (e *Engine) refScan(data []byte, prov Provenance) []Finding {
	return e.scan(data, prov, func(d []byte, roles role, live []bool) sweepHits {
		return e.refHits(d, roles, live)
	})
}

// refHits finds what the sweep finds, one finder at a time.
func (e *Engine) refHits(data []byte, roles role, live []bool) sweepHits {
	var h sweepHits
	if roles&roleKeyID != 0 {
		for i := 0; ; {
			j := bytes.IndexByte(data[i:], 'A')
			if j < 0 {
				break
			}
			i += j
			if c, ok := e.keyIDAt(data, i); ok {
				h.keys = append(h.keys, c)
				i = c.end
				continue
			}
			i++
		}
	}
	if roles&roleSecret != 0 {
		h.secretKw = refForKeyword(data, "se", "cret")
	}
	if roles&roleToken != 0 {
		h.tokenKw = refForKeyword(data, "to", "ken")
	}
	if roles&roleBase64 != 0 {
		for n, first := range []byte(base64First) {
			for i := 0; ; {
				j := bytes.IndexByte(data[i:], first)
				if j < 0 {
					break
				}
				at := i + j
				i = at + 1
				if boundaryBefore(data, at, isBase64Byte) && hasAnchor(data[at:]) {
					h.base64At[n] = append(h.base64At[n], at)
				}
			}
		}
	}
	refLiveRules(data, e.regexp, live)
	return h
}

// refForKeyword returns the ends of each case-insensitive occurrence of
// head+tail in data, searching for the tail in lower case and then in
// upper case, and comparing the head in any case.
func refForKeyword(data []byte, head, tail string) [2][]int {
	var ends [2][]int
	for n, t := range []string{tail, strings.ToUpper(tail)} {
		needle := []byte(t)
		for i := 0; ; {
			j := bytes.Index(data[i:], needle)
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(needle)
			if at >= len(head) && bytes.EqualFold(data[at-len(head):at], []byte(head)) {
				ends[n] = append(ends[n], i)
			}
		}
	}
	return ends
}

// refLiveRules sets live[i] for each rule that has a keyword in data, or
// no keywords at all, each anchor group searching the whole content on its
// own. The plan (which keyword is anchored where) is the engine's.
func refLiveRules(data []byte, rules []*patterns.Rule, live []bool) {
	pl := newSweepPlan(0, rules, staticRarity)
	copy(live, pl.live)
	for i := range pl.groups {
		g := &pl.groups[i]
		if g.pending(live) {
			g.refSearch(data, live)
		}
	}
}

// refSearch looks for the group's anchors in all of data until every rule
// the group serves is live.
func (g *anchorGroup) refSearch(data []byte, live []bool) {
	b := g.anchors[0].b
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], b)
		if j < 0 {
			return
		}
		at := i + j
		i = at + 1
		if !g.single && !(at+1 < len(data) && g.next[data[at+1]]) && !(at > 0 && g.prev[data[at-1]]) {
			continue
		}
		found := false
		for _, a := range g.anchors {
			s := at - a.off
			if !live[a.rule] && s >= 0 && s+len(a.keyword) <= len(data) && a.matches(data[s:s+len(a.keyword)]) {
				live[a.rule] = true
				found = true
			}
		}
		if found && !g.pending(live) {
			return
		}
	}
}

// refExpand is the reference for archives: every member extracted the
// plainest way (whole archive formats read by their own packages, no
// limits, gzip members named by their header or the archive's name
// without .gz), each scanned with refScan. It shares no code with
// archive.go but the member-path notation, so the two can disagree only
// where archive.go's reading does.
func (e *Engine) refExpand(data []byte, path string) []Finding {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			break
		}
		var fs []Finding
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, "/") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(rc)
			rc.Close()
			fs = append(fs, e.refExpand(body, path+"!"+f.Name)...)
		}
		return fs
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			break
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			break
		}
		if len(body) >= 262 && string(body[257:262]) == "ustar" {
			return e.refTar(body, path)
		}
		name := zr.Name
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(path[strings.LastIndex(path, "!")+1:]), ".gz")
		}
		return e.refExpand(body, path+"!"+name)
	case len(data) >= 262 && string(data[257:262]) == "ustar":
		return e.refTar(data, path)
	}
	return e.refScan(data, Provenance{Path: path})
}

func (e *Engine) refTar(data []byte, path string) []Finding {
	var fs []Finding
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			return fs
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		body, _ := io.ReadAll(tr)
		fs = append(fs, e.refExpand(body, path+"!"+strings.TrimPrefix(h.Name, "./"))...)
	}
}
