package responder

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// lookupPageSize is LookupEvents' maximum page.
const lookupPageSize = 50

// maxDerivedKeys bounds how many keys minted or created by the leaked key
// are followed (Options.MaxKeysFollowed), so a key that minted thousands of
// sessions cannot make the investigation run for days. Keys past it are
// counted in Trail.Unfollowed, which keeps the outcome from being
// "contained": what they did is unknown.
const maxDerivedKeys = 100

// TrailEvent is one CloudTrail event, reduced to what the report needs.
type TrailEvent struct {
	Time        time.Time `json:"time"`
	Name        string    `json:"event_name"`
	Source      string    `json:"event_source"`
	Region      string    `json:"region"`
	AccessKeyID string    `json:"access_key_id"`
	SourceIP    string    `json:"source_ip,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
	ErrorCode   string    `json:"error_code,omitempty"`
	EventID     string    `json:"event_id"`
	RequestID   string    `json:"request_id,omitempty"`
	// Responder marks the calls this tool made itself, recognised by the
	// request IDs it recorded, never by the user agent, which the attacker
	// controls (AWS_SDK_UA_APP_ID).
	Responder bool `json:"responder,omitempty"`
	// CallerUser is the IAM user of the caller, and Params the parameters
	// of a change event (persistence).
	CallerUser string        `json:"caller_user,omitempty"`
	Params     *changeParams `json:"params,omitempty"`
}

// Trail summarises what CloudTrail showed.
type Trail struct {
	Regions      []string       `json:"regions_searched"`
	Since        time.Time      `json:"since"`
	Until        time.Time      `json:"until"`
	KeysFollowed []string       `json:"keys_followed"`
	DerivedKeys  []string       `json:"derived_keys,omitempty"`
	RolesAssumed []string       `json:"roles_assumed,omitempty"`
	EventNames   map[string]int `json:"event_names"`
	EventRegions map[string]int `json:"event_regions"`
	SourceIPs    []string       `json:"source_ips"`
	UserAgents   []string       `json:"user_agents"`
	Errors       map[string]int `json:"errors,omitempty"`
	First        time.Time      `json:"first_use,omitzero"`
	Last         time.Time      `json:"last_use,omitzero"`
	Events       []TrailEvent   `json:"events"`
	Truncated    bool           `json:"truncated,omitempty"`
	// Unfollowed counts the keys minted or created by the leaked key that
	// were not investigated because of the limit (maxDerivedKeys).
	Unfollowed int `json:"unfollowed_keys,omitempty"`
	// CreatedKeys are access keys the leaked key or a credential derived
	// from it created; each is investigated like the leaked key.
	CreatedKeys []string `json:"created_keys,omitempty"`
	// Changes are the successful change events (persistence), kept in full
	// however many events there are.
	Changes []TrailEvent `json:"changes,omitempty"`
	// RegionSource and RegionsWhy say where Regions came from, and why the
	// built-in list stood in for the account's own when it did.
	RegionSource RegionSource `json:"region_source,omitempty"`
	RegionsWhy   string       `json:"regions_why,omitempty"`
}

// UserAgentMarker is the application ID keyward's SDK clients send. It
// helps a human reading CloudTrail, but keyward itself never trusts it: an
// attacker can send it too.
const UserAgentMarker = "keyward-responder"

// investigate looks up every event of keyID in every enabled region (see
// resolveRegions) over the lookback, then follows each ASIA key it minted
// and each access key it created, recursively. x tells keyward's own calls
// apart by their request IDs.
func (r *Runner) investigate(ctx context.Context, x *Execution, keyID string, res *StepResult) (*Trail, error) {
	rs, err := r.resolveRegions(ctx)
	if err != nil {
		return nil, err
	}
	// CloudTrail stamps events with AWS's clock: with a local clock minutes
	// behind, an end taken from it would cut off the latest events. The
	// end is AWS's time (the Date header of an operator call), or the
	// local clock when AWS sends none, whichever is later. LookupEvents
	// takes whole milliseconds: round the end up to the next second so an
	// event of the last instant (keyward's own validation) is not cut off.
	now := r.now()
	if x != nil {
		if aws, fromAWS := x.serverNow(ctx); fromAWS && aws.After(now) {
			now = aws
		}
	}
	now = now.Truncate(time.Second).Add(time.Second)
	t := &Trail{Regions: rs.Regions, RegionSource: rs.Source, RegionsWhy: rs.Why, Since: now.Add(-r.lookback()), Until: now,
		EventNames: map[string]int{}, EventRegions: map[string]int{}, Errors: map[string]int{}}
	ips, agents := map[string]bool{}, map[string]bool{}
	roles := map[string]bool{}
	queue := []string{keyID}
	seen := map[string]bool{keyID: true}
	limit := r.MaxKeysFollowed
	if limit <= 0 {
		limit = maxDerivedKeys
	}
	// follow queues k for investigation once, up to the limit; past it k
	// is counted as unfollowed.
	follow := func(k string) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		if len(seen) > limit+1 {
			t.Unfollowed++
			return false
		}
		queue = append(queue, k)
		return true
	}
	interval := r.LookupInterval
	if interval <= 0 {
		interval = defaultLookupInterval
	}
	lastCall := map[string]time.Time{}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		t.KeysFollowed = append(t.KeysFollowed, id)
		for _, region := range t.Regions {
			client := cloudtrail.NewFromConfig(r.cfg(), func(o *cloudtrail.Options) { o.Region = region })
			var token *string
			for {
				// At most 2 requests per second per region.
				if wait := interval - time.Since(lastCall[region]); wait > 0 {
					if err := sleep(ctx, wait); err != nil {
						return t, err
					}
				}
				out, err := r.lookup(ctx, client, id, t.Since, t.Until, token)
				lastCall[region] = time.Now()
				if err != nil {
					return t, denied(err, StepInvestigate, "cloudtrail:LookupEvents", "*")
				}
				for _, ev := range out.Events {
					te, derived, role := parseEvent(ev, region)
					te.Responder = x != nil && x.isOwn(te.RequestID)
					if te.Params != nil && te.ErrorCode == "" && !te.Responder {
						t.Changes = append(t.Changes, te)
						if k := te.Params.CreatedKeyID; k != "" && follow(k) {
							t.CreatedKeys = append(t.CreatedKeys, k)
						}
					}
					if te.Responder {
						derived, role = "", ""
					}
					if len(t.Events) < maxTrailEvents {
						t.Events = append(t.Events, te)
					} else {
						t.Truncated = true
					}
					t.EventNames[te.Name]++
					t.EventRegions[te.Region]++
					if te.ErrorCode != "" {
						t.Errors[te.ErrorCode]++
					}
					if !te.Responder {
						if te.SourceIP != "" {
							ips[te.SourceIP] = true
						}
						if te.UserAgent != "" {
							agents[te.UserAgent] = true
						}
					}
					if !te.Responder && (t.First.IsZero() || te.Time.Before(t.First)) {
						t.First = te.Time
					}
					if !te.Responder && te.Time.After(t.Last) {
						t.Last = te.Time
					}
					if derived != "" && follow(derived) {
						t.DerivedKeys = append(t.DerivedKeys, derived)
					}
					if role != "" {
						roles[role] = true
					}
				}
				if out.NextToken == nil || *out.NextToken == "" {
					break
				}
				token = out.NextToken
			}
		}
	}
	t.SourceIPs, t.UserAgents, t.RolesAssumed = keys(ips), keys(agents), keys(roles)
	sort.Slice(t.Events, func(i, j int) bool { return t.Events[i].Time.After(t.Events[j].Time) })
	return t, nil
}

// lookup makes one LookupEvents call, retrying throttling beyond the SDK's
// own retries with a growing pause.
func (r *Runner) lookup(ctx context.Context, client *cloudtrail.Client, id string, since, until time.Time, token *string) (*cloudtrail.LookupEventsOutput, error) {
	attempts := r.LookupAttempts
	if attempts <= 0 {
		attempts = defaultLookupAttempts
	}
	pause := r.LookupInterval
	if pause <= 0 {
		pause = defaultLookupInterval
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := sleep(ctx, pause); err != nil {
				return nil, err
			}
			pause *= 2
		}
		out, err := client.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(id)}},
			StartTime:        aws.Time(since),
			EndTime:          aws.Time(until),
			MaxResults:       aws.Int32(lookupPageSize),
			NextToken:        token,
		})
		if err == nil {
			return out, nil
		}
		lastErr = err
		// LookupEvents reads only, so a dropped connection is retried too.
		if !isCode(err, "ThrottlingException", "Throttling", "TooManyRequestsException") && !isServerError(err) && !isConnectionError(err) {
			return nil, err
		}
	}
	return nil, lastErr
}

// cloudTrailRecord is the part of a CloudTrailEvent document the report
// uses.
type cloudTrailRecord struct {
	EventTime         string `json:"eventTime"`
	EventName         string `json:"eventName"`
	EventSource       string `json:"eventSource"`
	AWSRegion         string `json:"awsRegion"`
	SourceIPAddress   string `json:"sourceIPAddress"`
	UserAgent         string `json:"userAgent"`
	ErrorCode         string `json:"errorCode"`
	RequestID         string `json:"requestID"`
	RequestParameters struct {
		RoleArn string `json:"roleArn"`
	} `json:"requestParameters"`
	ResponseElements struct {
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
	} `json:"responseElements"`
}

// parseEvent reduces an event and returns the ASIA key it minted and the
// role it assumed, if any.
func parseEvent(ev cttypes.Event, region string) (TrailEvent, string, string) {
	te := TrailEvent{
		Name: aws.ToString(ev.EventName), Source: aws.ToString(ev.EventSource), Region: region,
		AccessKeyID: aws.ToString(ev.AccessKeyId), EventID: aws.ToString(ev.EventId),
		Time: aws.ToTime(ev.EventTime).UTC(),
	}
	var rec cloudTrailRecord
	if ev.CloudTrailEvent == nil || json.Unmarshal([]byte(*ev.CloudTrailEvent), &rec) != nil {
		return te, "", ""
	}
	if rec.AWSRegion != "" {
		te.Region = rec.AWSRegion
	}
	te.SourceIP, te.UserAgent, te.ErrorCode, te.RequestID = rec.SourceIPAddress, rec.UserAgent, rec.ErrorCode, rec.RequestID
	if isChangeEvent(te.Name) {
		p, caller := parseChange(*ev.CloudTrailEvent)
		te.Params, te.CallerUser = &p, caller
	}
	var derived, role string
	if te.ErrorCode == "" && (te.Name == "GetSessionToken" || te.Name == "AssumeRole" || te.Name == "GetFederationToken") {
		if id := rec.ResponseElements.Credentials.AccessKeyID; strings.HasPrefix(id, "ASIA") {
			derived = id
		}
		if te.Name == "AssumeRole" {
			role = rec.RequestParameters.RoleArn
		}
	}
	return te, derived, role
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func errCode(err error) string {
	var pe *PermissionError
	if errors.As(err, &pe) {
		return "AccessDenied"
	}
	if c := apiCode(err); c != "" {
		return c
	}
	return "error"
}
