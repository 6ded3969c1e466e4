package awsemu

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body; the responder's requests are a few
// hundred bytes, and a test server must not be made to buffer gigabytes.
const maxBody = 1 << 20

// API versions of the query-protocol services, checked as AWS does.
const (
	stsVersion = "2011-06-15"
	iamVersion = "2010-05-08"
)

// apiError is an AWS error as it goes on the wire.
type apiError struct {
	status    int
	code, msg string
}

// Error implements error.
func (e *apiError) Error() string { return e.code + ": " + e.msg }

var (
	errMissingAuth  = &apiError{403, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	errInvalidToken = &apiError{403, "InvalidClientTokenId", "The security token included in the request is invalid."}
	errExpiredToken = &apiError{403, "ExpiredToken", "The security token included in the request is expired"}
	errSignature    = &apiError{403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
)

func accessDenied(arn, action, resource string) *apiError {
	return &apiError{403, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", arn, action, resource)}
}

// faults are the injected failures.
type faults struct {
	throttle, serverError map[string]int
	pageLimit             map[string]int // action -> most items a page
	drop                  map[string]int // action -> connections to drop after applying
	latency, consistency  time.Duration
}

// DropAfterApply makes the next n successful requests for action (or "*")
// take effect on the server and then lose their answer: the connection is
// closed without a response, as when a network fails after AWS applied a
// call. A client that retries a non-idempotent call such as
// CreateAccessKey then creates a second key.
func (s *Server) DropAfterApply(action string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.drop == nil {
		s.faults.drop = map[string]int{}
	}
	s.faults.drop[action] = n
}

// Advance moves the emulator's clock forward by d (or back, if negative),
// e.g. past CloudTrail's delivery delay, a session's expiry or the
// credential report's four hours, without sleeping. It is time travel that
// the clients are taken to share: requests signed with the real clock are
// still accepted (the 15-minute window is measured without it), while
// everything the emulator stamps, expires or delivers, and its Date header,
// follow the advanced clock.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanced += d
}

// SetClockOffset sets the server's clock to the base clock plus d: a
// server 20 minutes ahead of its clients rejects their requests with
// "Signature expired" unless they correct for the skew from the Date
// header of the emulator's answers, which always carries its own clock.
func (s *Server) SetClockOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = d
}

// Now returns the emulator's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now().UTC()
}

// SetCloudTrailDelay sets how long after a call its event becomes visible
// to LookupEvents (AWS: "within an average of about 5 minutes"); it applies
// to events recorded from then on.
func (s *Server) SetCloudTrailDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctDelay = d
}

// Throttle makes the next n requests for action (an API name such as
// "LookupEvents", or "*" for any) fail with throttling, as AWS does under
// load: Throttling (400) for the query services, ThrottlingException for
// CloudTrail.
func (s *Server) Throttle(action string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.throttle == nil {
		s.faults.throttle = map[string]int{}
	}
	s.faults.throttle[action] = n
}

// FailServer makes the next n requests for action (or "*") fail with a
// 500 InternalFailure.
func (s *Server) FailServer(action string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.serverError == nil {
		s.faults.serverError = map[string]int{}
	}
	s.faults.serverError[action] = n
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// SetConsistencyDelay makes a key status change or deletion reach
// authentication only d after IAM reports it, like IAM's eventual
// consistency.
func (s *Server) SetConsistencyDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.consistency = d
}

func takeFault(m map[string]int, action string) bool {
	for _, k := range []string{action, "*"} {
		if m[k] > 0 {
			m[k]--
			return true
		}
	}
	return false
}

// call is one request in flight.
type call struct {
	r        *http.Request
	form     url.Values
	body     []byte
	service  string // sts, iam, cloudtrail, account
	action   string
	key      *accessKey
	ar       authRequest
	now      time.Time
	reqID    string
	params   map[string]any
	response map[string]any
}

