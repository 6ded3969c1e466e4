package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/patterns/patternstest"
)

// coreScriptCmds are the script commands for the scanner's end-to-end
// tests. They exist so that scripts never hold a live-looking key: keys are
// generated when the script runs.
func coreScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"fakecreds": cmdFakecreds,
		"transcode": cmdTranscode,
		"binwrap":   cmdBinwrap,
		"bigfile":   cmdBigfile,
		"jsonpath":  cmdJSONPath,
		"filemode":  cmdFilemode,
	}
}

// cmdFakecreds expands {{AKIA}}, {{SECRET}}, {{TOKEN}}, ... (see
// patternstest.Expand) in each FILE in place, and exports what it generated
// as KEY1, KEY2, ... SECRET1, ... TOKEN1, ... in order, numbering on from
// earlier calls in the same script.
//
//	fakecreds [-account ACCOUNT] FILE...
//
// With -account, key IDs decode to ACCOUNT (for canary tests).
func cmdFakecreds(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! fakecreds")
	}
	account := patternstest.DefaultAccount
	if len(args) >= 2 && args[0] == "-account" {
		account, args = args[1], args[2:]
	}
	if len(args) == 0 {
		ts.Fatalf("usage: fakecreds [-account ACCOUNT] FILE...")
	}
	calls := atoiEnv(ts, "FAKECREDS_CALLS")
	ts.Setenv("FAKECREDS_CALLS", strconv.Itoa(calls+1))
	g := patternstest.New(uint64(1000 + calls))
	for _, name := range args {
		path := ts.MkAbs(name)
		data, err := os.ReadFile(path)
		ts.Check(err)
		text := string(data)
		// Key IDs for another account need their own pass: Expand mints
		// for the default account.
		for strings.Contains(text, "{{AKIA}}") && account != patternstest.DefaultAccount {
			id := g.KeyID("AKIA", account)
			text = strings.Replace(text, "{{AKIA}}", id, 1)
			export(ts, "KEY", id)
		}
		out, creds := g.Expand(text)
		for _, k := range creds.KeyIDs {
			export(ts, "KEY", k)
		}
		for _, s := range creds.Secrets {
			export(ts, "SECRET", s)
		}
		for _, t := range creds.Tokens {
			export(ts, "TOKEN", t)
		}
		info, err := os.Stat(path)
		ts.Check(err)
		ts.Check(os.WriteFile(path, []byte(out), info.Mode().Perm()))
	}
}

func export(ts *testscript.TestScript, kind, value string) {
	n := atoiEnv(ts, "FAKECREDS_"+kind) + 1
	ts.Setenv("FAKECREDS_"+kind, strconv.Itoa(n))
	ts.Setenv(kind+strconv.Itoa(n), value)
	if kind != "KEY" {
		// Scripts check redaction with the first four characters.
		ts.Setenv(kind+strconv.Itoa(n)+"_PREFIX", value[:4])
	}
}

func atoiEnv(ts *testscript.TestScript, name string) int {
	n, _ := strconv.Atoi(ts.Getenv(name))
	return n
}

// cmdTranscode rewrites IN as UTF-16 into OUT.
//
//	transcode utf16le|utf16be|utf16le-bom|utf16be-bom IN OUT
func cmdTranscode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: transcode utf16le|utf16be|utf16le-bom|utf16be-bom IN OUT")
	}
	data, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	var out []byte
	big := strings.HasPrefix(args[0], "utf16be")
	if strings.HasSuffix(args[0], "-bom") {
		if big {
			out = append(out, 0xFE, 0xFF)
		} else {
			out = append(out, 0xFF, 0xFE)
		}
	}
	for _, r := range string(data) {
		if r > 0xFFFF {
			r = '?'
		}
		if big {
			out = append(out, byte(r>>8), byte(r))
		} else {
			out = append(out, byte(r), byte(r>>8))
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), out, 0o644))
}

// cmdBinwrap writes IN between two blocks of binary bytes (NULs, high
// bytes, no line structure), the way a .pyc or SQLite file holds a string.
//
//	binwrap IN OUT
func cmdBinwrap(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: binwrap IN OUT")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var b bytes.Buffer
	for i := 0; i < 4096; i++ {
		b.WriteByte(byte(i * 7))
	}
	b.WriteByte(0)
	b.WriteByte(0x28) // a length byte, as marshalled strings have
	b.Write(bytes.TrimSpace(data))
	for i := 0; i < 4096; i++ {
		b.WriteByte(byte(255 - i*13))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}

// cmdBigfile writes a file of SIZE bytes (K and M suffixes) of ordinary
// text lines, with IN's contents placed near the end if given.
//
//	bigfile SIZE OUT [IN]
func cmdBigfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: bigfile SIZE OUT [IN]")
	}
	var size sizeFlag
	ts.Check(size.Set(args[0]))
	var insert []byte
	if len(args) == 3 {
		var err error
		insert, err = os.ReadFile(ts.MkAbs(args[2]))
		ts.Check(err)
	}
	line := []byte("the quick brown fox jumps over the lazy dog; ARN arn:aws:s3:::bucket/Key 0123456789\n")
	var b bytes.Buffer
	b.Grow(int(size))
	for b.Len()+len(line)+len(insert) < int(size)-len(line) {
		b.Write(line)
	}
	b.Write(insert)
	for b.Len() < int(size) {
		b.WriteByte('\n')
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}

// cmdJSONPath checks a value in a JSON file: the dotted path (numbers index
// arrays) must exist, and equal VALUE when given (compared as JSON text for
// non-strings). A missing path or different value fails, or passes with !.
//
//	jsonpath FILE PATH [VALUE]
func cmdJSONPath(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: jsonpath FILE PATH [VALUE]")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		ts.Fatalf("%s: not JSON: %v", args[0], err)
	}
	got, ok := lookupJSON(v, args[1])
	if ok && len(args) == 3 {
		ok = jsonText(got) == args[2]
	}
	switch {
	case ok && neg:
		ts.Fatalf("%s: %s is %s", args[0], args[1], jsonText(got))
	case !ok && !neg:
		if got == nil {
			ts.Fatalf("%s: no %s", args[0], args[1])
		}
		ts.Fatalf("%s: %s is %s, want %s", args[0], args[1], jsonText(got), args[2])
	}
}

func lookupJSON(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// cmdFilemode checks a file's permission bits.
//
//	filemode FILE MODE   (MODE in octal, e.g. 0600)
func cmdFilemode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode FILE MODE")
	}
	info, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	got := uint64(info.Mode().Perm())
	if (got == want) == neg {
		ts.Fatalf("%s: mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}
