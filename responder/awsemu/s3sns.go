package awsemu

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Minimal S3 (path-style REST-XML: CreateBucket, HeadBucket, PutObject,
// GetObject, HeadObject) and SNS (query protocol: CreateTopic,
// GetTopicAttributes, Publish), enough for
// the Lambda entry point's test to see that the incident report was written
// and a summary published. Both go through the same SigV4 check and policy
// model as everything else; neither is recorded in CloudTrail's event
// history, which holds management events only (S3 object calls and SNS
// Publish are data events).

const snsVersion = "2010-03-31"

type bucket struct {
	name, account string
	objects       map[string]*object
}

type object struct {
	body        []byte
	contentType string
	etag        string
	modified    time.Time
}

type topic struct {
	arn, account string
	messages     []SNSMessage
}

// SNSMessage is one message published to a topic.
type SNSMessage struct {
	MessageID, Subject, Message string
	Time                        time.Time
}

// isS3 tells an S3 request from the POST-to-/ query services and the
// Account API's paths: its credential scope names s3, or, unsigned, it
// addresses a bucket path with a REST verb.
func isS3(r *http.Request) bool {
	if ar, ok := parseAuthorization(r.Header.Get("Authorization")); ok {
		return ar.service == "s3"
	}
	return r.URL.Path != "/" && r.Method != http.MethodPost
}

// s3Action names the S3 operation of a path-style request.
func s3Action(r *http.Request) (action, bkt, key string) {
	bkt, key, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case key == "" && r.Method == http.MethodPut:
		return "CreateBucket", bkt, ""
	case key == "" && r.Method == http.MethodHead:
		return "HeadBucket", bkt, ""
	case key == "":
		return "", bkt, ""
	case r.Method == http.MethodPut:
		return "PutObject", bkt, key
	case r.Method == http.MethodGet:
		return "GetObject", bkt, key
	case r.Method == http.MethodHead:
		return "HeadObject", bkt, key
	}
	return "", bkt, key
}

func (s *Server) s3ARN(bkt, key string) string {
	if key == "" {
		return "arn:" + s.partition + ":s3:::" + bkt
	}
	return "arn:" + s.partition + ":s3:::" + bkt + "/" + key
}

