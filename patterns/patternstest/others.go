package patternstest

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Fake credentials for the rules beyond AWS (patterns.Others). Each is
// generated from the seeded generator when a test runs, in the documented
// shape of its provider, so that no live-looking token is ever committed:
// GitHub push protection scans for GitHub, Slack, Stripe, Google and many
// other formats, not only AWS's.
//
// Private keys are not real keys: their bodies are DER-shaped headers
// followed by random bytes, which is all a detector can see and far
// cheaper than generating RSA keys.

const (
	alnum   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64url  = alnum + "-_"
	hexLow  = "0123456789abcdef"
	digits  = "0123456789"
	upperID = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	base36  = "0123456789abcdefghijklmnopqrstuvwxyz"
)

// str returns n characters drawn from alphabet.
func (g *Gen) str(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *Gen) bytes(n int) []byte {
	b := make([]byte, n)
	g.Read(b)
	return b
}

// pem wraps der in a PEM block of the given type, lines joined by nl.
func pem(typ string, der []byte, width int, nl string) string {
	var b strings.Builder
	b.WriteString("-----BEGIN " + typ + "-----" + nl)
	for _, line := range wrap(base64.StdEncoding.EncodeToString(der), width) {
		b.WriteString(line + nl)
	}
	b.WriteString("-----END " + typ + "-----")
	return b.String()
}

func wrap(s string, width int) []string {
	var lines []string
	for len(s) > width {
		lines = append(lines, s[:width])
		s = s[width:]
	}
	return append(lines, s)
}

// DER openings of the key types, so bodies start like real ones ("MIIE",
// "MHcC", ...).
var (
	derRSA   = []byte{0x30, 0x82, 0x04, 0xa4, 0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00}
	derEC    = []byte{0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20}
	derDSA   = []byte{0x30, 0x82, 0x01, 0xbb, 0x02, 0x01, 0x00, 0x02, 0x81, 0x81, 0x00}
	derPKCS8 = []byte{0x30, 0x82, 0x04, 0xbd, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00}
	derEnc   = []byte{0x30, 0x82, 0x05, 0x0e, 0x30, 0x40, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d}
	// "openssh-key-v1\0", ciphers "none", one ssh-ed25519 key.
	sshHeader = []byte("openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x33\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20")
)

func (g *Gen) der(head []byte, n int) []byte {
	return append(append([]byte{}, head...), g.bytes(n)...)
}

// putty returns a .ppk file and the part of it the rule reports: from the
// header to the first private line.
func (g *Gen) putty(version int, nl string) (file, reported string) {
	alg, mac := "ssh-rsa", 40
	if version == 3 {
		alg, mac = "ssh-ed25519", 64
	}
	pub := wrap(base64.StdEncoding.EncodeToString(append([]byte("\x00\x00\x00\x07"+alg), g.bytes(260)...)), 64)
	priv := wrap(base64.StdEncoding.EncodeToString(g.bytes(600)), 64)
	var b strings.Builder
	fmt.Fprintf(&b, "PuTTY-User-Key-File-%d: %s%sEncryption: none%sComment: imported-openssh-key%s", version, alg, nl, nl, nl)
	if version == 3 {
		b.WriteString("Key-Derivation: Argon2id" + nl)
	}
	fmt.Fprintf(&b, "Public-Lines: %d%s", len(pub), nl)
	for _, l := range pub {
		b.WriteString(l + nl)
	}
	fmt.Fprintf(&b, "Private-Lines: %d%s%s", len(priv), nl, priv[0])
	reported = b.String()
	for _, l := range priv[1:] {
		b.WriteString(nl + l)
	}
	b.WriteString(nl + "Private-MAC: " + g.str(hexLow, mac) + nl)
	return b.String(), reported
}

