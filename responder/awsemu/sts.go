package awsemu

import (
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/patterns"
)

// Session lifetimes AWS allows, in seconds.
const (
	minSessionSeconds     = 900
	maxSessionSeconds     = 129600 // 36 h: why the revocation deny is kept that long
	defaultSessionSeconds = 43200
	defaultRoleSeconds    = 3600
	maxRoleSeconds        = 43200
)

// authorize applies the policy model to the caller of c. Only
// sts:GetCallerIdentity needs no permission and cannot be denied.
func (s *Server) authorize(c *call, action, resource string) *apiError {
	if action == "sts:GetCallerIdentity" {
		return nil
	}
	k := c.key
	arn, _ := s.principalOf(k)
	if k.temporary && k.roleName == "" {
		// GetSessionToken credentials without MFA cannot call IAM, nor STS
		// beyond AssumeRole and GetCallerIdentity (IAM User Guide,
		// "Comparing the AWS STS API operations").
		svc, _, _ := strings.Cut(action, ":")
		if svc == "iam" || (svc == "sts" && action != "sts:AssumeRole") {
			return accessDenied(arn, action, resource)
		}
	}
	docs, root := s.policiesOf(k)
	if root {
		return nil
	}
	rc := reqContext{action: action, resource: resource, now: c.now}
	if k.temporary {
		rc.tokenIssueTime = k.issued
	}
	if evaluate(docs, rc) != allow {
		return accessDenied(arn, action, resource)
	}
	return nil
}

// policiesOf returns the policy documents that govern k, or root=true for
// the root user, whom no identity policy restricts.
func (s *Server) policiesOf(k *accessKey) (docs []string, root bool) {
	if k.root {
		return nil, true
	}
	if k.temporary && k.roleName == "" {
		if p, ok := s.keys[k.parent]; ok {
			return s.policiesOf(p)
		}
	}
	a := s.accounts[k.account]
	var attached []string
	var inline map[string]string
	if k.roleName != "" {
		r, ok := a.roles[k.roleName]
		if !ok {
			return nil, false
		}
		attached, inline = r.attached, r.inline
	} else {
		u, ok := a.users[k.user]
		if !ok {
			return nil, false
		}
		attached, inline = u.attached, u.inline
	}
	for _, arn := range attached {
		docs = append(docs, s.managed[arn])
	}
	for _, d := range inline {
		docs = append(docs, d)
	}
	return docs, false
}

func (s *Server) serveSTS(c *call) (string, *apiError) {
	k := c.key
	switch c.action {
	case "GetCallerIdentity":
		arn, uid := s.principalOf(k)
		return el("Arn", arn) + el("UserId", uid) + el("Account", k.account), nil

	case "GetAccessKeyInfo":
		if err := s.authorize(c, "sts:GetAccessKeyInfo", "*"); err != nil {
			return "", err
		}
		id := c.form.Get("AccessKeyId")
		c.params = map[string]any{"accessKeyId": id}
		acct, ok := patterns.AccountID(id)
		if !ok {
			return "", &apiError{400, "InvalidParameterValue", "The access key ID is not valid."}
		}
		return el("Account", acct), nil

	case "GetSessionToken":
		if err := s.authorize(c, "sts:GetSessionToken", "*"); err != nil {
			return "", err
		}
		if k.temporary {
			return "", &apiError{403, "AccessDenied", "Cannot call GetSessionToken with session credentials"}
		}
		def := defaultSessionSeconds
		if k.root {
			def = defaultRoleSeconds
		}
		secs, aerr := durationParam(c.form.Get("DurationSeconds"), def, maxSessionSeconds)
		if aerr != nil {
			return "", aerr
		}
		c.params = map[string]any{"durationSeconds": secs}
		t, err := s.mintKey("ASIA", k.account, func(t *accessKey) {
			t.temporary, t.user, t.parent = true, k.user, k.id
			t.issued, t.expires = c.now, c.now.Add(time.Duration(secs)*time.Second)
		})
		if err != nil {
			return "", internalError()
		}
		if err := s.setToken(t); err != nil {
			return "", internalError()
		}
		c.response = map[string]any{"credentials": map[string]any{
			"accessKeyId": t.id, "expiration": isoTime(t.expires)}}
		return credentialsXML(t), nil

	case "AssumeRole":
		roleArn := c.form.Get("RoleArn")
		name := c.form.Get("RoleSessionName")
		if err := s.authorize(c, "sts:AssumeRole", roleArn); err != nil {
			return "", err
		}
		c.params = map[string]any{"roleArn": roleArn, "roleSessionName": name}
		prefix := "arn:aws:iam::" + k.account + ":role/"
		a := s.accounts[k.account]
		r, ok := a.roles[strings.TrimPrefix(roleArn, prefix)]
		if !strings.HasPrefix(roleArn, prefix) || !ok || name == "" {
			arn, _ := s.principalOf(k)
			return "", accessDenied(arn, "sts:AssumeRole", roleArn)
		}
		secs, aerr := durationParam(c.form.Get("DurationSeconds"), defaultRoleSeconds, maxRoleSeconds)
		if aerr != nil {
			return "", aerr
		}
		t, err := s.mintKey("ASIA", k.account, func(t *accessKey) {
			t.temporary, t.parent, t.roleName, t.sessionName = true, k.id, r.name, name
			t.issued, t.expires = c.now, c.now.Add(time.Duration(secs)*time.Second)
		})
		if err != nil {
			return "", internalError()
		}
		if err := s.setToken(t); err != nil {
			return "", internalError()
		}
		arn, rid := s.principalOf(t)
		c.response = map[string]any{
			"credentials":     map[string]any{"accessKeyId": t.id, "expiration": isoTime(t.expires)},
			"assumedRoleUser": map[string]any{"assumedRoleId": rid, "arn": arn},
		}
		return credentialsXML(t) + "<AssumedRoleUser>" + el("AssumedRoleId", rid) + el("Arn", arn) + "</AssumedRoleUser>", nil
	}
	return "", &apiError{400, "InvalidAction", "Could not find operation " + c.action + " for version " + stsVersion}
}

func (s *Server) setToken(t *accessKey) error {
	tok, err := s.randString(180)
	if err != nil {
		return err
	}
	t.token = "IQoJb3JpZ2luX2Vj" + tok
	t.status = "Active"
	return nil
}

func credentialsXML(t *accessKey) string {
	return "<Credentials>" + el("AccessKeyId", t.id) + el("SecretAccessKey", t.secret) +
		el("SessionToken", t.token) + el("Expiration", isoTime(t.expires)) + "</Credentials>"
}

func durationParam(v string, def, max int) (int, *apiError) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < minSessionSeconds || n > max {
		return 0, &apiError{400, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint"}
	}
	return n, nil
}

func internalError() *apiError {
	return &apiError{500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."}
}
