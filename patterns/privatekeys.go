package patterns

import (
	"bytes"
)

// Private keys unlock more than any token: SSH access to hosts, TLS server
// identity, a GCP service account. A PEM block is matched from its BEGIN
// line to its END line when everything between reads as a PEM body,
// whether written plainly, as a string literal with \n escapes (JSON,
// code), or split into concatenated literals; otherwise the BEGIN line and
// the first body line are enough, so a truncated paste is still reported.

// pemBody is what may sit between BEGIN and END: base64, whitespace, the
// Proc-Type and DEK-Info headers of legacy encrypted keys, and the
// backslashes, quotes and '+' of a key written as string literals. It
// holds no '-' outside those headers, so a search for the END line stops
// at the next run of dashes: were dashes allowed, every BEGIN line of a
// file of unterminated blocks would scan to the end of the file, and the
// scan would be quadratic.
const pemBody = `(?:Proc-Type:[^\r\n\\]*|DEK-Info:[^\r\n\\]*|[A-Za-z0-9+/=\s\\"',:])`

// pemSep is the line break after a BEGIN line, literal or escaped.
const pemSep = `(?:\s|\\[rn])+`

// MinPEMBody is the least base64 a PEM body must hold to be reported: one
// 40-character line is shorter than any real key body (an Ed25519 PKCS#8
// key is 64), while stand-ins such as "MIIE...", "<your key>" or "..." are
// shorter or not base64 at all.
const MinPEMBody = 40

// PEMEntropyFloor is the floor for a PEM body's base64: DER-encoded keys
// measure 5.5 bits per byte or more over a full body and about 4.8 over a
// single 40-to-64-character line; runs of one letter, "XXXX..." or
// "AAAA..." stand-ins measure under 3.
const PEMEntropyFloor = 4.0

// pgpHeader is an armor header line such as "Version: GnuPG v2" or
// "Comment: https://example.org/key" (its value may hold dashes).
const pgpHeader = `[A-Z][A-Za-z-]*: [^\r\n\\]*`

// pgpBody is pemBody with armor headers in place of PEM's Proc-Type.
const pgpBody = `(?:` + pgpHeader + `|[A-Za-z0-9+/=\s\\"',:])`

const pemKinds = `(?:RSA |EC |DSA |ENCRYPTED )?`

// elided takes in an ellipsis after a truncated body's first line, so that
// pemPlaceholder can drop documentation that shows a key as
// "MIIEowIBAAKCAQEAqKpR...fvY4+te" (the AWS CLI's examples do).
const elided = `(?:\.\.\.|…)?`

var (
	rePrivateKey = Lazy(`-----BEGIN ` + pemKinds + `PRIVATE KEY-----(?:` +
		pemBody + `*?-----END ` + pemKinds + `PRIVATE KEY-----|` +
		pemSep + `(?:Proc-Type:[^\r\n\\]*` + pemSep + `DEK-Info:[^\r\n\\]*` + pemSep + `)?[A-Za-z0-9+/]{40,}={0,2}` + elided + `)`)

	// OpenSSH bodies always begin with the base64 of "openssh-key-v1\0".
	reOpenSSHKey = Lazy(`-----BEGIN OPENSSH PRIVATE KEY-----` + pemSep +
		`b3BlbnNzaC1rZXktdjE(?:` + pemBody + `*?-----END OPENSSH PRIVATE KEY-----|[A-Za-z0-9+/]{40,}={0,2}` + elided + `)`)

	// PuTTY .ppk files (versions 2 and 3): header lines, the public key
	// lines (at most 30 lines in all: an RSA-4096 file has 17), then
	// "Private-Lines: N" and the private key, reported up to its first
	// line. The bound keeps a file of repeated headers linear.
	rePuTTYKey = Lazy(`PuTTY-User-Key-File-[23]: [A-Za-z0-9-]+\r?\n` +
		`(?:[A-Za-z0-9-]+: [^\r\n]*\r?\n|[A-Za-z0-9+/=]+\r?\n){0,30}?` +
		`Private-Lines: [0-9]+\r?\n[A-Za-z0-9+/=]{16,}`)

	// An OpenPGP private key in ASCII armor (RFC 4880 section 6.2): the
	// BEGIN line, optional "Name: value" armor headers, a blank line, the
	// base64 body and its "=XXXX" checksum, then the END line; or, for a
	// truncated paste, the BEGIN line, headers and the first body line.
	// The body reuses pemBody, whose only '-' are in header lines, so a
	// file of unterminated blocks stays linear (gitleaks finds git/git's
	// test keyring with a rule like this; issue 10).
	rePGPPrivateKey = Lazy(`-----BEGIN PGP PRIVATE KEY BLOCK-----(?:` +
		pgpBody + `*?-----END PGP PRIVATE KEY BLOCK-----|` +
		pemSep + `(?:` + pgpHeader + pemSep + `)*[A-Za-z0-9+/]{40,}={0,2}` + elided + `)`)

	// A service-account key file as the GCP console downloads it: "type"
	// first, "private_key" a few fields later, in one JSON object. Files
	// with other key orders are still caught by the private-key rule. The
	// secret is the key exactly as the private-key rule reports it, so the
	// scanner reports the file once, under this, the more specific rule.
	reGCPServiceAccount = Lazy(`"type"\s*:\s*"service_account"[^{}]*?"private_key"\s*:\s*"(?P<secret>-----BEGIN ` +
		pemKinds + `PRIVATE KEY-----[^"]*?-----END ` + pemKinds + `PRIVATE KEY-----)(?:\\n)?"`)
)

