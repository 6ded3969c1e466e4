package scanner

import "strings"

// MemberSep separates an archive's path from a member's path inside it:
// "lambda/function.zip!handler.py", and for nested archives
// "backup.tar.gz!site.zip!config.json" (the notation Java uses for jar
// members).
const MemberSep = "!"

// memberPath names member inside the archive at path.
func memberPath(archive, member string) string { return archive + MemberSep + member }

// splitMember splits p at its first MemberSep into the outermost archive
// and the member path inside it (which may itself name a nested member).
func splitMember(p string) (archive, member string, ok bool) {
	return strings.Cut(p, MemberSep)
}