// ServeHTTP routes a request: the Account Management API by its REST-JSON
// path, CloudTrail by X-Amz-Target (JSON 1.1), STS and IAM by the form's
// Action and Version (query protocol).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	s.mu.Lock()
	lat := s.faults.latency
	s.mu.Unlock()
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return
		}
	}

	c := &call{r: r, body: body}
	jsonProto, restJSON, restXML := false, false, false
	if isS3(r) {
		restXML = true
		c.service = "s3"
		c.action, _, _ = s3Action(r)
		if c.action == "" {
			c.action = r.Method
		}
	} else if op, ok := accountRoutes[r.URL.Path]; ok && r.Method == http.MethodPost {
		jsonProto, restJSON = true, true
		c.service, c.action = "account", op
	} else if t := r.Header.Get("X-Amz-Target"); t != "" {
		jsonProto = true
		c.service = "cloudtrail"
		_, c.action, _ = strings.Cut(t, ".")
		if i := strings.LastIndex(t, "."); i >= 0 {
			c.action = t[i+1:]
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			s.mu.Lock()
			id := s.requestID()
			s.mu.Unlock()
			writeQueryError(w, id, &apiError{400, "MalformedQueryString", "the form could not be parsed"})
			return
		}
		for k, v := range r.URL.Query() {
			form[k] = append(form[k], v...)
		}
		c.form = form
		c.action = form.Get("Action")
		switch form.Get("Version") {
		case stsVersion:
			c.service = "sts"
		case iamVersion:
			c.service = "iam"
		case snsVersion:
			c.service = "sns"
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c.now = s.now().UTC()
	c.reqID = s.requestID()
	// The Date header is the server's clock, which a client uses to
	// correct its own skew; net/http would otherwise send the host's.
	w.Header().Set("Date", c.now.Format(http.TimeFormat))
	writeErr := func(e *apiError) {
		if restXML {
			if e == errMissingAuth {
				e = &apiError{403, "AccessDenied", "Access Denied"} // S3 treats it as an anonymous request
			}
			writeS3Error(w, r, c.reqID, e)
		} else if restJSON {
			writeRESTJSONError(w, c.reqID, e)
		} else if jsonProto {
			writeJSONError(w, c.reqID, e)
		} else {
			writeQueryError(w, c.reqID, e)
		}
	}
	if c.service == "" || c.action == "" {
		writeErr(&apiError{400, "InvalidAction", "Could not find operation " + c.action})
		return
	}
	if takeFault(s.faults.throttle, c.action) {
		code := "Throttling"
		if restJSON {
			code = "TooManyRequestsException"
		} else if jsonProto {
			code = "ThrottlingException"
		}
		writeErr(&apiError{400, code, "Rate exceeded"})
		return
	}
	if takeFault(s.faults.serverError, c.action) {
		writeErr(&apiError{500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."})
		return
	}
	key, ar, aerr := s.authenticate(r, body)
	if aerr != nil {
		writeErr(aerr)
		return
	}
	c.key, c.ar = key, ar
	if ar.service != c.service {
		writeErr(&apiError{403, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '" + c.service + "'."})
		return
	}
	if c.service == "cloudtrail" && !s.regionUsable(key.account, ar.region) {
		// A disabled opt-in region does not know the account's credentials.
		writeErr(&apiError{403, "UnrecognizedClientException", "The security token included in the request is invalid."})
		return
	}
	s.calls[c.action]++
	if !key.temporary {
		key.lastUsed, key.lastService, key.lastRgn = c.now, c.service, ar.region
	}

	if c.service == "s3" {
		// S3 answers in its own shape and keeps no event history here.
		w.Header().Set("X-Amz-Request-Id", c.reqID)
		if aerr := s.serveS3(c, w); aerr != nil {
			writeErr(aerr)
		}
		return
	}
	var (
		out   string
		jsOut any
	)
	switch c.service {
	case "sts":
		out, aerr = s.serveSTS(c)
	case "iam":
		out, aerr = s.serveIAM(c)
	case "cloudtrail":
		jsOut, aerr = s.serveCloudTrail(c)
	case "account":
		jsOut, aerr = s.serveAccount(c)
	case "sns":
		out, aerr = s.serveSNS(c)
	}
	if c.action != "Publish" {
		s.record(c, aerr) // Publish is a data event, not in event history
	}
	if aerr != nil {
		writeErr(aerr)
		return
	}
	if takeFault(s.faults.drop, c.action) {
		// Applied, recorded, and then the answer is lost.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream
	}
	if jsonProto {
		b, err := json.Marshal(jsOut)
		if err != nil {
			writeErr(&apiError{500, "InternalFailure", "encode answer"})
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if restJSON {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("X-Amzn-RequestId", c.reqID)
		w.Write(b)
		return
	}
	ns := "https://sts.amazonaws.com/doc/" + stsVersion + "/"
	switch c.service {
	case "iam":
		ns = "https://iam.amazonaws.com/doc/" + iamVersion + "/"
	case "sns":
		ns = "http://sns.amazonaws.com/doc/" + snsVersion + "/"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", c.reqID)
	fmt.Fprintf(w, `<%sResponse xmlns="%s">`, c.action, ns)
	if out != "" {
		fmt.Fprintf(w, "<%sResult>%s</%sResult>", c.action, out, c.action)
	}
	fmt.Fprintf(w, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", c.reqID, c.action)
}

func writeQueryError(w http.ResponseWriter, reqID string, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		typ, esc(e.code), esc(e.msg), reqID)
}

func writeJSONError(w http.ResponseWriter, reqID string, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	b, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.msg})
	w.Write(b)
}

// writeRESTJSONError writes an error as REST-JSON services do: the code in
// X-Amzn-ErrorType, the message in the body.
func writeRESTJSONError(w http.ResponseWriter, reqID string, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	b, _ := json.Marshal(map[string]string{"message": e.msg})
	w.Write(b)
}

// esc escapes text for XML.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// el is one XML element with escaped text.
func el(name, text string) string { return "<" + name + ">" + esc(text) + "</" + name + ">" }

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
