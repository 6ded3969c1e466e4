package scanner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// TagMessagePath is the Provenance.Path of a finding in an annotated tag's
// message (Provenance.Kind is KindTagMessage and Provenance.Ref names the
// tag). Like MessagePath, one fixed name keeps a key's fingerprint the same
// in every tag it was pasted into.
const TagMessagePath = "tag-message"

// tagInfo is what a history sweep keeps of an annotated tag beyond its
// target: its name and tagger, to name the finding, and the findings of its
// message (the message itself is dropped once scanned).
type tagInfo struct {
	name    string
	tagger  string
	email   string
	when    time.Time
	message []byte
	finds   []Finding
}

// scanTag scans an annotated tag's message during the object phase, as a
// stream when it is over the size limit (stream.go).
func (s *sweep) scanTag(t *tagRec) {
	msg := t.message
	t.message = nil
	if len(msg) > 0 {
		t.finds = s.e.scanMessage(msg, Provenance{Kind: KindTagMessage, Path: TagMessagePath})
	}
}

// tagProvenance names the tag: its own name (the "tag" header, which is
// what git shows), its tagger and, when it finally names a commit, that
// commit.
func tagProvenance(t tagInfo, target plumbing.Hash, isCommit bool) Provenance {
	p := Provenance{Kind: KindTagMessage, Path: TagMessagePath, Ref: t.name, Author: t.tagger, Email: t.email, Date: t.when}
	if isCommit {
		p.Commit = target.String()
	}
	return p
}

// addTagFindings reports the findings of the tags the refs reach (every
// tag the sweep read, with allObjects), in tag-name order so output is
// stable. add de-duplicates by fingerprint like every other finding.
func (s *sweep) addTagFindings(h *history, allObjects bool, res *Result, add func(Finding, Provenance)) {
	var hashes []plumbing.Hash
	for th, t := range s.tags {
		if len(t.finds) == 0 {
			continue
		}
		if !allObjects && !h.tagReached[th] {
			continue
		}
		hashes = append(hashes, th)
	}
	sort.Slice(hashes, func(i, j int) bool {
		a, b := s.tags[hashes[i]], s.tags[hashes[j]]
		if a.name != b.name {
			return a.name < b.name
		}
		return hashes[i].String() < hashes[j].String()
	})
	for _, th := range hashes {
		t := s.tags[th]
		target, typ, _ := peel(s, th)
		prov := tagProvenance(t.tagInfo, target, typ == plumbing.CommitObject)
		for _, f := range t.finds {
			add(f, prov)
		}
	}
}

// markTags records every annotated tag reached from ref hash r, following
// tags of tags up to maxTagChain.
func (h *history) markTags(s *sweep, r plumbing.Hash) {
	for range maxTagChain {
		t, ok := s.tags[r]
		if !ok || h.tagReached[r] {
			return
		}
		h.tagReached[r] = true
		r = t.target
	}
}

// pushedTags returns the annotated tags rev names directly (a tag object's
// ID as pre-push passes it, or a tag's name), outermost first; none when
// rev names a commit or is not a tag.
func (w *rangeWalk) pushedTags(rev string) []*object.Tag {
	var h plumbing.Hash
	switch {
	case isFullHash(rev):
		h = plumbing.NewHash(rev)
	default:
		name := rev
		if !strings.HasPrefix(name, "refs/") {
			name = "refs/tags/" + name
		}
		ref, err := w.repo.Reference(plumbing.ReferenceName(name), true)
		if err != nil {
			return nil
		}
		h = ref.Hash()
	}
	var tags []*object.Tag
	for range maxTagChain {
		t, err := w.repo.TagObject(h)
		if err != nil {
			break
		}
		tags = append(tags, t)
		h = t.Target
	}
	return tags
}

// scanTags scans the messages of the annotated tags a range pushes.
func (e *Engine) scanTags(ctx context.Context, tags []*object.Tag, res *Result) error {
	for _, t := range tags {
		if err := ctx.Err(); err != nil {
			return err
		}
		info := tagInfo{name: t.Name, tagger: t.Tagger.Name, email: t.Tagger.Email, when: t.Tagger.When}
		target, isCommit := t.Target, t.TargetType == plumbing.CommitObject
		prov := tagProvenance(info, target, isCommit)
		// go-git splits a signature off the message; it is part of what
		// the pusher sends, so it is scanned with it.
		res.Findings = append(res.Findings, e.scanMessage([]byte(t.Message+t.PGPSignature), prov)...)
	}
	return nil
}

// ReadTagMessage returns the message of the annotated tag name (its
// signature included, as scanned) in the repository containing dir: what
// recovering a redacted secret from a tag-message finding scans again,
// read from the git objects rather than by running git.
func (e *Engine) ReadTagMessage(dir, name string) ([]byte, error) {
	repo, err := e.openRepo(dir)
	if err != nil {
		return nil, err
	}
	w := newRangeWalk(repo)
	tags := w.pushedTags(name)
	if len(tags) == 0 {
		return nil, fmt.Errorf("read tag %s: no annotated tag of that name", name)
	}
	t := tags[0]
	return []byte(t.Message + t.PGPSignature), nil
}