// serveS3 answers an authenticated S3 request; the returned header and
// body go on the wire as they are.
func (s *Server) serveS3(c *call, w http.ResponseWriter) *apiError {
	action, bname, key := s3Action(c.r)
	iamAction := "s3:" + action
	switch action {
	case "HeadObject":
		iamAction = "s3:GetObject"
	case "HeadBucket":
		iamAction = "s3:ListBucket"
	}
	if action == "" {
		return &apiError{405, "MethodNotAllowed", "The specified method is not allowed against this resource."}
	}
	if err := s.authorize(c, iamAction, s.s3ARN(bname, key)); err != nil {
		return &apiError{403, "AccessDenied", "Access Denied"}
	}
	b := s.buckets[bname]
	if action == "CreateBucket" {
		if b != nil {
			if b.account == c.key.account {
				return &apiError{409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it."}
			}
			return &apiError{409, "BucketAlreadyExists", "The requested bucket name is not available."}
		}
		s.buckets[bname] = &bucket{name: bname, account: c.key.account, objects: map[string]*object{}}
		w.Header().Set("Location", "/"+bname)
		return nil
	}
	if b == nil {
		return &apiError{404, "NoSuchBucket", "The specified bucket does not exist"}
	}
	if b.account != c.key.account {
		return &apiError{403, "AccessDenied", "Access Denied"}
	}
	switch action {
	case "HeadBucket":
		return nil
	case "PutObject":
		sum := md5.Sum(c.body)
		o := &object{body: append([]byte(nil), c.body...), contentType: c.r.Header.Get("Content-Type"),
			etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: c.now}
		b.objects[key] = o
		w.Header().Set("ETag", o.etag)
		return nil
	}
	o, ok := b.objects[key]
	if !ok {
		return &apiError{404, "NoSuchKey", "The specified key does not exist."}
	}
	w.Header().Set("ETag", o.etag)
	w.Header().Set("Last-Modified", o.modified.Format(http.TimeFormat))
	w.Header().Set("Content-Length", fmt.Sprint(len(o.body)))
	if o.contentType != "" {
		w.Header().Set("Content-Type", o.contentType)
	}
	if action == "GetObject" {
		w.WriteHeader(http.StatusOK)
		w.Write(o.body)
	}
	return nil
}

// writeS3Error writes an S3 error: a bare <Error> document (none for
// HEAD) and the request ID in x-amz-request-id.
func writeS3Error(w http.ResponseWriter, r *http.Request, reqID string, e *apiError) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", reqID)
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`,
		esc(e.code), esc(e.msg), reqID)
}

func (s *Server) topicARN(acct, region, name string) string {
	return "arn:" + s.partition + ":sns:" + region + ":" + acct + ":" + name
}

// serveSNS answers the SNS query protocol.
func (s *Server) serveSNS(c *call) (string, *apiError) {
	acct := c.key.account
	switch c.action {
	case "CreateTopic":
		name := c.form.Get("Name")
		arn := s.topicARN(acct, c.ar.region, name)
		if err := s.authorize(c, "sns:CreateTopic", arn); err != nil {
			return "", err
		}
		c.params = map[string]any{"name": name}
		if !validName(name, 256) {
			return "", &apiError{400, "InvalidParameter", "Invalid parameter: Topic Name"}
		}
		if _, ok := s.topics[arn]; !ok {
			s.topics[arn] = &topic{arn: arn, account: acct}
		}
		return el("TopicArn", arn), nil
	case "GetTopicAttributes":
		arn := c.form.Get("TopicArn")
		if err := s.authorize(c, "sns:GetTopicAttributes", arn); err != nil {
			return "", &apiError{403, "AuthorizationError", err.msg}
		}
		t, ok := s.topics[arn]
		if !ok || t.account != acct {
			return "", &apiError{404, "NotFound", "Topic does not exist"}
		}
		out := "<Attributes>"
		for _, kv := range [][2]string{{"TopicArn", arn}, {"Owner", acct}} {
			out += "<entry>" + el("key", kv[0]) + el("value", kv[1]) + "</entry>"
		}
		return out + "</Attributes>", nil
	case "Publish":
		arn := c.form.Get("TopicArn")
		if err := s.authorize(c, "sns:Publish", arn); err != nil {
			return "", &apiError{403, "AuthorizationError", err.msg}
		}
		t, ok := s.topics[arn]
		if !ok || t.account != acct {
			return "", &apiError{404, "NotFound", "Topic does not exist"}
		}
		msg := c.form.Get("Message")
		if msg == "" {
			return "", &apiError{400, "InvalidParameter", "Invalid parameter: Empty message"}
		}
		id := c.reqID
		t.messages = append(t.messages, SNSMessage{MessageID: id, Subject: c.form.Get("Subject"), Message: msg, Time: c.now})
		return el("MessageId", id), nil
	}
	return "", &apiError{400, "InvalidAction", "Could not find operation " + c.action + " for version " + snsVersion}
}

// CreateBucket creates an S3 bucket owned by acct, as a deployment's
// template would.
func (s *Server) CreateBucket(acct, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[acct]; !ok {
		return fmt.Errorf("create bucket: account %s: %w", acct, ErrNoSuchEntity)
	}
	if _, ok := s.buckets[name]; ok {
		return fmt.Errorf("create bucket %s: already exists", name)
	}
	s.buckets[name] = &bucket{name: name, account: acct, objects: map[string]*object{}}
	return nil
}

// Object returns an S3 object's content, or ErrNoSuchEntity.
func (s *Server) Object(bkt, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bkt]
	if !ok {
		return nil, fmt.Errorf("bucket %s: %w", bkt, ErrNoSuchEntity)
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, fmt.Errorf("object %s/%s: %w", bkt, key, ErrNoSuchEntity)
	}
	return append([]byte(nil), o.body...), nil
}

// ObjectKeys returns the keys in a bucket, sorted.
func (s *Server) ObjectKeys(bkt string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bkt]
	if !ok {
		return nil
	}
	var out []string
	for k := range b.objects {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CreateTopic creates an SNS topic in acct and region and returns its ARN.
func (s *Server) CreateTopic(acct, region, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[acct]; !ok {
		return "", fmt.Errorf("create topic: account %s: %w", acct, ErrNoSuchEntity)
	}
	arn := s.topicARN(acct, region, name)
	if _, ok := s.topics[arn]; !ok {
		s.topics[arn] = &topic{arn: arn, account: acct}
	}
	return arn, nil
}

// Published returns the messages published to a topic, oldest first.
func (s *Server) Published(topicARN string) []SNSMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.topics[topicARN]
	if !ok {
		return nil
	}
	return append([]SNSMessage(nil), t.messages...)
}
