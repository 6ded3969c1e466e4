package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// archiveScriptCmds are the script commands for archive tests.
func archiveScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"mkarchive": cmdMkarchive,
	}
}

// cmdMkarchive writes an archive of files from the script's work
// directory, so scripts need no zip or tar binary:
//
//	mkarchive zip|tgz|gz OUT MEMBER=FILE...
//	mkarchive bomb OUT
//
// bomb is a zip whose one member is 16 MiB of zeros, which deflate packs
// about a thousand to one.
func cmdMkarchive(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mkarchive zip|tgz|gz|bomb OUT [MEMBER=FILE...]")
	}
	kind, out := args[0], ts.MkAbs(args[1])
	type member struct {
		name string
		data []byte
	}
	var ms []member
	for _, a := range args[2:] {
		name, file, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("mkarchive: %q is not MEMBER=FILE", a)
		}
		data, err := os.ReadFile(ts.MkAbs(file))
		ts.Check(err)
		ms = append(ms, member{name, data})
	}
	var b bytes.Buffer
	switch kind {
	case "bomb":
		ms = []member{{"zeros.txt", make([]byte, 16<<20)}}
		fallthrough
	case "zip":
		w := zip.NewWriter(&b)
		for _, m := range ms {
			f, err := w.Create(m.name)
			ts.Check(err)
			_, err = f.Write(m.data)
			ts.Check(err)
		}
		ts.Check(w.Close())
	case "tgz":
		zw := gzip.NewWriter(&b)
		tw := tar.NewWriter(zw)
		for _, m := range ms {
			ts.Check(tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}))
			_, err := tw.Write(m.data)
			ts.Check(err)
		}
		ts.Check(tw.Close())
		ts.Check(zw.Close())
	case "gz":
		if len(ms) != 1 {
			ts.Fatalf("mkarchive gz takes one member")
		}
		zw := gzip.NewWriter(&b)
		zw.Name = ms[0].name
		_, err := zw.Write(ms[0].data)
		ts.Check(err)
		ts.Check(zw.Close())
	default:
		ts.Fatalf("mkarchive: unknown kind %q", kind)
	}
	ts.Check(os.WriteFile(out, b.Bytes(), 0o644))
}
