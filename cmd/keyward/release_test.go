package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The release process is GoReleaser on a vX.Y.Z tag (.goreleaser.yaml).
// GoReleaser itself is too large to build from the module proxy in a test
// (hundreds of modules), so these tests check the configuration against
// what depends on it: action.yml downloads the archives and checksums by
// the names GoReleaser gives them, the Dockerfile copies the binary it
// builds, 'keyward version' gets the version it links in, and no recipe
// names a version, tag or URL that process would not produce (issue 9).

func readRoot(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goTemplate renders GoReleaser's {{ .Field }} placeholders.
func goTemplate(s string, vars map[string]string) string {
	return regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`).ReplaceAllStringFunc(s, func(m string) string {
		k := regexp.MustCompile(`\w+`).FindString(m)
		return vars[k]
	})
}

// shellTemplate renders ${var} placeholders.
func shellTemplate(s string, vars map[string]string) string {
	return regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(s, func(m string) string {
		return vars[m[2:len(m)-1]]
	})
}

func field(t *testing.T, doc, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("no match for %s", re)
	}
	return m[1]
}

func TestReleaseConfig(t *testing.T) {
	gr := readRoot(t, ".goreleaser.yaml")
	action := readRoot(t, "action.yml")

	for _, want := range []string{"goos: [linux, darwin, windows]", "goarch: [amd64, arm64]", "algorithm: sha256",
		"main: ./cmd/keyward", "-X main.version={{ .Version }}", "CGO_ENABLED=0"} {
		if !strings.Contains(gr, want) {
			t.Errorf(".goreleaser.yaml lacks %q", want)
		}
	}
	_ = version // the variable -X main.version sets

	archive := field(t, gr, `(?m)^\s+name_template: "(keyward_[^"]+)"\s*$`)
	sums := field(t, gr, `(?m)^checksum:\n\s+name_template: "([^"]+)"`)
	actArchive := field(t, action, `archive="([^"]+)"`)
	actSums := field(t, action, `sums="([^"]+)"`)
	for _, p := range []struct{ os, arch string }{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}} {
		want := goTemplate(archive, map[string]string{"Version": "1.2.3", "Os": p.os, "Arch": p.arch}) + ".tar.gz"
		got := shellTemplate(actArchive, map[string]string{"ver": "1.2.3", "platform": p.os + "_" + p.arch})
		if got != want {
			t.Errorf("action.yml downloads %s, GoReleaser publishes %s", got, want)
		}
		if !strings.Contains(action, p.os+"_"+p.arch) {
			t.Errorf("action.yml never selects %s_%s", p.os, p.arch)
		}
	}
	if g, w := shellTemplate(actSums, map[string]string{"ver": "1.2.3"}), goTemplate(sums, map[string]string{"Version": "1.2.3"}); g != w {
		t.Errorf("action.yml checks %s, GoReleaser publishes %s", g, w)
	}
	if !strings.Contains(action, "sha256sum -c") {
		t.Error("action.yml does not verify the checksum")
	}
	if !strings.Contains(action, "releases/download/${tag}") {
		t.Error("action.yml does not download by the release tag")
	}

	df := field(t, gr, `dockerfile: (\S+)`)
	docker := readRoot(t, df)
	if !strings.Contains(docker, "COPY keyward ") || !strings.Contains(docker, "git") {
		t.Errorf("%s does not copy the keyward binary GoReleaser builds, or lacks git", df)
	}
}

// TestRecipesNameRealVersions: recipes may name the main branch or a
// placeholder, never a tag that no release made (v1, v1.0.0) or @latest,
// which resolves to nothing until a release exists.
func TestRecipesNameRealVersions(t *testing.T) {
	bad := regexp.MustCompile(`keyward/keyward@v\d|keyward@latest|rev: v\d|/releases/download/v\d|ghcr\.io/keyward/keyward:(v?\d|latest)`)
	for _, f := range []string{"README.md", "action.yml", "keyward.gitlab-ci.yml", ".pre-commit-hooks.yaml", "install.sh", "Dockerfile", ".goreleaser.yaml"} {
		for i, line := range strings.Split(readRoot(t, f), "\n") {
			if m := bad.FindString(line); m != "" {
				t.Errorf("%s:%d names %q, which the release process does not produce", f, i+1, m)
			}
		}
	}
}
