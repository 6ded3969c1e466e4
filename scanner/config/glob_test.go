package config

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"*.pem", []string{"a.pem", "x/y/a.pem"}, []string{"a.pem.txt", "apem"}},
		{"testdata/", []string{"testdata/a", "testdata/b/c.go", "x/testdata/a"}, []string{"testdata", "testdata2/a"}},
		{"testdata", []string{"testdata", "testdata/a", "x/testdata/a"}, []string{"testdata2"}},
		{"docs/*.md", []string{"docs/a.md"}, []string{"docs/x/a.md", "a/docs/a.md"}},
		{"**/*_test.go", []string{"a_test.go", "x/y/a_test.go"}, []string{"a_test.go.orig"}},
		{"config/**", []string{"config/a", "config/a/b"}, []string{"configs/a"}},
		{"./src/a?.env", []string{"src/ab.env", "./src/ab.env"}, []string{"src/a/.env", "src/abc.env"}},
		{"/root.txt", []string{"root.txt"}, []string{"x/root.txt"}},
		{"a+b(c).txt", []string{"a+b(c).txt"}, []string{"aab(c).txt"}},
	}
	for _, tt := range tests {
		g, err := CompileGlob(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		for _, p := range tt.match {
			if !g.Match(p) {
				t.Errorf("%q does not match %q", tt.pattern, p)
			}
		}
		for _, p := range tt.nomatch {
			if g.Match(p) {
				t.Errorf("%q matches %q", tt.pattern, p)
			}
		}
	}
	for _, bad := range []string{"", "  ", "[ab]", `a\b`} {
		if _, err := CompileGlob(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
