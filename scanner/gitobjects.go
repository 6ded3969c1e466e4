package scanner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// This file lets the gates read objects go-git cannot see. In a
// pre-receive hook the pushed objects sit in git's quarantine directory
// (GIT_QUARANTINE_PATH), which git exposes only through the environment:
// GIT_OBJECT_DIRECTORY names the quarantine and
// GIT_ALTERNATE_OBJECT_DIRECTORIES the repository's own objects. go-git
// reads neither variable, and its objects/info/alternates support cannot
// leave the repository's directory (billy's chroot) nor name a directory
// not called "objects". Rather than re-implement git's object lookup, a
// miss in go-git's store is answered by `git cat-file --batch-command`,
// which sees exactly what git sees: quarantine, alternates, promisor packs
// (issue 9). Objects already in the repository still come from go-git.

// gitObjects answers object lookups through one long-lived
// `git cat-file --batch-command` process (git 2.36 or later).
type gitObjects struct {
	ctx   context.Context
	dir   string
	limit int64

	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startGitObjects starts cat-file in dir with this process's environment,
// which in a hook is git's.
func startGitObjects(ctx context.Context, dir string, limit int64) (*gitObjects, error) {
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch-command")
	cmd.Dir = dir
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	return &gitObjects{ctx: ctx, dir: dir, limit: limit, cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10)}, nil
}

// close ends the cat-file process.
func (g *gitObjects) close() {
	g.in.Close()
	_ = g.cmd.Wait()
}

// header asks for "info" or "contents" of h and reads the reply's header.
func (g *gitObjects) header(cmd string, h plumbing.Hash) (plumbing.ObjectType, int64, error) {
	if _, err := fmt.Fprintf(g.in, "%s %s\n", cmd, h); err != nil {
		return 0, 0, fmt.Errorf("git cat-file: %w", err)
	}
	line, err := g.out.ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("git cat-file: %w", err)
	}
	f := strings.Fields(line)
	if len(f) == 2 && f[1] == "missing" {
		return 0, 0, plumbing.ErrObjectNotFound
	}
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("git cat-file: unexpected reply %q", strings.TrimSpace(line))
	}
	typ, err := plumbing.ParseObjectType(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("git cat-file: %w", err)
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("git cat-file: %w", err)
	}
	return typ, size, nil
}

// object returns h as an encoded object: its content when it is within
// the size limit (or not a blob), else only its size, with a reader that
// streams it from its own git process when asked.
func (g *gitObjects) object(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	typ, size, err := g.header("info", h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && t != typ {
		return nil, plumbing.ErrObjectNotFound
	}
	if typ == plumbing.BlobObject && size > g.limit {
		return &packedObject{hash: h, typ: typ, size: size, fallback: func() (plumbing.EncodedObject, error) {
			return &streamObject{packedObject: packedObject{hash: h, typ: typ, size: size}, g: g}, nil
		}}, nil
	}
	typ, size, err = g.header("contents", h)
	if err != nil {
		return nil, err
	}
	data := make([]byte, size+1) // and the newline after the content
	if _, err := io.ReadFull(g.out, data); err != nil {
		return nil, fmt.Errorf("git cat-file %s: %w", h, err)
	}
	return &packedObject{hash: h, typ: typ, size: size, data: data[:size]}, nil
}

// streamObject is a large blob read from its own `git cat-file blob`.
type streamObject struct {
	packedObject
	g *gitObjects
}

// Reader streams the blob; closing it ends the git process.
func (o *streamObject) Reader() (io.ReadCloser, error) {
	cmd := exec.CommandContext(o.g.ctx, "git", "cat-file", "blob", o.hash.String())
	cmd.Dir = o.g.dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git cat-file %s: %w", o.hash, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file %s: %w", o.hash, err)
	}
	return &procReader{ReadCloser: out, cmd: cmd}, nil
}

// procReader waits for its process when closed.
type procReader struct {
	io.ReadCloser
	cmd *exec.Cmd
}

func (p *procReader) Close() error {
	p.ReadCloser.Close()
	_ = p.cmd.Wait()
	return nil
}

// gitFallbackStorage is the scan storage with misses answered by git.
type gitFallbackStorage struct {
	scanStorage
	git *gitObjects
}

// EncodedObject reads from go-git's store, then from git.
func (s gitFallbackStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := s.scanStorage.EncodedObject(t, h)
	if err == nil || !errors.Is(err, plumbing.ErrObjectNotFound) {
		return o, err
	}
	return s.git.object(t, h)
}

// HasEncodedObject checks go-git's store, then git.
func (s gitFallbackStorage) HasEncodedObject(h plumbing.Hash) error {
	if err := s.scanStorage.HasEncodedObject(h); err == nil {
		return nil
	}
	_, err := s.git.object(plumbing.AnyObject, h)
	return err
}
