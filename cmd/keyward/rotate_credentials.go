package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/scanner/regfile"
)

// maxCredentialsFile bounds the credentials file read: it holds a few
// profiles; anything far larger is not one.
const maxCredentialsFile = 1 << 20

// profileKey is one profile's static key in the shared credentials file.
type profileKey struct {
	keyID, secret string
	hasToken      bool
	// pending is the rotation marker left by 'keyward rotate', if any.
	pending *rotationMarker
}

// rotationMarker is the comment 'keyward rotate' leaves in the profile so
// that 'keyward rotate --finish' knows which key to delete and from when.
// It holds a key ID, which is not a secret, and never a secret.
type rotationMarker struct {
	oldKeyID, user string
	replacedAt     time.Time
}

const markerPrefix = "# keyward rotate:"

var markerRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^# keyward rotate: replaced (\S+) of IAM user (\S+) at (\S+);`)
})

func (m rotationMarker) line(profile string, grace time.Duration) string {
	return fmt.Sprintf("%s replaced %s of IAM user %s at %s; it is inactive: delete it with 'keyward rotate --profile %s --finish' after %s",
		markerPrefix, m.oldKeyID, m.user, m.replacedAt.UTC().Format(time.RFC3339), profile, m.replacedAt.Add(grace).UTC().Format(time.RFC3339))
}

// section finds profile's lines in the credentials file: the index of its
// header and the index one past its last line.
func section(lines []string, profile string) (start, end int, ok bool) {
	start = -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			if start >= 0 {
				return start, i, true
			}
			if strings.TrimSpace(t[1:len(t)-1]) == profile {
				start = i
			}
		}
	}
	if start < 0 {
		return 0, 0, false
	}
	return start, len(lines), true
}

// keyValue splits an INI line into its key and value.
func keyValue(l string) (key, value string, ok bool) {
	t := strings.TrimSpace(l)
	if t == "" || t[0] == '#' || t[0] == ';' {
		return "", "", false
	}
	k, v, ok := strings.Cut(t, "=")
	if !ok {
		return "", "", false
	}
	return strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v), true
}

// readCredentialsFile reads the credentials file with a size bound and
// without blocking (regfile.Read): a FIFO or a symlink to /dev/zero at
// ~/.aws/credentials is refused, never waited on or read without end.
// Errors wrap fs.ErrNotExist for a missing file.
func readCredentialsFile(path string) ([]byte, error) {
	data, err := regfile.Read(path, maxCredentialsFile)
	if errors.Is(err, regfile.ErrTooLarge) {
		return nil, fmt.Errorf("read credentials file: %s is more than %d bytes, more than a credentials file holds", path, maxCredentialsFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials file: %w", err)
	}
	return data, nil
}

// readProfileKey reads profile's static key from the credentials file data.
func readProfileKey(data []byte, profile string) (profileKey, error) {
	lines := strings.Split(string(data), "\n")
	start, end, ok := section(lines, profile)
	if !ok {
		return profileKey{}, fs.ErrNotExist
	}
	var pk profileKey
	for _, l := range lines[start+1 : end] {
		if m := markerRE().FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			at, err := time.Parse(time.RFC3339, m[3])
			if err == nil {
				pk.pending = &rotationMarker{oldKeyID: m[1], user: m[2], replacedAt: at}
			}
			continue
		}
		k, v, ok := keyValue(l)
		if !ok {
			continue
		}
		switch k {
		case "aws_access_key_id":
			pk.keyID = v
		case "aws_secret_access_key":
			pk.secret = v
		case "aws_session_token", "aws_security_token":
			pk.hasToken = v != ""
		}
	}
	return pk, nil
}

// errProfileChanged means the credentials file changed while a rotation ran.
var errProfileChanged = errors.New("the profile changed in the credentials file while keyward was rotating it")

// replaceProfileKey returns data with profile's key ID and secret replaced
// (only if the profile still holds oldKeyID) and its rotation marker set to
// marker, or removed when marker is "". Every other line, comments and
// other profiles included, is kept byte for byte.
func replaceProfileKey(data []byte, profile, oldKeyID, newKeyID, newSecret, marker string) ([]byte, error) {
	lines := strings.Split(string(data), "\n")
	start, end, ok := section(lines, profile)
	if !ok {
		return nil, errProfileChanged
	}
	out := append([]string(nil), lines[:start+1]...)
	if marker != "" {
		out = append(out, marker)
	}
	sawID := false
	for _, l := range lines[start+1 : end] {
		if strings.HasPrefix(strings.TrimSpace(l), markerPrefix) {
			continue
		}
		k, v, ok := keyValue(l)
		if ok && newKeyID != "" {
			indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			switch k {
			case "aws_access_key_id":
				if v != oldKeyID {
					return nil, errProfileChanged
				}
				sawID = true
				l = indent + "aws_access_key_id = " + newKeyID
			case "aws_secret_access_key":
				l = indent + "aws_secret_access_key = " + newSecret
			}
		}
		out = append(out, l)
	}
	if newKeyID != "" && !sawID {
		return nil, errProfileChanged
	}
	out = append(out, lines[end:]...)
	return []byte(strings.Join(out, "\n")), nil
}

// credentialsUnchanged reports whether the credentials file still holds data, so a
// rotation never overwrites a change made meanwhile.
func credentialsUnchanged(path string, data []byte) error {
	now, err := readCredentialsFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(now, data) {
		return errProfileChanged
	}
	return nil
}
