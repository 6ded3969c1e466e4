package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/keyward/keyward/responder"
)

// revealCredential is the one place cmd/keyward reads a rotated key's
// secret, to hand it over once.
func revealCredential(k *responder.Credential) string {
	s, _ := k.Reveal()
	return s
}

// checkProfileFree fails if profile already exists in the credentials file,
// before anything is created: a rotated secret that cannot be stored is
// lost.
func checkProfileFree(path, profile string) error {
	if strings.ContainsAny(profile, "[]\n\r") || strings.TrimSpace(profile) == "" {
		return usagef("use a plain profile name such as app-rotated", "bad --rotate-profile %q", profile)
	}
	data, err := readCredentialsFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if hasProfile(data, profile) {
		return usagef("choose a new --rotate-profile; keyward never overwrites credentials",
			"profile %q already exists in %s", profile, path)
	}
	return nil
}

func hasProfile(data []byte, profile string) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") && strings.TrimSpace(l[1:len(l)-1]) == profile {
			return true
		}
	}
	return false
}

// addProfile appends a profile to the credentials file, which is rewritten
// atomically with mode 0600.
func addProfile(path, profile, keyID, secret string) error {
	data, err := readCredentialsFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if hasProfile(data, profile) {
		return fmt.Errorf("profile %q appeared in %s meanwhile", profile, path)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	if len(data) > 0 {
		data = append(data, '\n')
	}
	data = append(data, fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, keyID, secret)...)
	return responder.WriteFileAtomic(path, data)
}
