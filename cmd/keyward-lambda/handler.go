package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyward/keyward/responder"
)

// Environment variables the deployment sets (deploy/aws/keyward.yaml).
const (
	envBucket     = "KEYWARD_REPORT_BUCKET"
	envTopic      = "KEYWARD_TOPIC_ARN"
	envAssumeRole = "KEYWARD_ASSUME_ROLE"
	envRegions    = "KEYWARD_REGIONS"
	envWait       = "KEYWARD_PROPAGATION_WAIT"
)

// reportPrefix is where incident reports go in the bucket.
const reportPrefix = "incidents/"

// handler is the function's state between invocations.
type handler struct {
	cfg        aws.Config
	bucket     string
	topic      string
	assumeRole responder.RoleTemplate
	wait       time.Duration
	options    responder.Options
	// s3Options adjust the S3 client (path-style addressing for the
	// emulator in tests).
	s3Options []func(*s3.Options)
}

// configFromEnv builds the handler from the function's environment.
func configFromEnv(getenv func(string) string, cfg aws.Config) (*handler, error) {
	h := &handler{cfg: cfg, bucket: getenv(envBucket), topic: getenv(envTopic), wait: responder.DefaultPropagationWait}
	if h.bucket == "" || h.topic == "" {
		return nil, fmt.Errorf("%s and %s must be set", envBucket, envTopic)
	}
	if t := getenv(envAssumeRole); t != "" {
		h.assumeRole = responder.RoleTemplate(t)
		if err := h.assumeRole.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", envAssumeRole, err)
		}
	}
	if r := getenv(envRegions); r != "" {
		h.options.Regions = strings.Split(r, ",")
	}
	if w := getenv(envWait); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%s: %q is not a duration", envWait, w)
		}
		h.wait = d
	}
	if h.cfg.Region == "" {
		h.cfg.Region = responder.DefaultRegion
	}
	h.cfg.AppID = responder.UserAgentMarker
	return h, nil
}

// journalPrefix is where the per-key journals live in the bucket.
const journalPrefix = "journals/"

// journalCopy is a key's journal, copied from the bucket to a private
// temporary directory for the run and back after it.
type journalCopy struct {
	dir, path, key, keyID string
}

func (j *journalCopy) open(keyID string) (*responder.Journal, error) {
	return responder.OpenJournal(j.path, keyID)
}

func (j *journalCopy) remove() { os.RemoveAll(j.dir) }

// objectName names a key's objects by a digest of its ID, so no listing of
// the bucket (or summary quoting a name) spells the key ID out.
func objectName(keyID string) string {
	sum := sha256.Sum256([]byte(keyID))
	return hex.EncodeToString(sum[:6])
}

func (h *handler) loadJournal(ctx context.Context, account, keyID string) (*journalCopy, error) {
	dir, err := os.MkdirTemp("", "keyward-journal-")
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &journalCopy{dir: dir, path: filepath.Join(dir, "journal.json"), key: journalPrefix + account + "/" + objectName(keyID) + ".json", keyID: keyID}
	out, err := s3.NewFromConfig(h.cfg, h.s3Options...).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.bucket), Key: aws.String(j.key)})
	var nsk *s3types.NoSuchKey
	switch {
	case errors.As(err, &nsk):
		return j, nil // the first response to this key
	case err != nil:
		j.remove()
		return nil, fmt.Errorf("read journal s3://%s/%s: %w", h.bucket, j.key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxJournal+1))
	if err == nil && len(data) > maxJournal {
		err = fmt.Errorf("larger than %d bytes", maxJournal)
	}
	if err == nil {
		err = os.WriteFile(j.path, data, 0o600)
	}
	if err != nil {
		j.remove()
		return nil, fmt.Errorf("read journal s3://%s/%s: %w", h.bucket, j.key, err)
	}
	return j, nil
}

// maxJournal bounds a journal read back from the bucket.
const maxJournal = 8 << 20

