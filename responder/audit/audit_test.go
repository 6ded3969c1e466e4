package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keyward/keyward/responder/awsemu"
)

// world is an emulated account whose hygiene is clean until a test adds a
// problem: root has MFA and no key, every user's key is young and used.
type world struct {
	emu  *awsemu.Server
	srv  *httptest.Server
	acct string
	now  time.Time
	op   awsemu.Credentials
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	w.emu = awsemu.New(awsemu.Options{Now: func() time.Time { return w.now }})
	w.srv = httptest.NewServer(w.emu)
	t.Cleanup(w.srv.Close)
	w.acct = w.emu.Account()
	var err error
	if w.op, err = w.emu.CreateOperator(w.acct, "admin"); err != nil {
		t.Fatal(err)
	}
	must(t, w.emu.SetRootMFA(w.acct, true))
	w.user(t, "alice")
	return w
}

// user adds a user with one key created 10 days ago and used yesterday.
func (w *world) user(t *testing.T, name string) string {
	t.Helper()
	must(t, w.emu.CreateUser(w.acct, name))
	c, err := w.emu.CreateAccessKey(w.acct, name)
	must(t, err)
	w.key(t, c.AccessKeyID, 10, 1)
	return c.AccessKeyID
}

// key sets a key's age and its last use in days (-1: never used).
func (w *world) key(t *testing.T, id string, ageDays, usedDaysAgo int) {
	t.Helper()
	must(t, w.emu.SetKeyCreated(id, w.now.AddDate(0, 0, -ageDays)))
	var used time.Time
	if usedDaysAgo >= 0 {
		used = w.now.AddDate(0, 0, -usedDaysAgo)
	}
	must(t, w.emu.SetKeyLastUsed(id, used, "s3", "eu-west-1"))
}

func (w *world) config(c awsemu.Credentials) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
}

func (w *world) auditor() *Auditor {
	return &Auditor{Config: w.config(w.op), Now: func() time.Time { return w.now }, ReportPoll: time.Millisecond}
}

