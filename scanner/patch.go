package scanner

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file is the Patch source, and the example to copy when adding a
// source: one type implementing Source with the services of Run alone
// (Find and Add to keep some findings, Skip, Count), and its test in
// patch_test.go.

// Patch is a unified diff read from R: the output of git diff, git show,
// git log -p (merges too, with --cc) or diff -u, as a reviewer, a CI job
// or a patch mail receives it. Only added lines are reported, as the
// pre-commit scan does, at their line numbers in the new file (from the
// hunk headers), so a key the change removes or only shows as context is
// not. Each hunk's new side (context and added lines) is scanned as one
// piece, so a secret added under a key ID that the hunk shows as context
// is paired with it and reported; hunks are not paired with one another,
// since the lines between them are not in the patch.
//
// The messages of git log's commits are scanned too, and findings in a
// log name their commit and author. A binary change has no content in
// the patch: it is a Skip (SkipBinaryPatch), so a patch that changes one
// is never called clean. Start and End are byte offsets in the patch.
type Patch struct {
	R io.Reader
	// Name names the patch in errors ("-" for standard input).
	Name string
}

// SkipBinaryPatch is a binary file a patch changes without carrying its
// content in a form that can be scanned ("Binary files differ", or git's
// base85 "GIT binary patch"): the file itself must be scanned.
const SkipBinaryPatch SkipReason = "binary-in-patch"

// maxPatchParents bounds the parents of a combined-diff hunk ("@@@@ ...");
// git writes one column per parent, and an octopus merge rarely has more
// than a few dozen.
const maxPatchParents = 128

// Scan implements Source.
func (p Patch) Scan(ctx context.Context, run *Run) error {
	// A hunk over the size limit is scanned in pieces of that size, but
	// never under the stream's smallest window (stream.go), so the margin
	// pieces share covers the longest span a finding depends on.
	limit := max(run.Engine().MaxFileSize(), minStreamWindow)
	s := &patchScan{run: run, name: p.Name, in: bufio.NewReaderSize(p.R, 64<<10), limit: limit}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, off, err := s.line()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("read patch %s: %w", p.Name, err)
		}
		s.handle(line, off)
	}
	s.endHunk()
	s.endMessage()
	if !s.recognized && s.read > 0 {
		return fmt.Errorf("read patch %s: no unified diff found (diff headers, @@ hunks or git log commits)", p.Name)
	}
	run.Count(Counts{Files: int64(len(s.files)), Bytes: s.scanned, Commits: s.commits})
	return nil
}

// patchLine is one line of a piece being gathered for scanning.
type patchLine struct {
	start int   // offset in the piece
	off   int64 // offset in the patch
	num   int   // line number in the new file (or the message)
	added bool
}

// patchScan is the state of reading one patch.
type patchScan struct {
	run   *Run
	name  string
	in    *bufio.Reader
	limit int64
	read  int64 // bytes of the patch read so far

	recognized bool
	commits    int64
	commit     Provenance // the current commit's, with no path
	files      map[string]bool
	scanned    int64

	// The current commit's message, when in one; mail is set for a
	// patch mail (git format-patch), whose message is not indented.
	inMessage bool
	msgNum    int
	mail      bool

	// The current file: path of its new side ("" when deleted or not
	// yet known), whether it came from a git diff header ("b/" prefix).
	path    string
	oldPath string
	gitDiff bool

	// The current hunk.
	inHunk   bool
	cols     int   // parent columns: 1, or one per parent of a merge
	oldLeft  []int // lines each parent's side still has
	newLeft  int
	nextLine int

	// The piece being gathered: a hunk's new side or a message.
	prov  Provenance
	data  []byte
	lines []patchLine
	// keepFrom is where the piece's kept band starts: past the lines the
	// piece before it reported (see add).
	keepFrom int
}

// line returns the next line without its newline and its offset in the
// patch. A line longer than the size limit is cut there and the rest
// skipped, with a Skip that says so.
func (s *patchScan) line() ([]byte, int64, error) {
	off := s.read
	var buf []byte
	for {
		frag, err := s.in.ReadSlice('\n')
		s.read += int64(len(frag))
		if int64(len(buf)+len(frag)) <= s.limit {
			buf = append(buf, frag...)
		} else if int64(len(buf)) < s.limit {
			buf = append(buf, frag[:s.limit-int64(len(buf))]...)
			s.run.Skip(Skip{Path: s.where(), Reason: SkipTooLarge, Size: s.limit,
				Detail: fmt.Sprintf("a line of the patch at byte %d is longer than the size limit (%d bytes); the rest of it was not scanned; raise --max-file-size", off, s.limit)})
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && len(buf) == 0:
			return nil, off, err
		}
		return bytes.TrimSuffix(buf, []byte("\n")), off, nil
	}
}

