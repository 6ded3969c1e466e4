package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Secret holds a credential's secret part. Every way of formatting it
// redacts, so it can travel inside errors and structs safely; Reveal is the
// one way to read it, and its callers are easy to audit.
type Secret struct {
	v string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no secret is held.
func (s Secret) IsZero() bool { return s.v == "" }

// Len is the secret's length in bytes.
func (s Secret) Len() int { return len(s.v) }

// Redacted shows the first four characters and the length, enough for a
// person to tell two secrets apart and find the line, not enough to use it.
func (s Secret) Redacted() string {
	if s.v == "" {
		return ""
	}
	n := 4
	if len(s.v) < 12 {
		n = 0
	}
	return s.v[:n] + "…(" + strconv.Itoa(len(s.v)) + " chars)"
}

// String implements fmt.Stringer, redacted.
func (s Secret) String() string { return s.Redacted() }

// GoString implements fmt.GoStringer, redacted, so %#v cannot leak either.
func (s Secret) GoString() string { return "scanner.Secret(" + strconv.Quote(s.Redacted()) + ")" }

// MarshalJSON writes the redacted form; renderers that are asked to show
// secrets use Reveal explicitly.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.Redacted())), nil }

// Hash is the hex SHA-256 of the secret: safe to store (a 40-character
// random key cannot be recovered from it) and what allowlists and baselines
// match on.
func (s Secret) Hash() string {
	if s.v == "" {
		return ""
	}
	h := sha256.Sum256([]byte(s.v))
	return hex.EncodeToString(h[:])
}

// Kind names what sort of content a finding came from. The zero value is
// KindFile, so sources that read files need not set it.
type Kind string

// Kinds of content. The values are stable: they appear in JSON reports as
// "kind" (issue 10).
const (
	// KindFile is a file on disk, in the index, or a blob at a path in a
	// commit's tree.
	KindFile Kind = "file"
	// KindStdin is standard input.
	KindStdin Kind = "stdin"
	// KindCommitMessage is a commit message; Provenance.Commit names the
	// commit and Path is MessagePath (or the file a commit-msg hook gave).
	KindCommitMessage Kind = "commit-message"
	// KindTagMessage is an annotated tag's message; Ref names the tag and
	// Path is TagMessagePath.
	KindTagMessage Kind = "tag-message"
	// KindNote is a git note; Ref names the notes ref.
	KindNote Kind = "note"
	// KindStash is a file in a stash entry; Ref names the entry
	// (stash@{2}).
	KindStash Kind = "stash"
	// KindBlob is a blob no ref reaches, named by its object ID
	// (--all-objects).
	KindBlob Kind = "blob"
)

// Provenance says where content came from. Path is always set (stdin is
// "-"); the git fields are set for content read from a repository. A path
// holding '!' names a member inside an archive: "lambda/function.zip!handler.py"
// (see archive.go).
type Provenance struct {
	// Kind is what the content is; empty means KindFile.
	Kind Kind
	Path string
	// Ref names the tag, stash entry or notes ref the content belongs to,
	// for the kinds that have one.
	Ref string
	// Commit is the full hex ID of the commit that introduced the content
	// (or holds it, for a commit message).
	Commit string
	Author string
	Email  string
	Date   time.Time
}

// KindOrFile is Kind with the zero value spelled out.
func (p Provenance) KindOrFile() Kind {
	if p.Kind == "" {
		return KindFile
	}
	return p.Kind
}

// IsMessage reports whether the content is a commit or tag message rather
// than a file: such content has no path of its own that can move or be
// matched by a path glob.
func (p Provenance) IsMessage() bool {
	return p.Kind == KindCommitMessage || p.Kind == KindTagMessage
}

// Pinned reports whether the content has no file path that could move or
// that path-based suppression could name: a message or standard input.
func (p Provenance) Pinned() bool {
	return p.IsMessage() || p.Kind == KindStdin || p.Path == "-"
}

// Member returns the archive path and the member path when Path names a
// member inside an archive, split at the outermost '!'.
func (p Provenance) Member() (archive, member string, ok bool) {
	return splitMember(p.Path)
}

// Encoding names how a finding's text was written in the source. The empty
// string means plainly.
type Encoding string

// Encodings the scanner sees through.
const (
	EncPlain   Encoding = ""
	EncURL     Encoding = "url"
	EncEscape  Encoding = "escape" // JSON or JavaScript string escapes
	EncBase64  Encoding = "base64"
	EncUTF16LE Encoding = "utf-16le"
	EncUTF16BE Encoding = "utf-16be"
)

// Finding is one credential found in one place.
type Finding struct {
	RuleID      string
	Description string
	Provenance

	// Line and Column (1-based; Column counts bytes) locate the start of the
	// match; for a paired finding, the key ID.
	Line, Column int
	// Start and End are byte offsets of the match in the scanned content, so
	// content[Start:End] is exactly the text that was found, encoded or not.
	Start, End int

	// KeyID is the access key ID, empty for a lone secret or token.
	KeyID string
	// KeyKind is long-term or temporary, from the key ID's prefix.
	KeyKind string
	// AccountID is decoded offline from the key ID where the format allows.
	AccountID string
	// Canary marks keys from known canary-token accounts: they must never
	// be validated, since any use alerts whoever planted them.
	Canary bool

	// Secret is the secret access key paired with KeyID, or the lone secret.
	Secret Secret
	// SecretLine is the line the secret was found on, 0 if there is none.
	SecretLine int
	// SessionToken is the STS token that goes with an ASIA key, or a lone
	// token.
	SessionToken Secret

	// Encoding is how the match was written in the source.
	Encoding Encoding
	// Fingerprint identifies the finding independently of line numbers, so
	// baselines and allowlists survive edits that move it.
	Fingerprint string

	// secretStart is the secret's offset, kept until locate turns it into
	// SecretLine.
	secretStart int

	// PresentIn lists the branches whose tip still holds this credential at
	// this path (history sweeps only); empty means it was removed since.
	PresentIn []string

	// Suppressed, when set, says why the finding is withheld (an inline
	// keyward:allow, an allowlist, the baseline). Sources keep such findings
	// in Result.Findings like any other, so their own filtering (added
	// lines, history de-duplication) applies; Filter.Apply and
	// Baseline.Apply then move them to Result.Suppressed.
	Suppressed *Suppression
}

// secretMaterial is what a finding is about: the key ID for a key, the
// secret for a lone secret, the token for a lone token.
func (f *Finding) secretMaterial() string {
	switch {
	case f.KeyID != "":
		return f.KeyID
	case !f.Secret.IsZero():
		return f.Secret.Reveal()
	default:
		return f.SessionToken.Reveal()
	}
}

// SecretHash is the hex SHA-256 of the finding's credential material (key ID,
// else secret, else token): what allowlists by hash and baselines match on.
func (f *Finding) SecretHash() string {
	h := sha256.Sum256([]byte(f.secretMaterial()))
	return hex.EncodeToString(h[:])
}

// fingerprint is rule + path + hash of the credential, deliberately without
// a line number (a gitleaks complaint: moving a line resurrects a finding).
func fingerprint(ruleID, path, material string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", ruleID, path, material)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Skip records content that was not scanned, so that nothing is dropped
// silently.
type Skip struct {
	Path   string
	Reason SkipReason
	Size   int64
	// Detail says more where the reason alone does not (which archive
	// limit was reached).
	Detail string
}

// SkipReason says why content was not scanned.
type SkipReason string

// Reasons for skipping.
const (
	SkipTooLarge SkipReason = "too-large"
	SkipSymlink  SkipReason = "symlink"
	SkipSpecial  SkipReason = "not-a-regular-file"
)

// SkipReasons lists every reason in the order summaries give them.
var SkipReasons = []SkipReason{SkipTooLarge, SkipArchiveLimit, SkipArchiveCorrupt, SkipFindingsCap, SkipSymlink, SkipSpecial}

// Incomplete reports whether the skip left content unread that the scan
// should have read: a symlink or a device is not content, but a file, blob
// or archive member that was not read means the scan cannot say "clean".
func (s Skip) Incomplete() bool {
	return s.Reason != SkipSymlink && s.Reason != SkipSpecial && s.Reason != SkipFindingsCap
}
