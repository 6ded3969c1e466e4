package scanner

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// packObject appends one object to a pack body: the type-and-size header,
// for an OFS_DELTA the distance back to its base, then the deflated data.
func packObject(pack []byte, typ int, size int, ofs int64, data []byte) []byte {
	c := byte(typ<<4) | byte(size&15)
	size >>= 4
	for size > 0 {
		pack = append(pack, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	pack = append(pack, c)
	if typ == 6 {
		var b [10]byte
		i := len(b) - 1
		b[i] = byte(ofs & 0x7f)
		for ofs >>= 7; ofs > 0; ofs >>= 7 {
			ofs--
			i--
			b[i] = byte(0x80 | ofs&0x7f)
		}
		pack = append(pack, b[i:]...)
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(data)
	w.Close()
	return append(pack, z.Bytes()...)
}

// TestPackDeltaCopyOver64KiB writes a pack by hand whose second blob is a
// delta copying 2 MB in one instruction (legal: git's copy sizes go to
// 16 MiB; git's own writer splits copies at 64 KiB, so it never produces
// one, and the reader once rejected it as corrupt), has git index it (git
// applies the delta to check it), commits the blob, and checks that the
// history sweep and the range scan (point reads) both find the key.
func TestPackDeltaCopyOver64KiB(t *testing.T) {
	repo := newTestRepo(t)
	creds := newCreds(41)
	// The key sits at the end of a 2 MB base that no tree names; the
	// committed blob is a delta of one 2 MB copy and a one-byte insert,
	// so the key is found only if that copy is applied.
	base := append(bytes.Repeat([]byte("static const char *filler = \"nothing to see\";\n"), 45000), creds.ini()...)
	delta := encodeDelta(len(base), []deltaOp{{off: 0, n: len(base)}, {lit: []byte("\n")}})
	_, rest, _ := deltaSize(delta)
	_, ins, _ := deltaSize(rest)
	if ins[0]&0x70 != 0x70 || len(base) <= 0xffff {
		t.Fatalf("copy instruction %#x does not carry a 3-byte size", ins[0])
	}
	result := append(bytes.Clone(base), '\n')

	var pack []byte
	pack = append(pack, "PACK"...)
	pack = binary.BigEndian.AppendUint32(pack, 2)
	pack = binary.BigEndian.AppendUint32(pack, 2)
	baseOff := int64(len(pack))
	pack = packObject(pack, 3, len(base), 0, base)
	deltaOff := int64(len(pack))
	pack = packObject(pack, 6, len(delta), deltaOff-baseOff, delta)
	sum := sha1.Sum(pack)
	pack = append(pack, sum[:]...)
	packPath := filepath.Join(repo.dir, ".git", "objects", "pack", "pack-"+hex.EncodeToString(sum[:])+".pack")
	if err := os.WriteFile(packPath, pack, 0o644); err != nil {
		t.Fatal(err)
	}
	repo.git("index-pack", packPath)

	cmd := exec.Command("git", "hash-object", "--stdin")
	cmd.Stdin = bytes.NewReader(result)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	if got := repo.git("cat-file", "-t", id); got != "blob" {
		t.Fatalf("git does not see the delta's result as %s: %s", id, got)
	}
	repo.write("README", "base\n")
	first := repo.commit("first")
	mk := exec.Command("git", "mktree")
	mk.Dir, mk.Env = repo.dir, repo.env()
	mk.Stdin = strings.NewReader(fmt.Sprintf("100644 blob %s\tdeploy.c\n", id))
	treeOut, err := mk.Output()
	if err != nil {
		t.Fatal(err)
	}
	second := repo.git("commit-tree", strings.TrimSpace(string(treeOut)), "-p", first, "-m", "big delta")
	repo.git("update-ref", "refs/heads/main", second)

	hist, err := New(Options{}).ScanHistory(context.Background(), repo.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Errors) != 0 || len(byKey(hist, creds.keyID)) != 1 {
		t.Fatalf("history sweep: %d findings for the key, errors %v, warnings %q", len(byKey(hist, creds.keyID)), hist.Errors, hist.Warnings)
	}
	// The sweep's own reader applied the copy: go-git, its fallback for
	// what it cannot read, was not needed.
	s, _, err := New(Options{}).sweepHistory(context.Background(), repo.dir, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.st.close()
	if n := s.fallbacks.Load(); n != 0 {
		t.Fatalf("%d object(s) read through the go-git fallback", n)
	}
	pr := openObjectReader(filepath.Join(repo.dir, ".git", "objects"))
	if _, size, data, err := pr.read(plumbing.NewHash(id), maxInt64); err != nil || !bytes.Equal(data, result) {
		t.Fatalf("point read: %d bytes, %v", size, err)
	}
	rng, err := New(Options{}).ScanRange(context.Background(), repo.dir, first+".."+second)
	if err != nil {
		t.Fatal(err)
	}
	if len(byKey(rng, creds.keyID)) != 1 {
		t.Fatalf("range scan: %d findings for the key, warnings %q", len(byKey(rng, creds.keyID)), rng.Warnings)
	}
}