// where names the current place for a Skip.
func (s *patchScan) where() string {
	if s.path != "" {
		return s.path
	}
	return s.name
}

// handle reads one line of the patch.
func (s *patchScan) handle(line []byte, off int64) {
	if s.inHunk {
		if s.hunkLine(line, off) {
			return
		}
		s.endHunk() // a line no hunk can hold: the hunk was cut short
	}
	if s.inMessage {
		if s.mail {
			// A patch mail's message runs to the "---" before the diff.
			if !bytes.Equal(line, []byte("---")) && !bytes.HasPrefix(line, []byte("diff --git ")) {
				s.msgNum++
				s.add(line, off, s.msgNum, true)
				return
			}
		} else if text, ok := bytes.CutPrefix(line, []byte("    ")); ok || len(bytes.TrimSpace(line)) == 0 {
			// git log indents a message by four spaces.
			s.msgNum++
			s.add(text, off+int64(len(line)-len(text)), s.msgNum, true)
			return
		}
		s.endMessage()
	}
	str := string(line)
	switch {
	case strings.HasPrefix(str, "commit ") || strings.HasPrefix(str, "From "):
		// git log's "commit <id> (refs)", or a patch mail's "From <id> <date>".
		if f := strings.Fields(str); len(f) >= 2 && isHexID(f[1]) {
			s.recognized = true
			s.commits++
			s.path, s.msgNum, s.mail = "", 0, str[0] == 'F'
			s.commit = Provenance{Commit: f[1]}
		}
	case s.mail && s.msgNum == 0 && strings.HasPrefix(str, "Subject: "):
		// The subject is the message's first line; the rest of the
		// headers and the body follow it.
		s.startMessage()
		s.msgNum++
		s.add(line[len("Subject: "):], off+int64(len("Subject: ")), s.msgNum, true)
	case strings.HasPrefix(str, "Author: ") || strings.HasPrefix(str, "From: "):
		_, who, _ := strings.Cut(str, ": ")
		s.commit.Author, s.commit.Email = splitAuthor(who)
	case strings.HasPrefix(str, "Date: "):
		s.commit.Date = parsePatchDate(strings.TrimSpace(str[len("Date: "):]))
	case str == "" && s.commit.Commit != "" && s.path == "" && s.msgNum == 0 && !s.mail:
		// The blank line between a log entry's headers and its message.
		s.startMessage()
	case strings.HasPrefix(str, "diff --git "):
		s.newFile(true)
		s.path = gitDiffPath(str[len("diff --git "):])
	case strings.HasPrefix(str, "diff --cc ") || strings.HasPrefix(str, "diff --combined "):
		s.newFile(true)
		_, p, _ := strings.Cut(str[len("diff --"):], " ")
		s.path = unquotePatchPath(p)
	case strings.HasPrefix(str, "--- "):
		if !s.gitDiff {
			s.newFile(false)
		}
		s.oldPath = s.headerPath(str[len("--- "):])
	case strings.HasPrefix(str, "+++ "):
		s.recognized = true
		s.path = s.headerPath(str[len("+++ "):])
		if s.path == "/dev/null" {
			s.path = "" // a deleted file
		}
		// git's a/ and b/ prefixes (also in other tools' unified diffs).
		if rest, ok := strings.CutPrefix(s.path, "b/"); ok && (s.oldPath == "/dev/null" || strings.HasPrefix(s.oldPath, "a/")) {
			s.path = rest
		}
	case strings.HasPrefix(str, "Binary files ") && strings.HasSuffix(str, " differ"):
		if !strings.HasSuffix(str, " and /dev/null differ") {
			s.binary("the patch says only that the binary file differs")
		}
	case str == "GIT binary patch":
		s.binary("the patch holds it as git's base85 binary patch, which is not decoded")
	case strings.HasPrefix(str, "@@"):
		s.startHunk(str, off)
	}
}

// startMessage starts gathering the current commit's message.
func (s *patchScan) startMessage() {
	s.inMessage = true
	s.prov = s.commit
	s.prov.Path, s.prov.Kind = MessagePath, KindCommitMessage
}

// newFile starts a file of the patch.
func (s *patchScan) newFile(gitDiff bool) {
	s.recognized = true
	s.path, s.oldPath, s.gitDiff = "", "", gitDiff
	s.msgNum = -1 // a blank line from now on is not a message's start
}

// headerPath is the path a "--- " or "+++ " line names, unquoted and
// without diff -u's tab and timestamp.
func (s *patchScan) headerPath(p string) string {
	if !strings.HasPrefix(p, `"`) {
		p, _, _ = strings.Cut(p, "\t")
	}
	return unquotePatchPath(p)
}

