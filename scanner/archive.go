package scanner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Archives committed to a repository (a Lambda function.zip, a
// credentials.gz, a .tar.gz backup, a .jar or .whl) hide whatever they
// hold from a scanner that reads bytes (issue 10). Content is recognised
// as an archive by its magic bytes, never by its name, so a renamed .docx
// or .nupkg is read like any zip; each member is scanned as content of its
// own and its findings are reported at archive!member, with Start, End,
// Line and Column counting in the member. An archive that cannot be read
// as one is scanned as plain bytes.
//
// Everything is read through the limits below, so a hostile archive (a zip
// bomb, a gzip of zeros, a deep nest of archives) becomes a Skip with a
// reason, never memory exhaustion or a hang. Only the standard library is
// used: archive/zip, archive/tar, compress/gzip and compress/bzip2 cover
// every format named in the issue.

// Archive limits.
const (
	// MaxArchiveDepth is how many archives deep members are read: three
	// covers a jar inside a war inside a tar.gz; deeper nesting is rare in
	// real repositories and is how decompression bombs multiply.
	MaxArchiveDepth = 3

	// maxArchiveExpanded bounds the bytes expanded from one outermost
	// archive, members of nested archives included: well past a real
	// deployment bundle, far below what would hurt a CI runner.
	maxArchiveExpanded = 1 << 30

	// maxCompressionRatio is the most a member may expand relative to its
	// compressed size once past ratioFloor: text compresses 5-20x and
	// repetitive logs up to about 100x, while bombs reach 1000x and more.
	maxCompressionRatio = 200

	// ratioFloor is the expanded size below which the ratio is not
	// checked: a small, highly repetitive file is harmless however well it
	// compresses.
	ratioFloor = 1 << 20

	// maxArchiveMembers bounds the members read from one archive: a zip's
	// central directory can list millions of empty entries at little cost
	// to its author.
	maxArchiveMembers = 1 << 16
)

// Skip reasons for archives.
const (
	// SkipArchiveLimit is an archive member not read because a limit
	// above was reached; Skip.Detail says which.
	SkipArchiveLimit SkipReason = "archive-limit"
	// SkipArchiveCorrupt is an archive or member that could not be read.
	SkipArchiveCorrupt SkipReason = "archive-unreadable"
)

// archiveKind is a recognised container format.
type archiveKind int

const (
	notArchive archiveKind = iota
	kindZip
	kindGzip
	kindBzip2
	kindTar
)

// sniffArchive recognises an archive by its magic bytes.
func sniffArchive(data []byte) archiveKind {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")), bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return kindZip
	case len(data) >= 3 && data[0] == 0x1f && data[1] == 0x8b && data[2] == 8:
		return kindGzip
	case len(data) >= 10 && bytes.HasPrefix(data, []byte("BZh")) && data[3] >= '1' && data[3] <= '9' &&
		bytes.HasPrefix(data[4:], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}):
		return kindBzip2
	case len(data) >= 512 && bytes.Equal(data[257:262], []byte("ustar")):
		return kindTar
	}
	return notArchive
}

// IsArchive reports whether data is an archive the scanner reads inside.
func IsArchive(data []byte) bool { return sniffArchive(data) != notArchive }

// ScanContent scans one piece of content as a source hands it over: an
// archive's members (see above), or the content itself. Skips list members
// that limits kept from being read; they are never silent.
func (e *Engine) ScanContent(data []byte, prov Provenance) ([]Finding, []Skip) {
	if sniffArchive(data) == notArchive {
		return capFindings(e.Scan(data, prov), nil, prov.Path)
	}
	budget := int64(maxArchiveExpanded)
	if e.archiveBudget > 0 {
		budget = e.archiveBudget
	}
	x := &expansion{e: e, budget: budget}
	if !x.archive(data, prov, 0) {
		// Not an archive after all (magic bytes by chance): plain content.
		return capFindings(e.Scan(data, prov), x.skips, prov.Path)
	}
	return capFindings(x.finds, x.skips, prov.Path)
}

// expansion is the state of reading one outermost archive.
type expansion struct {
	e      *Engine
	budget int64 // bytes that may still be expanded
	finds  []Finding
	skips  []Skip
}

// content scans one member: an archive to open in turn, or content.
func (x *expansion) content(data []byte, prov Provenance, depth int) {
	if sniffArchive(data) != notArchive {
		if depth >= MaxArchiveDepth {
			x.skip(prov.Path, SkipArchiveLimit, int64(len(data)), fmt.Sprintf("nested more than %d archives deep", MaxArchiveDepth))
			return
		}
		if x.archive(data, prov, depth) {
			return
		}
	}
	x.finds = append(x.finds, x.e.Scan(data, prov)...)
}

func (x *expansion) skip(p string, r SkipReason, size int64, detail string) {
	x.skips = append(x.skips, Skip{Path: p, Reason: r, Size: size, Detail: detail})
}

// archive reads the members of the archive data, at depth archives deep,
// and reports false if data does not parse as the archive it looks like.
func (x *expansion) archive(data []byte, prov Provenance, depth int) bool {
	switch sniffArchive(data) {
	case kindZip:
		return x.zip(data, prov, depth)
	case kindTar:
		return x.tar(bytes.NewReader(data), prov, depth)
	case kindGzip:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return false
		}
		zr.Multistream(true)
		name := zr.Name
		return x.stream(zr, int64(len(data)), prov, depth, name, ".gz", ".tgz")
	case kindBzip2:
		return x.stream(bzip2.NewReader(bytes.NewReader(data)), int64(len(data)), prov, depth, "", ".bz2", ".tbz2")
	}
	return false
}