func privateKeyRules() []Rule {
	return []Rule{
		{
			ID:          RuleGCPServiceAccount,
			Description: "Google Cloud service-account key file (\"type\": \"service_account\" with its \"private_key\")",
			Keywords:    []string{"service_account"},
			Matcher:     MatchRegexp,
			Regexp:      reGCPServiceAccount,
			Allow:       Allowlist{Placeholder: pemPlaceholder},
			Samples: Samples{
				True: []string{
					"{{GCP_SERVICE_ACCOUNT}}",
					`{"type":"service_account","project_id":"p","private_key_id":"x","private_key":"{{PEM_PKCS8_ESCAPED}}","client_email":"a@p.iam.gserviceaccount.com"}`,
				},
				False: []string{
					`{"type": "service_account", "project_id": "my-project", "private_key": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"}`,
					`{"type": "authorized_user", "client_id": "x", "private_key": "{{PEM_PKCS8_ESCAPED}}"}`,
					`{"type": "service_account", "client_email": "a@p.iam.gserviceaccount.com"}`,
				},
			},
		},
		{
			ID:          RulePrivateKey,
			Description: "PEM private key (RSA, EC, DSA, PKCS#8 or encrypted PKCS#8)",
			Keywords:    []string{"PRIVATE KEY-----"},
			Matcher:     MatchRegexp,
			Regexp:      rePrivateKey,
			Allow:       Allowlist{Placeholder: pemPlaceholder},
			Samples: Samples{
				True: []string{
					"{{PEM_RSA}}",
					"key.pem:\n{{PEM_EC}}\n",
					"{{PEM_PKCS8}}",
					"{{PEM_DSA}}",
					"{{PEM_ENCRYPTED}}",
					"{{PEM_PROCTYPE}}",
					`{"tls_key": "{{PEM_RSA_ESCAPED}}"}`,
					"const testKey = `{{PEM_EC}}`\n",
					"{{PEM_RSA_TRUNCATED}}",
					"{{PEM_PKCS8_CRLF}}",
				},
				False: []string{
					"-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
					"-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----",
					"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
					"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----",
					`"PrivateKey": "-----BEGIN RSA PRIVATE KEY-----\n{{PEM_LINE}}...{{PEM_LINE}}\n-----END RSA PRIVATE KEY-----\n"`,
					"-----BEGIN EC PRIVATE KEY-----\n" + repeat("A", 64) + "\n" + repeat("A", 64) + "\n-----END EC PRIVATE KEY-----\n",
					"-----BEGIN RSA PRIVATE KEY-----\n" + repeat("XXXXXXXX", 8) + "\n-----END RSA PRIVATE KEY-----\n",
					`if bytes.HasPrefix(b, []byte("-----BEGIN RSA PRIVATE KEY-----")) {`,
					"{{PEM_PUBLIC}}",
					"{{PEM_CERT}}",
				},
			},
		},
		{
			ID:          RuleOpenSSHPrivateKey,
			Description: "OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)",
			Keywords:    []string{"OPENSSH PRIVATE KEY"},
			Matcher:     MatchRegexp,
			Regexp:      reOpenSSHKey,
			Allow:       Allowlist{Placeholder: pemPlaceholder},
			Samples: Samples{
				True: []string{
					"{{OPENSSH}}",
					"id_ed25519:\n{{OPENSSH}}",
					`ssh_key = "{{OPENSSH_ESCAPED}}"`,
				},
				False: []string{
					"-----BEGIN OPENSSH PRIVATE KEY-----\n<paste your key>\n-----END OPENSSH PRIVATE KEY-----\n",
					"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE...\n-----END OPENSSH PRIVATE KEY-----\n",
					"-----BEGIN OPENSSH PRIVATE KEY-----\n" + repeat("A", 70) + "\n-----END OPENSSH PRIVATE KEY-----\n",
					"ssh-ed25519 {{SSH_PUBLIC}} user@host",
				},
			},
		},
		{
			ID:          RulePuTTYPrivateKey,
			Description: "PuTTY private key file (.ppk, versions 2 and 3)",
			Keywords:    []string{"PuTTY-User-Key-File-"},
			Matcher:     MatchRegexp,
			Regexp:      rePuTTYKey,
			Allow: Allowlist{Placeholder: func(c []byte, _ float64) bool {
				i := bytes.Index(c, []byte("Private-Lines:"))
				return i < 0 || pemPlaceholder(c[i:], 0)
			}},
			Samples: Samples{
				True: []string{"{{PUTTY2}}", "{{PUTTY3}}", "{{PUTTY2_CRLF}}"},
				False: []string{
					"PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: example\nPublic-Lines: 1\nAAAA\nPrivate-Lines: 1\n" + repeat("A", 64) + "\n",
					"Save the key as PuTTY-User-Key-File-3 format with puttygen.",
				},
			},
		},
		{
			ID:          RulePGPPrivateKey,
			Description: "OpenPGP private key block (-----BEGIN PGP PRIVATE KEY BLOCK-----)",
			Keywords:    []string{"PGP PRIVATE KEY BLOCK"},
			Matcher:     MatchRegexp,
			Regexp:      rePGPPrivateKey,
			Allow:       Allowlist{Placeholder: pemPlaceholder},
			Samples: Samples{
				True: []string{
					"{{PGP_PRIVATE}}",
					"keyring.asc:\n{{PGP_PRIVATE_NOHEADERS}}",
					`"signing_key": "{{PGP_PRIVATE_ESCAPED}}"`,
					"{{PGP_PRIVATE_TRUNCATED}}",
				},
				False: []string{
					"{{PGP_PUBLIC}}",
					"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n<paste your key here>\n-----END PGP PRIVATE KEY BLOCK-----\n",
					"-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF...\n-----END PGP PRIVATE KEY BLOCK-----\n",
					"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + repeat("A", 64) + "\n" + repeat("A", 64) + "\n-----END PGP PRIVATE KEY BLOCK-----\n",
					`if strings.HasPrefix(s, "-----BEGIN PGP PRIVATE KEY BLOCK-----") {`,
				},
			},
		},
	}
}