// binary records a binary change to the current file.
func (s *patchScan) binary(why string) {
	s.run.Skip(Skip{Path: s.where(), Reason: SkipBinaryPatch,
		Detail: "a binary change: " + why + "; scan the file itself"})
}

// startHunk reads a hunk header: "@@ -a,b +c,d @@", or a combined diff's
// "@@@ -a,b -c,d +e,f @@@" with one old range per parent.
func (s *patchScan) startHunk(h string, off int64) {
	at := len(h) - len(strings.TrimLeft(h, "@"))
	cols := at - 1
	if cols < 1 || cols > maxPatchParents {
		return
	}
	fields := strings.Fields(h[at:])
	var old []int
	newStart, newCount := -1, 0
	for _, f := range fields {
		if strings.HasPrefix(f, "@") {
			break
		}
		start, count, ok := hunkRange(f[1:])
		if !ok {
			return
		}
		switch f[0] {
		case '-':
			old = append(old, count)
		case '+':
			newStart, newCount = start, count
		default:
			return
		}
	}
	if len(old) != cols || newStart < 0 {
		return
	}
	newStart = max(newStart, 1) // "+0,0" is an empty side; lines count from 1
	s.recognized = true
	s.inHunk, s.cols, s.oldLeft, s.newLeft, s.nextLine = true, cols, old, newCount, newStart
	s.prov = s.commit
	// A bare hunk, with no file header, is named after the patch.
	s.prov.Path = cmp.Or(s.path, s.name)
	if newCount > 0 {
		if s.files == nil {
			s.files = map[string]bool{}
		}
		s.files[s.commit.Commit+"\x00"+s.prov.Path] = true
	}
	if s.hunkDone() {
		s.endHunk()
	}
}

// hunkRange parses "start,count" or "start" (a count of one).
func hunkRange(r string) (start, count int, ok bool) {
	a, b, has := strings.Cut(r, ",")
	start, err := strconv.Atoi(a)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	count = 1
	if has {
		if count, err = strconv.Atoi(b); err != nil || count < 0 {
			return 0, 0, false
		}
	}
	return start, count, true
}

// hunkLine takes one line of the current hunk; false means the line is
// not one (the hunk ended early: a truncated or hand-edited patch).
func (s *patchScan) hunkLine(line []byte, off int64) bool {
	if len(line) > 0 && line[0] == '\\' {
		return true // "\ No newline at end of file"
	}
	prefix, text := line, []byte(nil)
	if len(line) >= s.cols {
		prefix, text = line[:s.cols], line[s.cols:]
	} else if len(bytes.TrimSpace(line)) == 0 {
		// A blank context line whose space an editor or mailer stripped.
		prefix = bytes.Repeat([]byte{' '}, s.cols)
	} else {
		return false
	}
	if len(bytes.Trim(prefix, " +-")) > 0 {
		return false
	}
	inNew := bytes.IndexByte(prefix, '-') < 0
	for i, c := range prefix {
		// A parent holds the line if it is removed from it, or kept.
		if c == '-' || (inNew && c == ' ') {
			s.oldLeft[i]--
		}
	}
	if inNew {
		s.newLeft--
		s.add(text, off+int64(s.cols), s.nextLine, bytes.Count(prefix, []byte{'+'}) == s.cols)
		s.nextLine++
	}
	if s.hunkDone() {
		s.endHunk()
	}
	return true
}

// hunkDone reports whether the hunk has all the lines its header counts.
func (s *patchScan) hunkDone() bool {
	if s.newLeft > 0 {
		return false
	}
	for _, n := range s.oldLeft {
		if n > 0 {
			return false
		}
	}
	return true
}

// add appends a line to the piece, scanning the piece first when the
// line would take it past the size limit. Then, as the stream windows do
// (stream.go), the piece's last lines, up to streamOverlap bytes, are
// scanned again at the start of the next piece, and a finding is reported
// by the piece in which it starts in the kept band: the first piece keeps
// what starts before the last half of the overlap, the next what starts
// from there. So every finding has at least half the overlap of context
// on both sides.
func (s *patchScan) add(text []byte, off int64, num int, added bool) {
	if len(s.lines) > 0 && int64(len(s.data)+len(text)+1) > s.limit {
		margin := streamOverlap // at most a quarter of a piece
		within := func(m int) int {
			i := len(s.lines)
			for i > 1 && len(s.data)-s.lines[i-1].start <= m {
				i--
			}
			return i
		}
		carry, band := within(margin), within(margin/2)
		cut := len(s.data)
		if band < len(s.lines) {
			cut = s.lines[band].start
		}
		kept := append([]patchLine(nil), s.lines[carry:]...)
		var tail []byte
		if len(kept) > 0 {
			tail = append(tail, s.data[kept[0].start:]...)
		}
		s.flush(cut)
		s.data = append(s.data, tail...)
		for _, l := range kept {
			l.start -= kept[0].start
			s.lines = append(s.lines, l)
		}
		if len(kept) > 0 {
			s.keepFrom = cut - kept[0].start
		}
	}
	if len(s.lines) > 0 {
		s.data = append(s.data, '\n')
	}
	s.lines = append(s.lines, patchLine{start: len(s.data), off: off, num: num, added: added})
	s.data = append(s.data, text...)
}

