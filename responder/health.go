package responder

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/patterns"
)

// The AWS Health event AWS raises when it finds one of an account's access
// keys in public, as EventBridge delivers it (AWS Health User Guide,
// "Monitoring AWS Health events with Amazon EventBridge"; the sample of
// aws-health-tools' AWS_RISK_CREDENTIALS_EXPOSED automated action).
const (
	HealthEventSource     = "aws.health"
	HealthEventDetailType = "AWS Health Event"
	// ExposedKeyEventType is detail.eventTypeCode of the exposure event;
	// its detail.service is "RISK" and its category "issue".
	ExposedKeyEventType = "AWS_RISK_CREDENTIALS_EXPOSED"
)

// MaxHealthEventSize bounds an event read from a file or a Lambda payload:
// EventBridge refuses events over 256 KiB.
const MaxHealthEventSize = 256 << 10

// maxAffectedEntities bounds the keys one event may name: AWS names one; a
// few are accepted, thousands are not an AWS event.
const maxAffectedEntities = 100

// HealthEvent is what the responder takes from an AWS_RISK_CREDENTIALS_EXPOSED
// event: the account, the exposed key IDs, and AWS's own words about where
// the key was found. AWS has confirmed the exposure, so no secret is needed
// (or ever present in the event).
type HealthEvent struct {
	ID        string `json:"id"`
	Account   string `json:"account"`
	Region    string `json:"region,omitempty"`
	Time      string `json:"time,omitempty"`
	EventARN  string `json:"event_arn,omitempty"`
	StartTime string `json:"start_time,omitempty"`
	// Description is AWS's latestDescription (en_US first), which says
	// where the key was found.
	Description string `json:"description,omitempty"`
	// KeyIDs are the exposed access key IDs, from
	// detail.affectedEntities[].entityValue, each once.
	KeyIDs []string `json:"key_ids"`
}

// ErrBadHealthEvent wraps every reason an event is refused.
var ErrBadHealthEvent = errors.New("not an AWS_RISK_CREDENTIALS_EXPOSED health event")

type rawHealthEvent struct {
	Version    string `json:"version"`
	ID         string `json:"id"`
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
	Account    string `json:"account"`
	Time       string `json:"time"`
	Region     string `json:"region"`
	Detail     *struct {
		EventARN          string `json:"eventArn"`
		Service           string `json:"service"`
		EventTypeCode     string `json:"eventTypeCode"`
		EventTypeCategory string `json:"eventTypeCategory"`
		StartTime         string `json:"startTime"`
		EventDescription  []struct {
			Language          string `json:"language"`
			LatestDescription string `json:"latestDescription"`
		} `json:"eventDescription"`
		AffectedEntities []struct {
			EntityValue string `json:"entityValue"`
		} `json:"affectedEntities"`
	} `json:"detail"`
}

// ParseHealthEvent reads an EventBridge event and checks it is an
// AWS_RISK_CREDENTIALS_EXPOSED event naming at least one access key ID.
// Every refusal wraps ErrBadHealthEvent and fits on one line.
func ParseHealthEvent(data []byte) (*HealthEvent, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadHealthEvent}, args...)...)
	}
	if len(data) > MaxHealthEventSize {
		return nil, bad("%d bytes, more than EventBridge's %d", len(data), MaxHealthEventSize)
	}
	var raw rawHealthEvent
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, bad("invalid JSON: %s", oneLine(err.Error()))
	}
	switch {
	case raw.Source != HealthEventSource:
		return nil, bad("source is %q, not %q", clip(raw.Source), HealthEventSource)
	case raw.DetailType != HealthEventDetailType:
		return nil, bad("detail-type is %q, not %q", clip(raw.DetailType), HealthEventDetailType)
	case raw.Detail == nil:
		return nil, bad("no detail")
	case raw.Detail.EventTypeCode != ExposedKeyEventType:
		return nil, bad("detail.eventTypeCode is %q", clip(raw.Detail.EventTypeCode))
	case !isAccountID(raw.Account):
		return nil, bad("account %q is not a 12-digit account ID", clip(raw.Account))
	case len(raw.Detail.AffectedEntities) == 0:
		return nil, bad("detail.affectedEntities is empty: no key ID")
	case len(raw.Detail.AffectedEntities) > maxAffectedEntities:
		return nil, bad("%d affected entities, more than %d", len(raw.Detail.AffectedEntities), maxAffectedEntities)
	}
	ev := &HealthEvent{ID: raw.ID, Account: raw.Account, Region: raw.Region, Time: raw.Time,
		EventARN: raw.Detail.EventARN, StartTime: raw.Detail.StartTime}
	seen := map[string]bool{}
	for i, e := range raw.Detail.AffectedEntities {
		id := strings.TrimSpace(e.EntityValue)
		if !patterns.IsKeyIDShape([]byte(id)) || patterns.KindOf(id) != patterns.LongTerm {
			return nil, bad("detail.affectedEntities[%d].entityValue %q is not a long-term access key ID", i, clip(id))
		}
		if !seen[id] {
			seen[id] = true
			ev.KeyIDs = append(ev.KeyIDs, id)
		}
	}
	for _, d := range raw.Detail.EventDescription {
		if ev.Description == "" || d.Language == "en_US" {
			ev.Description = oneLine(d.LatestDescription)
		}
	}
	return ev, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// clip shortens a value quoted in an error, so an error stays one line of
// reasonable length whatever the input holds.
func clip(s string) string {
	s = oneLine(s)
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}

// maxQuoted bounds a value quoted in a refusal: enough to recognise it,
// short enough that a hostile event cannot flood the terminal or a log.
const maxQuoted = 64

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