// pemPlaceholder reports whether a PEM block's body is too short or too
// regular to be a key. It reads the base64 between the BEGIN and END lines,
// skipping header lines, escapes, quotes and whitespace.
func pemPlaceholder(c []byte, _ float64) bool {
	body := pemBase64(c)
	if len(body) < MinPEMBody || Entropy(body) < PEMEntropyFloor {
		return true
	}
	if bytes.HasSuffix(c, []byte("...")) || bytes.HasSuffix(c, []byte("…")) {
		return true
	}
	return containsFold(body, "example", "placeholder", "xxxxxxxx")
}

// pemBase64 returns the base64 characters of a PEM block's body: what lies
// between its BEGIN and END lines (or after BEGIN, for a truncated block),
// with header lines ("Proc-Type: ...") and "\n" escapes removed. The
// private-key rules judge placeholders by it.
func pemBase64(c []byte) []byte {
	if i := bytes.Index(c, []byte("-----BEGIN ")); i >= 0 {
		rest := c[i+len("-----BEGIN "):]
		if j := bytes.Index(rest, []byte("-----")); j >= 0 {
			c = rest[j+5:]
		}
	}
	if i := bytes.Index(c, []byte("-----END ")); i >= 0 {
		c = c[:i]
	}
	c = bytes.ReplaceAll(c, []byte(`\r`), []byte("\n"))
	c = bytes.ReplaceAll(c, []byte(`\n`), []byte("\n"))
	var out []byte
	for _, line := range bytes.Split(c, []byte("\n")) {
		if bytes.IndexByte(line, ':') >= 0 {
			continue // Proc-Type, DEK-Info, PuTTY's Private-Lines
		}
		for _, b := range line {
			if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' {
				out = append(out, b)
			}
		}
	}
	return out
}
