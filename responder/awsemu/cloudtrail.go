package awsemu

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CloudTrail's LookupEvents limits (CloudTrail API Reference).
const (
	lookupMaxResults = 50
	lookupRetention  = 90 * 24 * time.Hour
)

// globalRegion is where CloudTrail records IAM events: us-east-1, or the
// partition's first region.
func (s *Server) globalRegion() string {
	switch s.partition {
	case "aws-us-gov":
		return "us-gov-west-1"
	case "aws-cn":
		return "cn-north-1"
	}
	return "us-east-1"
}

type event struct {
	id, name, source, region string
	at                       time.Time
	visible                  time.Time // at plus the delivery delay
	account, accessKeyID     string
	username                 string
	sourceIP, userAgent      string
	readOnly                 bool
	errCode, errMsg          string
	reqID                    string
	identity                 map[string]any
	params, response         map[string]any
}

// record adds an authenticated call, successful or not, to the history.
func (s *Server) record(c *call, aerr *apiError) {
	if c.key == nil {
		return
	}
	k := c.key
	arn, principal := s.principalOf(k)
	ident := map[string]any{"arn": arn, "principalId": principal, "accountId": k.account, "accessKeyId": k.id}
	username := k.user
	switch {
	case k.root || (k.temporary && k.roleName == "" && s.keys[k.parent] != nil && s.keys[k.parent].root):
		ident["type"], username = "Root", "root"
	case k.federated:
		ident["type"], username = "FederatedUser", k.sessionName
		ident["sessionContext"] = map[string]any{"sessionIssuer": map[string]any{
			"type": "IAMUser", "userName": k.user, "arn": s.userARN(k.account, k.user)}}
	case k.roleName != "":
		ident["type"], username = "AssumedRole", k.roleName
		ident["sessionContext"] = map[string]any{"sessionIssuer": map[string]any{
			"type": "Role", "userName": k.roleName, "arn": s.roleARN(k.account, k.roleName)}}
	default:
		ident["type"], ident["userName"] = "IAMUser", k.user
	}
	if k.temporary {
		sc, _ := ident["sessionContext"].(map[string]any)
		if sc == nil {
			sc = map[string]any{}
		}
		sc["attributes"] = map[string]any{"creationDate": isoTime(k.issued), "mfaAuthenticated": strconv.FormatBool(k.mfa)}
		ident["sessionContext"] = sc
	}
	// IAM is global and logs in us-east-1; STS now logs in the region of
	// the endpoint the caller signed for, CloudTrail in its own.
	region := s.globalRegion()
	if c.service != "iam" && c.ar.region != "" {
		region = c.ar.region
	}
	e := &event{
		name: c.action, source: c.service + ".amazonaws.com", region: region, at: c.now, visible: c.now.Add(s.ctDelay),
		account: k.account, accessKeyID: k.id, username: username,
		sourceIP: sourceIP(c.r), userAgent: c.r.Header.Get("User-Agent"),
		readOnly: strings.HasPrefix(c.action, "Get") || strings.HasPrefix(c.action, "List") || strings.HasPrefix(c.action, "Lookup"),
		reqID:    c.reqID, identity: ident, params: c.params, response: c.response,
	}
	if aerr != nil {
		e.errCode, e.errMsg, e.response = aerr.code, aerr.msg, nil
	}
	sum := sha256.Sum256([]byte(c.reqID + c.action))
	h := hex.EncodeToString(sum[:16])
	e.id = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	s.events = append(s.events, e)
	// A cross-account AssumeRole is logged in the role's account too, the
	// only place that account's owner can see it.
	if c.action == "AssumeRole" && aerr == nil {
		if acct, _, ok := s.parseRoleARN(c.form.Get("RoleArn")); ok && acct != k.account {
			other := *e
			other.account = acct
			sum := sha256.Sum256([]byte(c.reqID + c.action + acct))
			h := hex.EncodeToString(sum[:16])
			other.id = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
			s.events = append(s.events, &other)
		}
	}
}

// EventInfo is one recorded call as a test sees it, whether or not
// LookupEvents shows it yet.
type EventInfo struct {
	Name, Source, Region string
	RequestID            string // the x-amzn-RequestId the caller got
	AccessKeyID          string
	Time, Visible        time.Time // when it happened; when LookupEvents shows it
	ErrorCode            string
	ReadOnly             bool // Get*, List*, Lookup*: a dry run makes only these
	Account              string
	UserAgent, SourceIP  string
}

// EventLog returns every recorded call of keyID ("" for all), oldest
// first.
func (s *Server) EventLog(keyID string) []EventInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []EventInfo
	for _, e := range s.events {
		if keyID == "" || e.accessKeyID == keyID {
			out = append(out, EventInfo{Name: e.name, Source: e.source, Region: e.region, RequestID: e.reqID,
				AccessKeyID: e.accessKeyID, Time: e.at, Visible: e.visible, ErrorCode: e.errCode,
				ReadOnly: e.readOnly, Account: e.account, UserAgent: e.userAgent, SourceIP: e.sourceIP})
		}
	}
	return out
}