// limitedAuditor is an auditor whose user may do everything but
// notAction.
func (w *world) limitedAuditor(t *testing.T, notAction string) *Auditor {
	t.Helper()
	must(t, w.emu.CreateUser(w.acct, "auditor"))
	must(t, w.emu.PutUserPolicy(w.acct, "auditor", "most", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"`+notAction+`","Resource":"*"}]}`))
	c, err := w.emu.CreateAccessKey(w.acct, "auditor")
	must(t, err)
	a := w.auditor()
	a.Config = w.config(c)
	return a
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Each problem alone yields exactly its own finding and no other; the
// clean account yields none, and the audit is complete in every case.
func TestAuditOneProblemEach(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, w *world) (user, keyID string)
		want  CheckID
	}{
		{"clean", func(t *testing.T, w *world) (string, string) { return "", "" }, ""},
		{"old key", func(t *testing.T, w *world) (string, string) {
			id := w.user(t, "old")
			w.key(t, id, 200, 1)
			return "old", id
		}, CheckKeyAge},
		{"unused key", func(t *testing.T, w *world) (string, string) {
			id := w.user(t, "idle")
			w.key(t, id, 60, 50)
			return "idle", id
		}, CheckKeyUnused},
		{"never used key", func(t *testing.T, w *world) (string, string) {
			id := w.user(t, "never")
			w.key(t, id, 60, -1)
			return "never", id
		}, CheckKeyUnused},
		{"two active keys", func(t *testing.T, w *world) (string, string) {
			w.user(t, "twice")
			c, err := w.emu.CreateAccessKey(w.acct, "twice")
			must(t, err)
			w.key(t, c.AccessKeyID, 5, 1)
			return "twice", ""
		}, CheckTwoActiveKeys},
		{"root key", func(t *testing.T, w *world) (string, string) {
			_, err := w.emu.CreateRootAccessKey(w.acct)
			must(t, err)
			return RootUser, ""
		}, CheckRootKey},
		{"root without MFA", func(t *testing.T, w *world) (string, string) {
			must(t, w.emu.SetRootMFA(w.acct, false))
			return RootUser, ""
		}, CheckRootMFA},
		{"console without MFA", func(t *testing.T, w *world) (string, string) {
			w.user(t, "clicker")
			must(t, w.emu.SetUserPassword(w.acct, "clicker", w.now.AddDate(0, 0, -3), w.now.AddDate(0, 0, -1)))
			return "clicker", ""
		}, CheckConsoleMFA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			// A console user with MFA is fine and must stay silent.
			w.user(t, "careful")
			must(t, w.emu.SetUserPassword(w.acct, "careful", w.now.AddDate(0, 0, -3), w.now))
			must(t, w.emu.EnableUserMFA(w.acct, "careful"))
			user, keyID := tc.setup(t, w)
			rep, err := w.auditor().Run(context.Background())
			must(t, err)
			if !rep.Complete() {
				t.Fatalf("incomplete: %v", rep.Incomplete)
			}
			if tc.want == "" {
				if len(rep.Findings) != 0 {
					t.Fatalf("clean account: %+v", rep.Findings)
				}
				return
			}
			if len(rep.Findings) != 1 {
				t.Fatalf("want exactly one %s finding, got %+v", tc.want, rep.Findings)
			}
			f := rep.Findings[0]
			if f.Check != tc.want || f.User != user || f.KeyID != keyID || f.Account != w.acct || len(f.Evidence) == 0 || f.ARN == "" {
				t.Fatalf("finding %+v", f)
			}
		})
	}
}

// All six at once: each check fires once, with its evidence.
func TestAuditAllProblems(t *testing.T) {
	w := newWorld(t)
	old := w.user(t, "old")
	w.key(t, old, 200, 1)
	idle := w.user(t, "idle")
	w.key(t, idle, 60, 50)
	w.user(t, "twice")
	c, err := w.emu.CreateAccessKey(w.acct, "twice")
	must(t, err)
	w.key(t, c.AccessKeyID, 5, 1)
	_, err = w.emu.CreateRootAccessKey(w.acct)
	must(t, err)
	must(t, w.emu.SetRootMFA(w.acct, false))
	w.user(t, "clicker")
	must(t, w.emu.SetUserPassword(w.acct, "clicker", w.now.AddDate(0, 0, -3), time.Time{}))
	rep, err := w.auditor().Run(context.Background())
	must(t, err)
	got := map[CheckID]int{}
	for _, f := range rep.Findings {
		got[f.Check]++
	}
	for _, c := range Checks {
		if got[c.ID] != 1 {
			t.Errorf("%s: %d findings, want 1 (%v)", c.ID, got[c.ID], got)
		}
	}
	ev := map[string]string{}
	for _, f := range rep.Findings {
		if f.Check == CheckKeyUnused {
			for _, e := range f.Evidence {
				ev[e.Name] = e.Value
			}
		}
	}
	if ev["LastUsedDate"] != w.now.AddDate(0, 0, -50).Format(time.RFC3339) || ev["ServiceName"] != "s3" || ev["Region"] != "eu-west-1" {
		t.Fatalf("evidence of the unused key: %v", ev)
	}

	// --fix plans only the unused key, and deactivates exactly it.
	plan := FixPlan(rep)
	if len(plan) != 1 || plan[0].KeyID != idle || !strings.Contains(plan[0].Undo, "--status Active") {
		t.Fatalf("plan %+v", plan)
	}
	done := w.auditor().Fix(context.Background(), plan)
	if !done[0].Done {
		t.Fatalf("fix %+v", done)
	}
	for id, want := range map[string]string{idle: "Inactive", old: "Active", c.AccessKeyID: "Active"} {
		if st, _ := w.emu.KeyStatus(id); st != want {
			t.Errorf("key %s is %s, want %s", id, st, want)
		}
	}
}

// No false all-clear: without the credential report there is no audit, and
// a user whose keys cannot be listed makes the report incomplete.
func TestAuditIncomplete(t *testing.T) {
	t.Run("no report", func(t *testing.T) {
		w := newWorld(t)
		a := w.limitedAuditor(t, "iam:GenerateCredentialReport")
		_, err := a.Run(context.Background())
		if !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), "AccessDenied") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("keys unreadable", func(t *testing.T) {
		w := newWorld(t)
		a := w.limitedAuditor(t, "iam:ListAccessKeys")
		rep, err := a.Run(context.Background())
		must(t, err)
		if rep.Complete() || len(rep.Incomplete) != 3 || !strings.Contains(rep.Incomplete[0], "list access keys") {
			t.Fatalf("incomplete = %v", rep.Incomplete)
		}
	})
}

func TestParseCredentialReport(t *testing.T) {
	data, err := os.ReadFile("testdata/credential-report.csv")
	must(t, err)
	rows, err := ParseCredentialReport(data)
	must(t, err)
	if len(rows) != 2 || rows[0].User() != RootUser || rows[0].Bool("mfa_active") || !rows[1].Bool("password_enabled") ||
		rows[1].Time("access_key_1_last_rotated").IsZero() || !rows[1].Time("access_key_2_last_rotated").IsZero() {
		t.Fatalf("rows %v", rows)
	}
	for _, bad := range []string{"", "user,arn\nx,y\n", "\"unterminated"} {
		if _, err := ParseCredentialReport([]byte(bad)); !errors.Is(err, ErrBadReport) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// FuzzParseCredentialReport: no panic; every refusal wraps ErrBadReport.
func FuzzParseCredentialReport(f *testing.F) {
	if data, err := os.ReadFile("testdata/credential-report.csv"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseCredentialReport(data)
		if err != nil && !errors.Is(err, ErrBadReport) {
			t.Fatalf("err = %v", err)
		}
		for _, r := range rows {
			if r.User() == "" {
				t.Fatal("row without a user")
			}
		}
	})
}

// An auditor allowed exactly Policy(true) runs a complete audit and the
// fix: the policy it prints is enough.
func TestAuditPolicyIsEnough(t *testing.T) {
	w := newWorld(t)
	idle := w.user(t, "idle")
	w.key(t, idle, 60, 50)
	must(t, w.emu.CreateUser(w.acct, "auditor"))
	must(t, w.emu.PutUserPolicy(w.acct, "auditor", "audit", Policy(true)))
	c, err := w.emu.CreateAccessKey(w.acct, "auditor")
	must(t, err)
	a := w.auditor()
	a.Config = w.config(c)
	// A user newer than the report exercises GetLoginProfile/ListMFADevices.
	rep, err := a.Run(context.Background())
	must(t, err)
	must(t, w.emu.CreateUser(w.acct, "newcomer"))
	must(t, w.emu.SetUserPassword(w.acct, "newcomer", w.now, time.Time{}))
	rep, err = a.Run(context.Background())
	must(t, err)
	if !rep.Complete() {
		t.Fatalf("incomplete with the printed policy: %v", rep.Incomplete)
	}
	var newcomer bool
	for _, f := range rep.Findings {
		newcomer = newcomer || (f.Check == CheckConsoleMFA && f.User == "newcomer")
	}
	if !newcomer {
		t.Fatalf("the user newer than the report was not checked: %+v", rep.Findings)
	}
	done := a.Fix(context.Background(), FixPlan(rep))
	if len(done) != 1 || !done[0].Done {
		t.Fatalf("fix with the printed policy: %+v", done)
	}
}

// withoutRoot serves h, except that the credential report IAM returns has
// its root row removed.
func withoutRoot(h http.Handler) http.Handler {
	content := regexp.MustCompile(`<Content>([^<]*)</Content>`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		out := rec.Body.String()
		if bytes.Contains(body, []byte("Action=GetCredentialReport")) {
			out = content.ReplaceAllStringFunc(out, func(m string) string {
				csv, err := base64.StdEncoding.DecodeString(content.FindStringSubmatch(m)[1])
				if err != nil {
					return m
				}
				var kept []string
				for _, line := range strings.SplitAfter(string(csv), "\n") {
					if !strings.HasPrefix(line, RootUser+",") {
						kept = append(kept, line)
					}
				}
				return "<Content>" + base64.StdEncoding.EncodeToString([]byte(strings.Join(kept, ""))) + "</Content>"
			})
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		io.WriteString(w, out)
	})
}

// TestAuditNoRootRow: a credential report without the root user's row
// leaves the root checks unrun, so the audit is incomplete, not clean.
func TestAuditNoRootRow(t *testing.T) {
	w := newWorld(t)
	srv := httptest.NewServer(withoutRoot(w.emu))
	t.Cleanup(srv.Close)
	a := w.auditor()
	a.Config.BaseEndpoint = aws.String(srv.URL)
	rep, err := a.Run(context.Background())
	must(t, err)
	if rep.Users != 2 {
		// admin and alice: the report was read, only root is missing.
		t.Fatalf("users = %d, want 2", rep.Users)
	}
	if rep.Complete() || len(rep.Incomplete) != 1 || !strings.Contains(rep.Incomplete[0], "no <root_account> row") {
		t.Fatalf("incomplete = %v, want the root row missing", rep.Incomplete)
	}
}
