package fleet

import (
	"cmp"
	"slices"
)

// Place is one finding in one repository, as merging sees it: enough to
// tell credentials apart, order them and drop a place reported twice.
type Place struct {
	Repository string
	RuleID     string
	// SecretSHA256 identifies the credential (the key ID's hash for a key,
	// else the secret's or token's): the same key in five repositories
	// has one SecretSHA256 and five places.
	SecretSHA256 string
	// Fingerprint is the finding's own fingerprint (rule, path and
	// credential), which tells places apart within a repository.
	Fingerprint string
	Commit      string
	Path        string
	Line        int
	Column      int
	// Pair is a key ID found with its secret access key: usable as it
	// stands, so responders see it first.
	Pair bool
	// Canary is a key from a known canary-token account.
	Canary bool
}

// Credential is one leaked credential and every place it was found.
type Credential struct {
	RuleID       string
	SecretSHA256 string
	// Pair is true when any place holds the key with its secret.
	Pair   bool
	Canary bool
	// Places index the slice given to Group, in place order.
	Places []int
}

// DedupePlaces returns the indexes of places to keep: the first of each
// (repository, fingerprint, commit, line, column), so a repository swept in
// two shards' reports, or a report merged twice, counts once.
func DedupePlaces(places []Place) []int {
	type key struct {
		repo, fp, commit string
		line, col        int
	}
	seen := map[key]bool{}
	var keep []int
	for i, p := range places {
		k := key{p.Repository, p.Fingerprint, p.Commit, p.Line, p.Column}
		if !seen[k] {
			seen[k] = true
			keep = append(keep, i)
		}
	}
	return keep
}

// ComparePlaces orders places by repository, path, position, rule and
// commit, the order reports list them in whatever order inputs came.
func ComparePlaces(a, b Place) int {
	return cmp.Or(
		cmp.Compare(a.Repository, b.Repository),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Line, b.Line),
		cmp.Compare(a.Column, b.Column),
		cmp.Compare(a.RuleID, b.RuleID),
		cmp.Compare(a.Commit, b.Commit),
		cmp.Compare(a.Fingerprint, b.Fingerprint),
	)
}

// Group gathers places into credentials by rule and credential hash.
// Credentials come in the order a responder works through them: key IDs
// with their secrets (live-looking pairs) first, canary pairs after them
// (they alert their owner, not AWS), then everything else; within each,
// the most widely spread first, then by rule and hash so the order is
// stable.
func Group(places []Place) []Credential {
	type key struct{ rule, hash string }
	byKey := map[key]*Credential{}
	var creds []*Credential
	for i, p := range places {
		k := key{p.RuleID, p.SecretSHA256}
		c := byKey[k]
		if c == nil {
			c = &Credential{RuleID: p.RuleID, SecretSHA256: p.SecretSHA256}
			byKey[k] = c
			creds = append(creds, c)
		}
		c.Places = append(c.Places, i)
		c.Pair = c.Pair || p.Pair
		c.Canary = c.Canary || p.Canary
	}
	out := make([]Credential, 0, len(creds))
	for _, c := range creds {
		slices.SortFunc(c.Places, func(a, b int) int { return ComparePlaces(places[a], places[b]) })
		out = append(out, *c)
	}
	rank := func(c Credential) int {
		switch {
		case c.Pair && !c.Canary:
			return 0
		case c.Pair:
			return 1
		}
		return 2
	}
	slices.SortFunc(out, func(a, b Credential) int {
		return cmp.Or(
			cmp.Compare(rank(a), rank(b)),
			cmp.Compare(len(b.Places), len(a.Places)),
			cmp.Compare(a.RuleID, b.RuleID),
			cmp.Compare(a.SecretSHA256, b.SecretSHA256),
		)
	})
	return out
}
