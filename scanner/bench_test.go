package scanner

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

// benchSize is the corpus each benchmark scans: large enough that setup and
// cache effects vanish, small enough to build in a second.
const benchSize = 32 << 20

var (
	corpusOnce            sync.Once
	corpusCode, corpusHot []byte
)

// benchCorpus returns real Go source from GOROOT (what a repository mostly
// holds) and the same text with a key pair planted every 256 KiB.
func benchCorpus(b *testing.B) (clean, withSecrets []byte) {
	corpusOnce.Do(func() {
		var buf bytes.Buffer
		root := filepath.Join(runtime.GOROOT(), "src")
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || buf.Len() >= benchSize {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") {
				data, err := os.ReadFile(path)
				if err == nil {
					buf.Write(data)
				}
			}
			return nil
		})
		if buf.Len() < benchSize {
			// No GOROOT sources: fall back to generated text.
			r := rand.New(rand.NewPCG(1, 2))
			words := strings.Fields("func return if else for range var const type struct the of and AWS Access key error nil")
			for buf.Len() < benchSize {
				buf.WriteString(words[r.IntN(len(words))])
				buf.WriteByte(" \n\t("[r.IntN(4)])
			}
		}
		corpusCode = buf.Bytes()[:benchSize]
		hot := bytes.Clone(corpusCode)
		g := patternstest.New(5)
		for off := 128 << 10; off+200 < len(hot); off += 256 << 10 {
			nl := bytes.IndexByte(hot[off:], '\n')
			if nl < 0 {
				break
			}
			pair := "\naws_access_key_id = " + g.KeyID("AKIA", patternstest.DefaultAccount) +
				"\naws_secret_access_key = " + g.Secret() + "\n"
			copy(hot[off+nl:], pair)
		}
		corpusHot = hot
	})
	return corpusCode, corpusHot
}

// BenchmarkScan measures the engine in MB/s, on one core, over source code
// with and without secrets, with every rule and with the AWS rules alone.
func BenchmarkScan(b *testing.B) {
	clean, hot := benchCorpus(b)
	all, aws := New(Options{}), New(Options{Rules: patterns.AWS()})
	cases := []struct {
		name string
		e    *Engine
		data []byte
	}{{"code", all, clean}, {"code-with-secrets", all, hot}, {"code-aws-rules", aws, clean}}
	// $KEYWARD_SCAN_CORPUS adds other content, all rules next to the AWS
	// rules: C, say, from `git -C git.git archive HEAD | tar -xO`.
	if path := os.Getenv("KEYWARD_SCAN_CORPUS"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, struct {
			name string
			e    *Engine
			data []byte
		}{"corpus", New(Options{}), data}, struct {
			name string
			e    *Engine
			data []byte
		}{"corpus-aws-rules", aws, data})
	}
	for _, c := range cases {
		// The engine's plan adapts to the first megabyte it meets (plan.go),
		// as a sweep's first blobs would give it: give it that first.
		for off := 0; off < planSample && off < len(c.data); off += planSampleChunk {
			c.e.Scan(c.data[off:min(off+planSampleChunk, len(c.data))], Provenance{})
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				c.e.Scan(c.data, Provenance{Path: "bench"})
			}
		})
	}
}

// BenchmarkFloor is what the engine is measured against in the same run: a
// bytes.Index pass for "AKIA" alone, the least any AWS scanner must do, and
// one pass per AWS prefix, the reference for a prefix prefilter.
func BenchmarkFloor(b *testing.B) {
	clean, _ := benchCorpus(b)
	count := func(needle []byte) int {
		n := 0
		for i := 0; ; {
			j := bytes.Index(clean[i:], needle)
			if j < 0 {
				return n
			}
			n++
			i += j + len(needle)
		}
	}
	b.Run("bytes.Index-AKIA", func(b *testing.B) {
		b.SetBytes(int64(len(clean)))
		for b.Loop() {
			count([]byte("AKIA"))
		}
	})
	b.Run("bytes.Index-5-prefixes", func(b *testing.B) {
		b.SetBytes(int64(len(clean)))
		for b.Loop() {
			for _, p := range []string{"AKIA", "ASIA", "ABIA", "ACCA", "A3T"} {
				count([]byte(p))
			}
		}
	})
}