// stream expands a single-stream compressor's output. A tar inside it is
// one archive with it (backup.tar.gz!etc/config, not
// backup.tar.gz!backup.tar!etc/config); anything else is one member named
// as gzip recorded it, else after the archive without its suffix.
func (x *expansion) stream(r io.Reader, compressed int64, prov Provenance, depth int, name string, suffix, tarSuffix string) bool {
	if name == "" || strings.Contains(name, MemberSep) {
		base := path.Base(lastMember(prov.Path))
		switch {
		case strings.HasSuffix(base, tarSuffix):
			name = strings.TrimSuffix(base, tarSuffix) + ".tar"
		case strings.HasSuffix(base, suffix):
			name = strings.TrimSuffix(base, suffix)
		default:
			name = base
		}
	}
	data, reason, detail := x.read(r, compressed, -1)
	if reason == SkipArchiveCorrupt && len(data) == 0 {
		return false // not this format after all
	}
	if reason != "" {
		x.skip(prov.Path, reason, compressed, detail)
		return true
	}
	if sniffArchive(data) == kindTar {
		if x.tar(bytes.NewReader(data), prov, depth) {
			return true
		}
	}
	mp := prov
	mp.Path = memberPath(prov.Path, name)
	x.content(data, mp, depth+1)
	return true
}

// zip reads a zip's members (jar, war, whl, nupkg, docx and xlsx are zips).
func (x *expansion) zip(data []byte, prov Provenance, depth int) bool {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return false
	}
	for i, f := range zr.File {
		if i >= maxArchiveMembers {
			x.skip(prov.Path, SkipArchiveLimit, int64(len(data)), fmt.Sprintf("more than %d members; the rest were not read", maxArchiveMembers))
			break
		}
		if f.FileInfo().IsDir() {
			continue
		}
		mp := prov
		mp.Path = memberPath(prov.Path, f.Name)
		rc, err := f.Open()
		if err != nil {
			x.skip(mp.Path, SkipArchiveCorrupt, int64(f.UncompressedSize64), unwrapPathError(err).Error())
			continue
		}
		// The declared sizes are the author's claim: the limits are
		// enforced on what actually comes out.
		body, reason, detail := x.read(rc, int64(f.CompressedSize64), int64(f.UncompressedSize64))
		rc.Close()
		if reason != "" {
			x.skip(mp.Path, reason, int64(f.UncompressedSize64), detail)
			if reason == SkipArchiveLimit && x.budget <= 0 {
				break
			}
			continue
		}
		x.content(body, mp, depth+1)
	}
	return true
}

// tar reads a tar's regular files; links, devices and directories hold no
// content of their own.
func (x *expansion) tar(r io.Reader, prov Provenance, depth int) bool {
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return true
		}
		if err != nil {
			if i == 0 {
				return false
			}
			x.skip(prov.Path, SkipArchiveCorrupt, 0, "tar: "+err.Error())
			return true
		}
		if i >= maxArchiveMembers {
			x.skip(prov.Path, SkipArchiveLimit, 0, fmt.Sprintf("more than %d members; the rest were not read", maxArchiveMembers))
			return true
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		mp := prov
		mp.Path = memberPath(prov.Path, strings.TrimPrefix(hdr.Name, "./"))
		// A tar stores members uncompressed: its own size is the
		// compressed size as far as the ratio goes.
		body, reason, detail := x.read(tr, hdr.Size, hdr.Size)
		if reason != "" {
			x.skip(mp.Path, reason, hdr.Size, detail)
			if reason == SkipArchiveLimit && x.budget <= 0 {
				return true
			}
			continue
		}
		x.content(body, mp, depth+1)
	}
}

// errRatio is how read says a member expanded past maxCompressionRatio.
var errRatio = errors.New("compression ratio over the limit")

// read expands one member within the engine's size limit, the archive's
// remaining budget and the compression ratio. declared is the size the
// archive claims, -1 if unknown. It returns the bytes, or a reason and
// detail for a Skip.
func (x *expansion) read(r io.Reader, compressed, declared int64) ([]byte, SkipReason, string) {
	limit := min(x.e.opts.MaxFileSize, x.budget)
	if declared > limit {
		return nil, SkipArchiveLimit, x.limitDetail(declared)
	}
	ratioCap := max(compressed, 1)*maxCompressionRatio + ratioFloor
	cr := &ratioReader{r: r, cap: ratioCap}
	data, err := io.ReadAll(io.LimitReader(cr, limit+1))
	x.budget -= int64(len(data))
	switch {
	case errors.Is(err, errRatio):
		return nil, SkipArchiveLimit, fmt.Sprintf("expands more than %dx (a decompression bomb?)", maxCompressionRatio)
	case err != nil:
		return data, SkipArchiveCorrupt, err.Error()
	case int64(len(data)) > limit:
		return nil, SkipArchiveLimit, x.limitDetail(int64(len(data)))
	}
	return data, "", ""
}

func (x *expansion) limitDetail(size int64) string {
	if x.budget < x.e.opts.MaxFileSize {
		return fmt.Sprintf("the archive expands past %d bytes in all", int64(maxArchiveExpanded))
	}
	return fmt.Sprintf("member over the size limit (%d bytes)", x.e.opts.MaxFileSize)
}

// ratioReader fails once more than cap bytes have come out of r.
type ratioReader struct {
	r   io.Reader
	n   int64
	cap int64
}

func (c *ratioReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.cap {
		return n, errRatio
	}
	return n, err
}

// lastMember is the innermost name in a member path.
func lastMember(p string) string {
	if i := strings.LastIndex(p, MemberSep); i >= 0 {
		return p[i+len(MemberSep):]
	}
	return p
}