// expandOther expands the placeholders of patterns.Others' samples. The
// value a rule is expected to report goes into Creds.Secrets; ok is false
// for a name it does not know.
func (g *Gen) expandOther(name string, c *Creds) (v string, ok bool) {
	secret := func(s string) (string, bool) {
		c.Secrets = append(c.Secrets, s)
		return s, true
	}
	escaped := func(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }
	switch name {
	case "PEM_RSA":
		return secret(pem("RSA PRIVATE KEY", g.der(derRSA, 1180), 64, "\n"))
	case "PEM_EC":
		return secret(pem("EC PRIVATE KEY", g.der(derEC, 114), 64, "\n"))
	case "PEM_DSA":
		return secret(pem("DSA PRIVATE KEY", g.der(derDSA, 430), 64, "\n"))
	case "PEM_PKCS8":
		return secret(pem("PRIVATE KEY", g.der(derPKCS8, 1200), 64, "\n"))
	case "PEM_PKCS8_CRLF":
		return secret(pem("PRIVATE KEY", g.der(derPKCS8, 1200), 64, "\r\n"))
	case "PEM_ENCRYPTED":
		return secret(pem("ENCRYPTED PRIVATE KEY", g.der(derEnc, 1290), 64, "\n"))
	case "PEM_PROCTYPE":
		body := pem("RSA PRIVATE KEY", g.der(derRSA, 1180), 64, "\n")
		hdr := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC," + strings.ToUpper(g.str(hexLow, 32)) + "\n\n"
		return secret(hdr + strings.TrimPrefix(body, "-----BEGIN RSA PRIVATE KEY-----\n"))
	case "PEM_RSA_ESCAPED":
		return secret(escaped(pem("RSA PRIVATE KEY", g.der(derRSA, 1180), 64, "\n")))
	case "PEM_PKCS8_ESCAPED":
		return secret(escaped(pem("PRIVATE KEY", g.der(derPKCS8, 1200), 64, "\n")))
	case "PEM_RSA_TRUNCATED":
		return secret("-----BEGIN RSA PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString(g.der(derRSA, 36)))
	case "PEM_LINE":
		return base64.StdEncoding.EncodeToString(g.der(derRSA, 33)), true
	case "PEM_PUBLIC":
		return pem("PUBLIC KEY", g.der([]byte{0x30, 0x82, 0x01, 0x22, 0x30, 0x0d}, 284), 64, "\n"), true
	case "PEM_CERT":
		return pem("CERTIFICATE", g.der([]byte{0x30, 0x82, 0x03, 0x0a, 0x30, 0x82}, 770), 64, "\n"), true
	case "OPENSSH":
		return secret(pem("OPENSSH PRIVATE KEY", g.der(sshHeader, 300), 70, "\n"))
	case "OPENSSH_ESCAPED":
		return secret(escaped(pem("OPENSSH PRIVATE KEY", g.der(sshHeader, 300), 70, "\n")))
	case "SSH_PUBLIC":
		return base64.StdEncoding.EncodeToString(append([]byte("\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"), g.bytes(32)...)), true
	case "PUTTY2", "PUTTY3", "PUTTY2_CRLF":
		version, nl := 2, "\n"
		switch name {
		case "PUTTY3":
			version = 3
		case "PUTTY2_CRLF":
			nl = "\r\n"
		}
		file, reported := g.putty(version, nl)
		c.Secrets = append(c.Secrets, reported)
		return file, true
	case "PGP_PRIVATE":
		return secret(g.pgpArmor("PRIVATE KEY BLOCK", pgpSecretKey, 900, "Version: GnuPG v2\nComment: test keyring\n", "\n"))
	case "PGP_PRIVATE_NOHEADERS":
		return secret(g.pgpArmor("PRIVATE KEY BLOCK", pgpSecretKey, 400, "", "\n"))
	case "PGP_PRIVATE_ESCAPED":
		return secret(g.pgpArmor("PRIVATE KEY BLOCK", pgpSecretKey, 400, "Version: Keybase OpenPGP v1.0.0\n", `\n`))
	case "PGP_PRIVATE_TRUNCATED":
		full := g.pgpArmor("PRIVATE KEY BLOCK", pgpSecretKey, 400, "Comment: https://example.org/k-1\n", "\n")
		// The BEGIN line, the header, the blank line and the first body
		// line: what the rule reports for a paste cut short.
		lines := strings.SplitN(full, "\n", 5)
		return secret(strings.Join(lines[:4], "\n"))
	case "PGP_PUBLIC":
		return g.pgpArmor("PUBLIC KEY BLOCK", pgpPublicKey, 400, "Version: GnuPG v2\n", "\n"), true
	case "GCP_SERVICE_ACCOUNT":
		key := escaped(pem("PRIVATE KEY", g.der(derPKCS8, 1200), 64, "\n"))
		c.Secrets = append(c.Secrets, key)
		key += `\n`
		project := "demo-" + g.str(digits, 6)
		return fmt.Sprintf(`{
  "type": "service_account",
  "project_id": %q,
  "private_key_id": %q,
  "private_key": "%s",
  "client_email": "deployer@%s.iam.gserviceaccount.com",
  "client_id": %q,
  "auth_uri": "https://accounts.google.com/o/oauth2/auth",
  "token_uri": "https://oauth2.googleapis.com/token"
}
`, project, g.str(hexLow, 40), key, project, g.str(digits, 21)), true
	case "GITHUB_PAT":
		return secret("ghp_" + g.str(alnum, 36))
	case "GITHUB_OAUTH":
		return secret("gho_" + g.str(alnum, 36))
	case "GITHUB_APP":
		return secret([]string{"ghs_", "ghu_"}[g.r.IntN(2)] + g.str(alnum, 36))
	case "GITHUB_REFRESH":
		return secret("ghr_" + g.str(alnum, 76))
	case "GITHUB_FINE_PAT":
		return secret("github_pat_" + g.str(alnum, 22) + "_" + g.str(alnum, 59))
	case "GITLAB_PAT":
		return secret("glpat-" + g.str(b64url, 20))
	case "GITLAB_PAT_ROUTABLE":
		return secret("glpat-" + g.str(b64url, 36) + ".01." + g.str(base36, 9))
	case "GITLAB_DEPLOY":
		return secret("gldt-" + g.str(b64url, 20))
	case "GITLAB_RUNNER":
		return secret("glrt-" + g.str(b64url, 20))
	case "GITLAB_TRIGGER":
		return secret("glptt-" + g.str(hexLow, 40))
	case "NPM_TOKEN":
		return secret("npm_" + g.str(alnum, 36))
	case "PYPI_TOKEN":
		return secret("pypi-AgEIcHlwaS5vcmc" + g.str(b64url, 160))
	case "DOCKER_PAT":
		return secret("dckr_pat_" + g.str(b64url, 27))
	case "SLACK_BOT":
		return secret("xoxb-" + g.str(digits, 12) + "-" + g.str(digits, 13) + "-" + g.str(alnum, 24))
	case "SLACK_USER":
		return secret("xoxp-" + g.str(digits, 12) + "-" + g.str(digits, 12) + "-" + g.str(digits, 13) + "-" + g.str(hexLow, 32))
	case "SLACK_APP":
		return secret("xapp-1-A" + g.str(upperID, 10) + "-" + g.str(digits, 13) + "-" + g.str(hexLow, 64))
	case "SLACK_WEBHOOK":
		return secret("hooks.slack.com/services/T" + g.str(upperID, 10) + "/B" + g.str(upperID, 10) + "/" + g.str(alnum, 24))
	case "STRIPE_LIVE":
		return secret("sk_live_51" + g.str(alnum, 97))
	case "STRIPE_LIVE_SHORT":
		return secret("sk_live_" + g.str(alnum, 24))
	case "STRIPE_TEST":
		return "sk_test_51" + g.str(alnum, 97), true
	case "STRIPE_RESTRICTED":
		return secret("rk_live_51" + g.str(alnum, 97))
	case "TWILIO_AC":
		return "AC" + g.str(hexLow, 32), true
	case "TWILIO_SK":
		return secret("SK" + g.str(hexLow, 32))
	case "TWILIO_SECRET":
		return g.str(alnum, 32), true
	case "SENDGRID":
		return secret("SG." + g.str(b64url, 22) + "." + g.str(b64url, 43))
	case "GOOGLE_API":
		return secret("AIza" + g.str(b64url, 35))
	case "AZURE_KEY":
		return secret(base64.StdEncoding.EncodeToString(g.bytes(64)))
	case "OPENAI_PROJECT":
		return secret("sk-proj-" + g.str(b64url, 74) + "T3BlbkFJ" + g.str(b64url, 74))
	case "OPENAI_LEGACY":
		return secret("sk-" + g.str(alnum, 20) + "T3BlbkFJ" + g.str(alnum, 20))
	case "ANTHROPIC":
		return secret("sk-ant-api03-" + g.str(b64url, 93) + "AA")
	case "ANTHROPIC_ADMIN":
		return secret("sk-ant-admin01-" + g.str(b64url, 93) + "AA")
	case "BEDROCK":
		inner := "BedrockAPIKey-" + g.str(alnum, 4) + "-at-" + g.str(digits, 12) + ":" + g.str(alnum, 60)
		return secret("ABSK" + base64.StdEncoding.EncodeToString([]byte(inner)))
	case "BASE64_BLOB_ABSK":
		blob := base64.StdEncoding.EncodeToString(g.bytes(3000))
		return blob[:2000] + "ABSK" + blob[2000:], true
	case "MWS_TOKEN":
		return secret("amzn.mws." + g.str(hexLow, 8) + "-" + g.str(hexLow, 4) + "-4" + g.str(hexLow, 3) + "-a" + g.str(hexLow, 3) + "-" + g.str(hexLow, 12))
	}
	return "", false
}

// OpenPGP packet headers (RFC 4880 section 4.2, old format, two-byte
// length) that open a secret-key and a public-key packet, version 4.
var (
	pgpSecretKey = []byte{0x95, 0x03, 0x8b, 0x04}
	pgpPublicKey = []byte{0x99, 0x01, 0x8d, 0x04}
)

// pgpArmor is an ASCII-armored OpenPGP block (RFC 4880 section 6.2) of a
// packet that opens with head and holds n random bytes: BEGIN line, armor
// headers, a blank line, the base64 body in 64-character lines, the
// "=XXXX" CRC-24 line and the END line, joined by nl (a literal "\n" for
// a key written into a string).
func (g *Gen) pgpArmor(typ string, head []byte, n int, headers, nl string) string {
	body := g.der(head, n)
	lines := []string{"-----BEGIN PGP " + typ + "-----"}
	for _, h := range strings.Split(strings.TrimSuffix(headers, "\n"), "\n") {
		if h != "" {
			lines = append(lines, h)
		}
	}
	lines = append(lines, "")
	lines = append(lines, wrap(base64.StdEncoding.EncodeToString(body), 64)...)
	crc := crc24(body)
	lines = append(lines, "="+base64.StdEncoding.EncodeToString([]byte{byte(crc >> 16), byte(crc >> 8), byte(crc)}))
	lines = append(lines, "-----END PGP "+typ+"-----")
	return strings.Join(lines, nl)
}

// crc24 is the armor checksum of RFC 4880 section 6.1.
func crc24(b []byte) uint32 {
	crc := uint32(0xB704CE)
	for _, c := range b {
		crc ^= uint32(c) << 16
		for range 8 {
			crc <<= 1
			if crc&0x1000000 != 0 {
				crc ^= 0x1864CFB
			}
		}
	}
	return crc & 0xFFFFFF
}
