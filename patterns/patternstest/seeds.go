package patternstest

import (
	"os"
	"path/filepath"
	"testing"
)

// SeedFiles returns the contents of every file in dir, a fuzz target's seed
// corpus, and fails tb when there is none: a target with no seeds is a bug
// (STYLE.md), and a mistyped directory would otherwise fuzz from nothing
// without a word. It lives here because this is the one test-support
// package every package's tests already import.
func SeedFiles(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		tb.Fatalf("no seed files in %s", dir)
	}
	seeds := make([][]byte, 0, len(files))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}
