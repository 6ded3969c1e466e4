package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/responder"
	"github.com/keyward/keyward/responder/awsemu"
)

// rotateEnv starts an emulator with user bob, whose key is profile bob of
// a credentials file, and points the SDK's variables at both.
func rotateEnv(t *testing.T) (*awsemu.Server, awsemu.Credentials, string) {
	t.Helper()
	emu := awsemu.New(awsemu.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	acct := emu.Account()
	if err := emu.CreateUser(acct, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := emu.PutUserPolicy(acct, "bob", "self", ownKeysPolicy("bob")); err != nil {
		t.Fatal(err)
	}
	c, err := emu.CreateAccessKey(acct, "bob")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	data := "# comment\n[bob]\naws_access_key_id = " + c.AccessKeyID + "\naws_secret_access_key = " + c.SecretAccessKey + "\n\n[other]\nregion = us-west-2\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": srv.URL, "AWS_SHARED_CREDENTIALS_FILE": path, "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	return emu, c, path
}

// A failure midway (before the new key is stored, or a credentials file
// changed meanwhile) leaves the old key working and the file unchanged.
func TestRotateFailureMidway(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(path string) func(responder.RotateStage) error
	}{
		{"verify fails", func(string) func(responder.RotateStage) error {
			return func(s responder.RotateStage) error {
				if s == responder.RotateVerify {
					return errors.New("injected fault")
				}
				return nil
			}
		}},
		{"file changed meanwhile", func(path string) func(responder.RotateStage) error {
			return func(s responder.RotateStage) error {
				if s == responder.RotateVerify {
					f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
					if err != nil {
						return err
					}
					f.WriteString("[added]\nregion = eu-west-1\n")
					return f.Close()
				}
				return nil
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, old, path := rotateEnv(t)
			rotateFaultHook = tc.fault(path)
			t.Cleanup(func() { rotateFaultHook = nil })
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"rotate", "--profile", "bob", "--poll-interval", "1ms"}, strings.NewReader(""), &stdout, &stderr)
			if code != exitError {
				t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), "was deleted again, the old key still works") {
				t.Fatalf("stderr: %s", stderr.String())
			}
			if st, err := emu.KeyStatus(old.AccessKeyID); err != nil || st != "Active" {
				t.Fatalf("old key: %s %v", st, err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), "aws_secret_access_key = "+old.SecretAccessKey+"\n") || strings.Contains(string(got), "keyward rotate:") {
				t.Fatalf("credentials file changed:\n%s", got)
			}
			if tc.name == "verify fails" {
				want := "# comment\n[bob]\naws_access_key_id = " + old.AccessKeyID + "\naws_secret_access_key = " + old.SecretAccessKey + "\n\n[other]\nregion = us-west-2\n"
				if string(got) != want {
					t.Fatalf("credentials file changed:\n%s", got)
				}
			}
			// Only the old key is left: the rollback deleted the new one.
			if n := emu.Calls("DeleteAccessKey"); n != 1 {
				t.Fatalf("DeleteAccessKey calls = %d, want 1 (the rollback)", n)
			}
			if strings.Contains(stdout.String()+stderr.String(), old.SecretAccessKey) {
				t.Fatal("the secret was printed")
			}
		})
	}
}
