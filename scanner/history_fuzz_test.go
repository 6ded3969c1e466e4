package scanner

import (
	"bytes"
	"testing"
)

// FuzzApplyDelta feeds arbitrary delta instructions and bases to the
// delta patcher, which reads untrusted pack data: it must fail cleanly,
// never panic, and a result must have the size the delta declares.
func FuzzApplyDelta(f *testing.F) {
	base := []byte("hello, delta world\n")
	// A valid delta: base size 19, result size 11, copy 5 bytes at 0,
	// insert ", git!".
	f.Add(base, []byte{19, 11, 0x90, 5, 6, ',', ' ', 'g', 'i', 't', '!'})
	f.Add(base, []byte{19, 0})
	f.Add(base, []byte{0x80})
	f.Add([]byte{}, []byte{0, 1, 1, 'x'})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		var z inflater
		out, err := z.applyDelta(base, delta)
		if err != nil {
			return
		}
		_, rest, _ := deltaSize(delta)
		want, _, _ := deltaSize(rest)
		if uint64(len(out)) != want {
			t.Fatalf("result of %d bytes, delta declares %d", len(out), want)
		}
	})
}

// FuzzParseCommit checks the commit and tag parsers on arbitrary objects.
func FuzzParseCommit(f *testing.F) {
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nparent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" +
		"author A U Thor <a@example.com> 1700000000 +0100\ncommitter C O Mitter <c@example.com> 1700000000 +0100\n" +
		"gpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP SIGNATURE-----\n\nsubject\n\nbody\n"))
	f.Add([]byte("object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1\n\nmessage\n"))
	f.Add([]byte("author <> x\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, ok := parseCommit(data); ok && c.message != nil && !bytes.HasSuffix(data, c.message) {
			t.Fatalf("message is not the tail of the object")
		}
		parseTag(data)
	})
}

// FuzzPackHeader checks the pack object header and offset decoders.
func FuzzPackHeader(f *testing.F) {
	f.Add([]byte{0x95, 0x0a})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x80, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, h []byte) {
		if _, size, n, ok := parseObjectHeader(h); ok && (size < 0 || n > len(h)) {
			t.Fatalf("size %d, %d bytes of %d", size, n, len(h))
		}
		if off, n, ok := parseOffset(h); ok && (off < 0 || n > len(h)) {
			t.Fatalf("offset %d, %d bytes of %d", off, n, len(h))
		}
	})
}
