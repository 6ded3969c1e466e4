package patterns

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// KeyIDLen is the length of every AWS access key ID this package recognises.
const KeyIDLen = 20

// KeyKind says what an access key ID can do once leaked: a long-term key is
// usable on its own, a temporary one only together with its session token.
type KeyKind string

// Key kinds, from the ID prefixes AWS documents under "Unique identifiers" in
// the IAM User Guide.
const (
	LongTerm  KeyKind = "long-term"
	Temporary KeyKind = "temporary"
)

// Prefix describes one access-key-ID prefix.
type Prefix struct {
	Prefix  string
	Kind    KeyKind
	Meaning string
}

// Prefixes lists the credential prefixes. Other four-letter prefixes (AIDA,
// AROA, ...) identify users and roles, not credentials, and are not findings.
var Prefixes = []Prefix{
	{"AKIA", LongTerm, "IAM user or root access key"},
	{"ASIA", Temporary, "temporary STS access key"},
	{"ABIA", LongTerm, "STS service bearer token"},
	{"ACCA", LongTerm, "context-specific credential"},
	{"A3T", LongTerm, "legacy access key"},
}

// keyIDAlphabet is base32's alphabet: AWS key IDs never contain 0, 1, 8 or 9
// after the prefix, which is what separates a real-looking ID from many
// placeholders.
const keyIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

var keyIDChar = func() (t [256]bool) {
	for i := 0; i < len(keyIDAlphabet); i++ {
		t[keyIDAlphabet[i]] = true
	}
	return t
}()

// IsKeyIDChar reports whether c may follow a key-ID prefix.
func IsKeyIDChar(c byte) bool { return keyIDChar[c] }

// PrefixOf returns the prefix entry that s (at least 4 bytes of a candidate
// key ID) starts with. A3T keys have a fourth character from [A-Z0-9].
func PrefixOf(s []byte) (Prefix, bool) {
	if len(s) < 4 || s[0] != 'A' {
		return Prefix{}, false
	}
	switch string(s[:4]) {
	case "AKIA":
		return Prefixes[0], true
	case "ASIA":
		return Prefixes[1], true
	case "ABIA":
		return Prefixes[2], true
	case "ACCA":
		return Prefixes[3], true
	}
	if s[1] == '3' && s[2] == 'T' && (s[3] >= 'A' && s[3] <= 'Z' || s[3] >= '0' && s[3] <= '9') {
		return Prefixes[4], true
	}
	return Prefix{}, false
}

// IsKeyIDShape reports whether s is exactly a prefix followed by 16 key-ID
// characters. Boundaries and placeholders are the caller's concern.
func IsKeyIDShape(s []byte) bool {
	if len(s) != KeyIDLen {
		return false
	}
	if _, ok := PrefixOf(s); !ok {
		return false
	}
	for _, c := range s[4:] {
		if !keyIDChar[c] {
			return false
		}
	}
	return true
}

// KindOf returns the key kind for a key ID, or "" if the prefix is unknown.
func KindOf(keyID string) KeyKind {
	p, ok := PrefixOf([]byte(keyID))
	if !ok {
		return ""
	}
	return p.Kind
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// AccountID decodes the AWS account that owns keyID, offline.
//
// Characters 5 to 20 are base32; the first six decoded bytes, read
// big-endian, hold the account shifted left by 7 with the top bit masked
// (AWS-RESPONSE.md, step 0). Keys whose fifth character is I or J predate
// this encoding and carry no account; A3T keys are of that age too.
func AccountID(keyID string) (string, bool) {
	if !IsKeyIDShape([]byte(keyID)) || keyID[1] == '3' {
		return "", false
	}
	if keyID[4] == 'I' || keyID[4] == 'J' {
		return "", false
	}
	raw, err := b32.DecodeString(keyID[4:])
	if err != nil {
		return "", false
	}
	var buf [8]byte
	copy(buf[2:], raw[:6])
	z := binary.BigEndian.Uint64(buf[:])
	return fmt.Sprintf("%012d", (z&0x7fffffffff80)>>7), true
}

// NewKeyID mints a key ID with the given prefix that decodes to account,
// drawing its remaining bits from rnd. The emulator uses it to issue keys
// that behave like AWS's; tests use it so that no live-looking key is ever
// committed to this repository.
func NewKeyID(prefix, account string, rnd io.Reader) (string, error) {
	if len(prefix) != 4 {
		return "", fmt.Errorf("mint key id: prefix %q is not 4 characters", prefix)
	}
	acct, err := strconv.ParseUint(account, 10, 64)
	if err != nil || acct >= 1<<40 {
		return "", fmt.Errorf("mint key id: bad account %q", account)
	}
	var raw [10]byte
	if _, err := io.ReadFull(rnd, raw[:]); err != nil {
		return "", fmt.Errorf("mint key id: %w", err)
	}
	// Lay the account into bits 7..46 of the first six bytes, keep 7 random
	// low bits, and set bit 47 as AWS does for new-format keys: that puts the
	// fifth character in Q..7, never the I or J that marks an old key.
	var six [8]byte
	z := 1<<47 | acct<<7 | uint64(raw[5]&0x7f)
	binary.BigEndian.PutUint64(six[:], z)
	copy(raw[:6], six[2:])
	id := prefix + b32.EncodeToString(raw[:])
	if got, ok := AccountID(id); !ok || got != fmt.Sprintf("%012d", acct) {
		return "", fmt.Errorf("mint key id: account %s does not round-trip", account)
	}
	return id, nil
}
