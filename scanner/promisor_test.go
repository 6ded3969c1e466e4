package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// partialClone makes an origin repository holding a fake key in an old
// commit, and a blobless clone of it over file:// (no network).
func partialClone(t *testing.T) (origin *testRepo, clone string, keyID string) {
	origin = newTestRepo(t)
	c := newCreds(31)
	origin.write("deploy/creds.ini", c.ini())
	origin.commit("add credentials")
	origin.remove("deploy/creds.ini")
	origin.write("README", "nothing here\n")
	origin.commit("remove credentials")
	origin.git("config", "uploadpack.allowFilter", "true")
	origin.git("config", "uploadpack.allowAnySHA1InWant", "true")
	clone = filepath.Join(t.TempDir(), "partial.git")
	origin.gitIn(filepath.Dir(clone), "clone", "-q", "--bare", "--filter=blob:none", "file://"+origin.dir, clone)
	if missing := origin.gitIn(clone, "rev-list", "--objects", "--all", "--missing=print"); !strings.Contains(missing, "?") {
		t.Fatal("the clone lacks no blobs: not a blobless partial clone")
	}
	return origin, clone, c.keyID
}

// TestHistoryPartialCloneFetchesMissingBlobs: a blobless clone is swept
// completely, its blobs fetched from the promisor remote first, so the
// old key is found.
func TestHistoryPartialCloneFetchesMissingBlobs(t *testing.T) {
	_, clone, keyID := partialClone(t)
	res, err := New(Options{}).ScanHistory(context.Background(), clone, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	found := false
	for _, f := range res.Findings {
		found = found || f.KeyID == keyID
	}
	if !found {
		t.Fatalf("the key in a blob the clone lacked was not found; warnings %q", res.Warnings)
	}
}

// TestHistoryPartialCloneUnreachableRemoteIsIncomplete: when the promisor
// remote cannot be reached, the sweep says the result is incomplete (an
// error, so the command exits 2) rather than reporting a clean history.
func TestHistoryPartialCloneUnreachableRemoteIsIncomplete(t *testing.T) {
	origin, clone, _ := partialClone(t)
	if err := os.RemoveAll(origin.dir); err != nil {
		t.Fatal(err)
	}
	res, err := New(Options{}).ScanHistory(context.Background(), clone, HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) == 0 {
		t.Fatalf("no error for a partial clone whose blobs could not be fetched; warnings %q", res.Warnings)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "partial clone") {
		t.Fatalf("warnings %q do not name the partial clone", res.Warnings)
	}
}
