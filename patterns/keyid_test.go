package patterns_test

import (
	"testing"

	"github.com/keyward/keyward/patterns"
	"github.com/keyward/keyward/patterns/patternstest"
)

func TestAccountIDRoundTrip(t *testing.T) {
	g := patternstest.New(1)
	for _, acct := range []string{"000000000001", "123456789012", "999999999999", "052310077262"} {
		for _, prefix := range []string{"AKIA", "ASIA"} {
			id := g.KeyID(prefix, acct)
			got, ok := patterns.AccountID(id)
			if !ok || got != acct {
				t.Errorf("AccountID(%s) = %q, %v; want %s", id, got, ok, acct)
			}
			if k := patterns.KindOf(id); (prefix == "ASIA") != (k == patterns.Temporary) {
				t.Errorf("KindOf(%s) = %s", id, k)
			}
		}
	}
}

func TestAccountIDOldFormat(t *testing.T) {
	// AWS's own example key starts AKIAI: pre-2019 format, no account inside.
	if acct, ok := patterns.AccountID("AKIAIOSFODNN7EXAMPLE"); ok {
		t.Fatalf("old-format key decoded to account %s", acct)
	}
}

func TestCanary(t *testing.T) {
	for _, a := range patterns.CanaryAccounts() {
		id := patternstest.New(2).KeyID("AKIA", a)
		acct, _ := patterns.AccountID(id)
		if _, ok := patterns.CanaryAccount(acct); !ok {
			t.Errorf("key %s of canary account %s not recognised", id, a)
		}
	}
	if _, ok := patterns.CanaryAccount(patternstest.DefaultAccount); ok {
		t.Fatal("default test account must not be a canary")
	}
}

func TestSecretEntropyFloorHoldsForRandomKeys(t *testing.T) {
	// The floor must not reject real keys: draw many uniformly random keys,
	// as AWS does, and check none comes near it.
	g := patternstest.New(3)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
	low := 0
	buf := make([]byte, 40)
	for i := 0; i < 20000; i++ {
		g.Read(buf)
		for j := range buf {
			buf[j] = alphabet[buf[j]%64]
		}
		if patterns.Entropy(buf) < patterns.SecretEntropyFloor+0.2 {
			low++
		}
	}
	if low > 0 {
		t.Fatalf("%d of 20000 random secrets within 0.2 bits of the floor", low)
	}
}