// Events returns the names of the events the history holds for keyID, for tests.
func (s *Server) Events(keyID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		if e.accessKeyID == keyID {
			out = append(out, e.name)
		}
	}
	return out
}

type lookupRequest struct {
	LookupAttributes []struct {
		AttributeKey   string
		AttributeValue string
	}
	StartTime  *float64
	EndTime    *float64
	MaxResults *int
	NextToken  *string
}

func (s *Server) serveCloudTrail(c *call) (any, *apiError) {
	if c.action != "LookupEvents" {
		return nil, &apiError{400, "UnknownOperationException", "Unknown operation " + c.action}
	}
	if err := s.authorize(c, "cloudtrail:LookupEvents", "*"); err != nil {
		return nil, err
	}
	var req lookupRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		return nil, &apiError{400, "SerializationException", "could not parse request"}
	}
	c.params = map[string]any{"lookupAttributes": req.LookupAttributes}
	if len(req.LookupAttributes) > 1 {
		return nil, &apiError{400, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."}
	}
	max := lookupMaxResults
	if req.MaxResults != nil {
		max = *req.MaxResults
		if max < 1 || max > lookupMaxResults {
			return nil, &apiError{400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50."}
		}
	}
	start, end := c.now.Add(-lookupRetention), c.now
	if req.StartTime != nil {
		start = epoch(*req.StartTime)
	}
	if req.EndTime != nil {
		end = epoch(*req.EndTime)
	}
	if start.After(end) {
		return nil, &apiError{400, "InvalidTimeRangeException", "StartTime must be before EndTime."}
	}
	attrKey, attrVal := "", ""
	if len(req.LookupAttributes) == 1 {
		attrKey, attrVal = req.LookupAttributes[0].AttributeKey, req.LookupAttributes[0].AttributeValue
	}
	filter := fmt.Sprintf("%s|%s|%s=%s|%v|%v", c.key.account, c.ar.region, attrKey, attrVal, ptrVal(req.StartTime), ptrVal(req.EndTime))
	// The token is the absolute index of the next event to consider: the
	// history only grows at the end, so paging stays stable while new
	// events arrive, as CloudTrail's does.
	from := len(s.events) - 1
	if req.NextToken != nil {
		var ok bool
		if from, ok = parseNextToken(*req.NextToken, filter); !ok || from >= len(s.events) {
			return nil, &apiError{400, "InvalidNextTokenException", "Invalid NextToken."}
		}
	}
	oldest := c.now.Add(-lookupRetention)
	list := []any{}
	out := map[string]any{}
	for i := from; i >= 0; i-- {
		e := s.events[i]
		if e.account != c.key.account || e.region != c.ar.region || e.at.Before(start) || e.at.After(end) || e.at.Before(oldest) ||
			e.visible.After(c.now) {
			continue
		}
		if attrKey != "" && !e.has(attrKey, attrVal) {
			continue
		}
		if len(list) == max {
			out["NextToken"] = nextToken(i, filter)
			break
		}
		list = append(list, e.lookupView())
	}
	out["Events"] = list
	return out, nil
}

func (e *event) has(key, val string) bool {
	switch key {
	case "AccessKeyId":
		return e.accessKeyID == val
	case "EventName":
		return e.name == val
	case "Username":
		return e.username == val
	case "EventSource":
		return e.source == val
	case "EventId":
		return e.id == val
	case "ReadOnly":
		return strconv.FormatBool(e.readOnly) == val
	}
	return false
}

func (e *event) lookupView() map[string]any {
	full := map[string]any{
		"eventVersion": "1.08", "userIdentity": e.identity, "eventTime": isoTime(e.at),
		"eventSource": e.source, "eventName": e.name, "awsRegion": e.region,
		"sourceIPAddress": e.sourceIP, "userAgent": e.userAgent,
		"requestParameters": e.params, "responseElements": e.response,
		"requestID": e.reqID, "eventID": e.id, "readOnly": e.readOnly,
		"eventType": "AwsApiCall", "recipientAccountId": e.account,
	}
	if e.errCode != "" {
		full["errorCode"], full["errorMessage"] = e.errCode, e.errMsg
	}
	raw, _ := json.Marshal(full)
	return map[string]any{
		"EventId": e.id, "EventName": e.name, "ReadOnly": strconv.FormatBool(e.readOnly),
		"AccessKeyId": e.accessKeyID, "EventTime": float64(e.at.UnixMilli()) / 1000,
		"EventSource": e.source, "Username": e.username, "Resources": []any{},
		"CloudTrailEvent": string(raw),
	}
}

func ptrVal(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

func epoch(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}

// nextToken binds an offset to the query it pages, so a token cannot be
// replayed against a different filter, as CloudTrail's cannot.
func nextToken(offset int, filter string) string {
	sum := sha256.Sum256([]byte(filter))
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + hex.EncodeToString(sum[:8])))
}

func parseNextToken(tok, filter string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	off, h, ok := strings.Cut(string(raw), ":")
	sum := sha256.Sum256([]byte(filter))
	if !ok || h != hex.EncodeToString(sum[:8]) {
		return 0, false
	}
	n, err := strconv.Atoi(off)
	return n, err == nil && n >= 0
}