// endHunk scans the hunk gathered so far.
func (s *patchScan) endHunk() {
	if s.inHunk {
		s.flush(len(s.data) + 1)
	}
	s.inHunk = false
}

// endMessage scans the commit message gathered so far.
func (s *patchScan) endMessage() {
	if s.inMessage {
		// The blank line that ends a message in git log is not part of it.
		for len(s.lines) > 0 && s.lines[len(s.lines)-1].start == len(s.data) {
			s.lines = s.lines[:len(s.lines)-1]
			s.data = bytes.TrimSuffix(s.data, []byte("\n"))
		}
		s.flush(len(s.data) + 1)
	}
	s.inMessage = false
	s.msgNum = -1
}

// flush scans the piece and keeps the findings that start in its kept
// band, from keepFrom to until, and touch an added line: the lines of the
// match, or its paired secret's line. Lines and offsets are moved from the
// piece to the new file and the patch.
func (s *patchScan) flush(until int) {
	from := s.keepFrom
	defer func() { s.data, s.lines, s.keepFrom = s.data[:0], s.lines[:0], 0 }()
	if len(s.lines) == 0 {
		return
	}
	any := false
	for _, l := range s.lines {
		any = any || l.added
	}
	if !any {
		return // context only, or lines carried over: nothing new
	}
	s.scanned += int64(len(s.data))
	fs := s.run.Find(s.data, s.prov)
	keep := fs[:0]
	for _, f := range fs {
		if f.Start < from || f.Start >= until {
			continue // the piece before or after reports it
		}
		first, last := s.lineAt(f.Start), s.lineAt(max(f.End-1, f.Start))
		added := false
		for i := first; i <= last && !added; i++ {
			added = s.lines[i].added
		}
		if f.SecretLine > 0 && f.SecretLine <= len(s.lines) {
			added = added || s.lines[f.SecretLine-1].added
			f.SecretLine = s.lines[f.SecretLine-1].num
		}
		if !added {
			continue
		}
		f.Line = s.lines[first].num
		f.Start = int(s.lines[first].off) + f.Start - s.lines[first].start
		f.End = int(s.lines[last].off) + f.End - s.lines[last].start
		keep = append(keep, f)
	}
	s.run.Add(keep...)
}

// lineAt is the index of the piece's line holding offset o.
func (s *patchScan) lineAt(o int) int {
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i].start > o })
	return max(i-1, 0)
}

// isHexID reports whether s is a full SHA-1 or SHA-256 object name.
func isHexID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// splitAuthor splits "Name <email>".
func splitAuthor(who string) (name, email string) {
	name, rest, ok := strings.Cut(who, " <")
	if !ok {
		return strings.TrimSpace(who), ""
	}
	return strings.TrimSpace(name), strings.TrimSuffix(rest, ">")
}

// patchDateLayouts are the dates git log and patch mails write: git's
// default, --date=iso, and RFC 2822.
var patchDateLayouts = []string{"Mon Jan 2 15:04:05 2006 -0700", "2006-01-02 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 -0700"}

// parsePatchDate parses a Date: header; the zero time when it cannot.
func parsePatchDate(v string) time.Time {
	for _, l := range patchDateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// gitDiffPath is the new path of "diff --git a/P b/P", used until a "+++"
// line names it (a binary change has none). When the two paths differ (a
// rename) and hold spaces, the split is a guess the "+++" line corrects.
func gitDiffPath(rest string) string {
	if strings.HasPrefix(rest, `"`) {
		if i := strings.LastIndex(rest, ` "b/`); i > 0 {
			return strings.TrimPrefix(unquotePatchPath(rest[i+1:]), "b/")
		}
	}
	if n := len(rest); n%2 == 1 {
		a, b := rest[:n/2], rest[n/2+1:]
		if strings.HasPrefix(a, "a/") && strings.HasPrefix(b, "b/") && a[2:] == b[2:] {
			return b[2:]
		}
	}
	if i := strings.LastIndex(rest, " b/"); i >= 0 {
		return rest[i+3:]
	}
	return rest
}

// unquotePatchPath undoes git's C-style quoting of a path with special
// bytes ("a\tb", octal escapes for non-ASCII); anything else is as is.
func unquotePatchPath(p string) string {
	if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
		if u, err := strconv.Unquote(p); err == nil {
			return u
		}
	}
	return p
}