func (h *handler) saveJournal(ctx context.Context, j *journalCopy) error {
	data, err := os.ReadFile(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("save journal: %w", err)
	}
	_, err = s3.NewFromConfig(h.cfg, h.s3Options...).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(h.bucket), Key: aws.String(j.key),
		Body: bytes.NewReader(data), ContentType: aws.String("application/json")})
	if err != nil {
		return fmt.Errorf("save journal s3://%s/%s: %w", h.bucket, j.key, err)
	}
	return nil
}

// KeyOutcome is one key's result in the function's answer.
type KeyOutcome struct {
	KeyID   string `json:"key_id"`
	Account string `json:"account"`
	Outcome string `json:"outcome"`
	Report  string `json:"report,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Summary is the function's answer, also visible in its logs.
type Summary struct {
	Event string       `json:"event"`
	Keys  []KeyOutcome `json:"keys"`
}

// ErrNotContained is returned when any key was not contained, so the
// invocation counts as failed (CloudWatch metrics, alarms, the
// EventBridge target's retries and dead-letter queue) and never as a
// silent success.
var ErrNotContained = errors.New("not every key was contained")

// RecheckRequest is the payload that re-checks an earlier response after
// CloudTrail's delivery delay: the original event, wrapped.
type RecheckRequest struct {
	Recheck bool            `json:"keyward_recheck"`
	Event   json.RawMessage `json:"event"`
}

// Handle responds to one EventBridge event, or re-checks one (a
// RecheckRequest). An invocation fails unless every key is contained or
// awaiting its re-check, so a failure is never a silent success.
func (h *handler) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	opts := h.options
	var rr RecheckRequest
	if json.Unmarshal(raw, &rr) == nil && rr.Recheck {
		raw, opts.Recheck = rr.Event, true
	}
	ev, err := responder.ParseHealthEvent(raw)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Event: ev.EventARN}
	hr := &responder.HealthResponder{Config: h.cfg, Validator: &responder.Validator{Endpoint: endpointOf(h.cfg)},
		Options: opts, AssumeRole: h.assumeRole, PropagationWait: h.wait}
	var failed []string
	for _, id := range ev.KeyIDs {
		ko := h.respond(ctx, hr, ev, raw, id)
		sum.Keys = append(sum.Keys, ko)
		if ko.Outcome != responder.OutcomeContained && ko.Outcome != responder.OutcomeAwaitingRecheck {
			failed = append(failed, redactKey(id)+": "+ko.Outcome)
		}
	}
	if len(failed) > 0 {
		return sum, fmt.Errorf("%w: %s", ErrNotContained, strings.Join(failed, "; "))
	}
	return sum, nil
}

func (h *handler) respond(ctx context.Context, hr *responder.HealthResponder, ev *responder.HealthEvent, raw []byte, id string) KeyOutcome {
	ko := KeyOutcome{KeyID: id}
	t, err := hr.Target(ctx, id)
	ko.Account = t.KeyAccount
	var inc *responder.Incident
	var recheckAfter time.Time
	if err == nil {
		// The journal lives in the bucket: an invocation's /tmp does not
		// outlast it, and the re-check must continue this response.
		var j *journalCopy
		if j, err = h.loadJournal(ctx, t.KeyAccount, id); err == nil {
			defer j.remove()
			one := *hr
			one.Journal = j.open
			var res *responder.Result
			res, err = one.Respond(ctx, t)
			inc = res.Incident
			recheckAfter = inc.Facts.RecheckAfter
			if serr := h.saveJournal(ctx, j); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}
	if inc == nil {
		now := time.Now().UTC()
		inc = &responder.Incident{KeyID: id, Started: now, Finished: now, Mode: "execute (AWS Health event, no secret)",
			Outcome: responder.OutcomeIncomplete, Error: err.Error(), ManualChecks: responder.ManualChecks}
	}
	inc.Locations = []responder.Location{{Path: "AWS Health event " + ev.EventARN + ": " + ev.Description, Date: ev.Time}}
	ko.Outcome = inc.Outcome
	if err != nil {
		ko.Error = err.Error()
	}
	var errs []error
	key, werr := h.writeReport(ctx, inc, ko.Account)
	if werr != nil {
		errs = append(errs, werr)
	} else {
		ko.Report = "s3://" + h.bucket + "/" + key
	}
	if perr := h.publish(ctx, ev, ko, inc, recheckAfter); perr != nil {
		errs = append(errs, perr)
	}
	if len(errs) > 0 {
		// The response ran, but nobody may learn of it: not a success.
		ko.Error = strings.TrimPrefix(ko.Error+"; "+errors.Join(errs...).Error(), "; ")
		if ko.Outcome == responder.OutcomeContained {
			ko.Outcome = responder.OutcomeContained + ", but not reported"
		}
	}
	return ko
}

// writeReport puts the incident report, JSON and Markdown, in the bucket,
// encrypted at rest (SSE-KMS with the bucket's key is set on the bucket by
// the template; the request asks for encryption too).
func (h *handler) writeReport(ctx context.Context, inc *responder.Incident, account string) (string, error) {
	if account == "" {
		account = "unknown-account"
	}
	inc.Version = responder.ReportVersion
	js, err := json.MarshalIndent(inc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	// The object's name goes into the summary: it names the key by a
	// digest, not by its ID.
	base := reportPrefix + account + "/" + inc.Started.UTC().Format("20060102T150405Z") + "-" + objectName(inc.KeyID)
	client := s3.NewFromConfig(h.cfg, h.s3Options...)
	for _, o := range []struct {
		key, ctype string
		body       []byte
	}{{base + ".json", "application/json", js}, {base + ".md", "text/markdown", []byte(inc.Markdown())}} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(h.bucket), Key: aws.String(o.key),
			Body: bytes.NewReader(o.body), ContentType: aws.String(o.ctype)}); err != nil {
			return "", fmt.Errorf("write report s3://%s/%s: %w", h.bucket, o.key, err)
		}
	}
	return base + ".json", nil
}

// publish sends the redacted summary: the outcome, the account, what
// remains, and where the full report is. The key ID is shortened and no
// user, role or IP from the investigation is included: SNS fans out to
// e-mail and chat, which are not the place for incident details.
func (h *handler) publish(ctx context.Context, ev *responder.HealthEvent, ko KeyOutcome, inc *responder.Incident, recheckAfter time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "AWS reported access key %s of account %s as exposed (%s).\n", redactKey(ko.KeyID), ko.Account, responder.ExposedKeyEventType)
	fmt.Fprintf(&b, "keyward's outcome: %s.\n", ko.Outcome)
	for _, s := range inc.Steps {
		fmt.Fprintf(&b, "  %-8s %s\n", s.Status, s.ID)
	}
	if n := len(inc.Remaining); n > 0 {
		fmt.Fprintf(&b, "%d item(s) remain for a human; see the report.\n", n)
	}
	if ko.Report != "" {
		fmt.Fprintf(&b, "Full report: %s\n", ko.Report)
	}
	if ko.Outcome == responder.OutcomeAwaitingRecheck {
		fmt.Fprintf(&b, "CloudTrail delivers events late: this is not an all-clear. After %s re-check by invoking the function with\n  {\"keyward_recheck\": true, \"event\": <the AWS Health event>}\n",
			recheckAfter.UTC().Format(time.RFC3339))
	}
	subject := fmt.Sprintf("keyward: %s: exposed key %s in %s", ko.Outcome, redactKey(ko.KeyID), ko.Account)
	if len(subject) > maxSubject {
		subject = subject[:maxSubject]
	}
	_, err := sns.NewFromConfig(h.cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(h.topic),
		Subject: aws.String(subject), Message: aws.String(b.String())})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", h.topic, err)
	}
	return nil
}

// maxSubject is SNS's limit on a message subject (for e-mail).
const maxSubject = 100

// redactKey keeps a key ID's kind and last four characters: enough to tell
// keys apart in a notification, not enough to look the key up.
func redactKey(id string) string {
	if len(id) < 8 {
		return "****"
	}
	return id[:4] + "…" + id[len(id)-4:]
}

// endpointOf is the STS endpoint the configuration overrides, if any, for
// the validator's offline canary check.
func endpointOf(cfg aws.Config) string {
	return aws.ToString(cfg.BaseEndpoint)
}
