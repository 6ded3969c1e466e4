package responder

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyward/keyward/responder/awsemu"
)

// ownPolicy is RotatePolicy as IAM evaluates it for user: the emulator has
// no policy variables, so ${aws:username} is put in here. Bob gets nothing
// else, which proves the policy is enough.
func ownPolicy(user string) string {
	return strings.ReplaceAll(RotatePolicy().JSON(), "${aws:username}", user)
}

// rotateLab is a lab with user bob, who may manage his own keys.
func rotateLab(t *testing.T) (*lab, awsemu.Credentials) {
	t.Helper()
	l := newLab(t)
	if err := l.emu.CreateUser(l.acct, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := l.emu.PutUserPolicy(l.acct, "bob", "self", ownPolicy("bob")); err != nil {
		t.Fatal(err)
	}
	c, err := l.emu.CreateAccessKey(l.acct, "bob")
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func (l *lab) rotator(c awsemu.Credentials, store func(Credential) error) *Rotator {
	return &Rotator{
		Config: l.config(c),
		ConfigFor: func(k Credential) aws.Config {
			s, _ := k.Reveal()
			return l.config(awsemu.Credentials{AccessKeyID: k.KeyID, SecretAccessKey: s})
		},
		PollInterval: time.Millisecond, PollTimeout: time.Second, Store: store,
	}
}

func (l *lab) keysOf(t *testing.T, user string) map[string]string {
	t.Helper()
	out, err := l.iam().ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, k := range out.AccessKeyMetadata {
		m[aws.ToString(k.AccessKeyId)] = string(k.Status)
	}
	return m
}

func TestRotatorRotateAndFinish(t *testing.T) {
	l, old := rotateLab(t)
	var stored Credential
	r := l.rotator(old, func(k Credential) error {
		s, _ := k.Reveal()
		stored = NewCredential(k.KeyID, s, "")
		return nil
	})
	rot, err := r.Rotate(context.Background(), old.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if rot.UserName != "bob" || !rot.Deactivated || rot.NewKeyID == "" || stored.KeyID != rot.NewKeyID || !stored.HasSecret() {
		t.Fatalf("rotation %+v, stored %v", rot, stored)
	}
	keys := l.keysOf(t, "bob")
	if keys[old.AccessKeyID] != "Inactive" || keys[rot.NewKeyID] != "Active" {
		t.Fatalf("keys after rotation: %v", keys)
	}
	// The stored key really works, and the old one does not.
	if v := l.validator().Validate(context.Background(), stored); v.Status != StatusValid {
		t.Fatalf("new key: %s", v.Status)
	}
	if v := l.validator().Validate(context.Background(), cred(old)); v.Status != StatusInvalid {
		t.Fatalf("old key: %s", v.Status)
	}

	fin := l.rotator(awsemu.Credentials{AccessKeyID: stored.KeyID, SecretAccessKey: secretOf(stored)}, nil)
	now := time.Now()
	res, err := fin.Finish(context.Background(), "bob", old.AccessKeyID, now, time.Hour, now)
	if !errors.Is(err, ErrGraceNotOver) || res.Action != "waiting" {
		t.Fatalf("finish inside the grace period: %v, %+v", err, res)
	}
	if _, ok := l.keysOf(t, "bob")[old.AccessKeyID]; !ok {
		t.Fatal("finish deleted the old key inside the grace period")
	}
	res, err = fin.Finish(context.Background(), "bob", old.AccessKeyID, now.Add(-2*time.Hour), time.Hour, now)
	if err != nil || res.Action != "deleted" {
		t.Fatalf("finish after the grace period: %v, %+v", err, res)
	}
	if keys := l.keysOf(t, "bob"); len(keys) != 1 || keys[stored.KeyID] != "Active" {
		t.Fatalf("keys after finish: %v", keys)
	}
	res, err = fin.Finish(context.Background(), "bob", old.AccessKeyID, now.Add(-2*time.Hour), time.Hour, now)
	if err != nil || res.Action != "already deleted" {
		t.Fatalf("second finish: %v, %+v", err, res)
	}
}

// A failure at any stage before the new key is stored deletes the new key:
// the old key works and the store was never called.
func TestRotatorFailureRollsBack(t *testing.T) {
	for _, stage := range []RotateStage{RotateCreate, RotateVerify, RotateStore} {
		t.Run(string(stage), func(t *testing.T) {
			l, old := rotateLab(t)
			stores := 0
			r := l.rotator(old, func(Credential) error {
				stores++
				if stage == RotateStore {
					return errors.New("disk full")
				}
				return nil
			})
			if stage != RotateStore {
				r.AfterStage = func(s RotateStage) error {
					if s == stage {
						return errors.New("injected fault")
					}
					return nil
				}
			}
			_, err := r.Rotate(context.Background(), old.AccessKeyID)
			var re *RotateError
			if !errors.As(err, &re) || re.Stage != stage || !re.RolledBack || re.NewKeyID == "" {
				t.Fatalf("err = %v (%+v)", err, re)
			}
			if want := map[string]string{old.AccessKeyID: "Active"}; !equalMaps(l.keysOf(t, "bob"), want) {
				t.Fatalf("keys = %v, want %v", l.keysOf(t, "bob"), want)
			}
			if stage != RotateStore && stores != 0 {
				t.Fatalf("store called %d times", stores)
			}
			if v := l.validator().Validate(context.Background(), cred(old)); v.Status != StatusValid {
				t.Fatalf("old key after the failure: %s", v.Status)
			}
		})
	}
}

// With two keys nothing is created, and the other key is named.
func TestRotatorKeyLimit(t *testing.T) {
	l, old := rotateLab(t)
	other, err := l.emu.CreateAccessKey(l.acct, "bob")
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.rotator(old, func(Credential) error { t.Fatal("stored"); return nil }).Rotate(context.Background(), old.AccessKeyID)
	var ke *KeyLimitError
	if !errors.As(err, &ke) || len(ke.Keys) != 2 || ke.Keys[1] != other.AccessKeyID+" (Active)" || ke.Keys[0] != old.AccessKeyID+" (Active, the key being rotated)" {
		t.Fatalf("err = %v", err)
	}
	if n := l.emu.Calls("CreateAccessKey"); n != 0 {
		t.Fatalf("CreateAccessKey called %d times", n)
	}
}

func TestRotatorRefusesRootAndRoles(t *testing.T) {
	l, _ := rotateLab(t)
	root, err := l.emu.CreateRootAccessKey(l.acct)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.rotator(root, nil).Rotate(context.Background(), root.AccessKeyID)
	if !errors.Is(err, ErrNotUserKey) {
		t.Fatalf("root key: %v", err)
	}
	sess := l.sessionToken(t, l.leaked, 900)
	_, err = l.rotator(sess, nil).Rotate(context.Background(), sess.AccessKeyID)
	if !errors.Is(err, ErrNotUserKey) {
		t.Fatalf("session key: %v", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
