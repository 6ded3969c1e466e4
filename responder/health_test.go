package responder

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// The sample is the test event of aws-health-tools' AWS_RISK_CREDENTIALS_EXPOSED
// automated action, with AWS's documented example key ID.
func TestParseHealthEventSample(t *testing.T) {
	data, err := os.ReadFile("testdata/health/credentials-exposed.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ParseHealthEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Account != "123456789012" || len(ev.KeyIDs) != 1 || ev.KeyIDs[0] != "AKIAIOSFODNN7EXAMPLE" ||
		ev.Description != "A description of the event will be provided here" || !strings.Contains(ev.EventARN, ExposedKeyEventType) {
		t.Fatalf("parsed %+v", ev)
	}
}

func TestParseHealthEventRefusals(t *testing.T) {
	sample, err := os.ReadFile("testdata/health/credentials-exposed.json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(sample)
	for _, tc := range []struct{ name, data, want string }{
		{"not json", "{", "invalid JSON"},
		{"empty", "", "invalid JSON"},
		{"array", "[]", "invalid JSON"},
		{"other source", strings.Replace(s, `"aws.health"`, `"aws.ec2"`, 1), `source is "aws.ec2"`},
		{"other detail type", strings.Replace(s, `"AWS Health Event"`, `"EC2 Instance State-change Notification"`, 1), "detail-type"},
		{"other event type", strings.Replace(s, `"eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED"`, `"eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE"`, 1), `eventTypeCode is "AWS_EC2_OPERATIONAL_ISSUE"`},
		{"no entities", strings.Replace(s, `"entityValue": "AKIAIOSFODNN7EXAMPLE"`, `"entityValue": ""`, 1), "entityValue"},
		{"not a key", strings.Replace(s, `AKIAIOSFODNN7EXAMPLE`, `i-0123456789abcdef0`, 1), "not a long-term access key ID"},
		{"bad account", strings.Replace(s, `"123456789012"`, `"12345"`, 1), "12-digit"},
		{"no detail", `{"source":"aws.health","detail-type":"AWS Health Event","account":"123456789012"}`, "no detail"},
		{"multi-line value", strings.Replace(s, `"aws.health"`, `"a\nb"`, 1), `source is "a b"`},
		{"huge", `{"x":"` + strings.Repeat("a", MaxHealthEventSize) + `"}`, "more than EventBridge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHealthEvent([]byte(tc.data))
			if !errors.Is(err, ErrBadHealthEvent) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

// FuzzParseHealthEvent: no panic, every refusal wraps ErrBadHealthEvent and
// is one line, and every accepted event names only long-term key IDs.
func FuzzParseHealthEvent(f *testing.F) {
	if data, err := os.ReadFile("testdata/health/credentials-exposed.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseHealthEvent(data)
		if err != nil {
			if !errors.Is(err, ErrBadHealthEvent) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("bad refusal: %q", err)
			}
			return
		}
		if len(ev.KeyIDs) == 0 || !isAccountID(ev.Account) {
			t.Fatalf("accepted %+v", ev)
		}
		for _, id := range ev.KeyIDs {
			if !strings.HasPrefix(id, "AKIA") && !strings.HasPrefix(id, "ABIA") && !strings.HasPrefix(id, "ACCA") {
				t.Fatalf("accepted key ID %q", id)
			}
		}
	})
}
