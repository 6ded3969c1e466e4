package hooks

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var (
	shaA = strings.Repeat("a", 40)
	shaB = strings.Repeat("b", 40)
	zero = strings.Repeat("0", 40)
)

func TestParsePrePush(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []RefUpdate
		errLine int // 0: no error
	}{
		{"empty", "", nil, 0},
		{"one", "refs/heads/main " + shaA + " refs/heads/main " + shaB + "\n",
			[]RefUpdate{{"refs/heads/main", shaA, "refs/heads/main", shaB}}, 0},
		{"no final newline, CRLF and blank lines",
			"HEAD " + shaA + " refs/heads/x " + zero + "\r\n\n(delete) " + zero + " refs/heads/y " + shaB,
			[]RefUpdate{{"HEAD", shaA, "refs/heads/x", zero}, {"(delete)", zero, "refs/heads/y", shaB}}, 0},
		{"sha256", "refs/heads/main " + strings.Repeat("c", 64) + " refs/heads/main " + strings.Repeat("0", 64) + "\n",
			[]RefUpdate{{"refs/heads/main", strings.Repeat("c", 64), "refs/heads/main", strings.Repeat("0", 64)}}, 0},
		{"three fields", "refs/heads/main " + shaA + " refs/heads/main\n", nil, 1},
		{"bad hex on line 2", "a " + shaA + " b " + shaB + "\na " + strings.Repeat("g", 40) + " b " + shaB + "\n", nil, 2},
		{"upper-case hex", "a " + strings.ToUpper(shaA) + " b " + shaB, nil, 1},
		{"mixed lengths", "a " + shaA + " b " + strings.Repeat("0", 64), nil, 1},
		{"double space", "a  " + shaA + " b " + shaB, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrePush([]byte(tc.in))
			var pe *PrePushError
			switch {
			case tc.errLine == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.errLine != 0 && (!errors.As(err, &pe) || pe.Line != tc.errLine):
				t.Fatalf("err = %v, want a PrePushError on line %d", err, tc.errLine)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReadPrePushLimit(t *testing.T) {
	if _, err := ReadPrePush(bytes.NewReader(make([]byte, MaxPrePushInput+1))); err == nil {
		t.Error("no error over the limit")
	}
	b, err := ReadPrePush(strings.NewReader("x"))
	if err != nil || string(b) != "x" {
		t.Errorf("got %q, %v", b, err)
	}
}

// TestFrameworkPush: the framework's range when it gives one, its branch
// when it gives only that, and not the framework's run otherwise (a
// TO_REF alone is not a range).
func TestFrameworkPush(t *testing.T) {
	for _, tc := range []struct {
		env              map[string]string
		include, exclude []string
		ok               bool
	}{
		{map[string]string{"PRE_COMMIT_FROM_REF": shaA, "PRE_COMMIT_TO_REF": shaB, "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/x"}, []string{shaB}, []string{shaA}, true},
		{map[string]string{"PRE_COMMIT_LOCAL_BRANCH": "refs/heads/x"}, []string{"refs/heads/x"}, nil, true},
		{map[string]string{"PRE_COMMIT_TO_REF": shaB}, nil, nil, false},
		{nil, nil, nil, false},
	} {
		inc, exc, ok, err := FrameworkPush(context.Background(), Git{Dir: t.TempDir()}, func(k string) string { return tc.env[k] })
		if err != nil || ok != tc.ok || !reflect.DeepEqual(inc, tc.include) || !reflect.DeepEqual(exc, tc.exclude) {
			t.Errorf("FrameworkPush(%v) = %q, %q, %v, %v; want %q, %q, %v", tc.env, inc, exc, ok, err, tc.include, tc.exclude, tc.ok)
		}
	}
}

// FuzzParsePrePush checks the parser never panics, that what it accepts
// is well formed, and that formatting it back parses to the same updates.
func FuzzParsePrePush(f *testing.F) {
	f.Add([]byte("refs/heads/main " + shaA + " refs/heads/main " + shaB + "\n"))
	f.Add([]byte("(delete) " + zero + " refs/heads/x " + shaA + "\r\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ups, err := ParsePrePush(in)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, u := range ups {
			if !isOID(u.LocalOID) || !isOID(u.RemoteOID) || len(u.LocalOID) != len(u.RemoteOID) {
				t.Fatalf("accepted bad object names %+v", u)
			}
			if strings.ContainsAny(u.LocalRef+u.RemoteRef, " \n") || u.LocalRef == "" || u.RemoteRef == "" {
				t.Fatalf("accepted bad ref names %+v", u)
			}
			b.WriteString(u.LocalRef + " " + u.LocalOID + " " + u.RemoteRef + " " + u.RemoteOID + "\n")
		}
		again, err := ParsePrePush([]byte(b.String()))
		if err != nil || !reflect.DeepEqual(again, ups) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, ups)
		}
	})
}

// FuzzParsePreReceive checks the pre-receive parser never panics, that
// what it accepts is well formed, and that it round-trips.
func FuzzParsePreReceive(f *testing.F) {
	f.Add([]byte(shaA + " " + shaB + " refs/heads/main\n"))
	f.Add([]byte(zero + " " + shaA + " refs/tags/v1\r\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ups, err := ParsePreReceive(in)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, u := range ups {
			if !isOID(u.Old) || !isOID(u.New) || len(u.Old) != len(u.New) || !strings.HasPrefix(u.Ref, "refs/") || strings.ContainsAny(u.Ref, " \n") {
				t.Fatalf("accepted a bad update %+v", u)
			}
			b.WriteString(u.Old + " " + u.New + " " + u.Ref + "\n")
		}
		again, err := ParsePreReceive([]byte(b.String()))
		if err != nil || !reflect.DeepEqual(again, ups) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, ups)
		}
	})
}
