package awsemu

import (
	"slices"
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
	// maxChainedSeconds: a role session assuming a role gets at most 1 h.
	maxChainedSeconds = 3600
	// rootSessionSeconds: root's GetSessionToken lasts at most 1 h.
	rootSessionSeconds = 3600
)

// authorize applies the policy model to the caller of c. Only
// sts:GetCallerIdentity needs no permission and cannot be denied.
func (s *Server) authorize(c *call, action, resource string) *apiError {
	if action == "sts:GetCallerIdentity" {
		return nil
	}
	if s.decide(c.key, action, resource, c.now) != allow {
		arn, _ := s.principalOf(c.key)
		return accessDenied(arn, action, resource)
	}
	return nil
}

// decide is the policy model for every credential the emulator issues:
// long-term user and root keys, GetSessionToken, AssumeRole (chained or
// not) and GetFederationToken sessions. An explicit Deny anywhere wins;
// otherwise every policy set that bounds the credential must allow.
func (s *Server) decide(k *accessKey, action, resource string, now time.Time) decision {
	if action == "sts:GetCallerIdentity" {
		return allow
	}
	svc, _, _ := strings.Cut(action, ":")
	rc := reqContext{action: action, resource: resource, now: now, keys: s.principalKeys(k)}
	if k.temporary {
		rc.tokenIssueTime = k.issued
	}
	switch {
	case k.federated:
		// Federation sessions call no IAM and no STS but
		// GetCallerIdentity (IAM User Guide, "Comparing the AWS STS API
		// operations"); they hold the intersection of the minting
		// user's policies and the session policy.
		if svc == "iam" || svc == "sts" {
			return implicitDeny
		}
		parent, ok := s.keys[k.parent]
		if !ok {
			return implicitDeny
		}
		pd := evaluate([]string{k.sessionPolicy}, rc)
		if pd == explicitDeny {
			return explicitDeny
		}
		if parent.root {
			return pd
		}
		ud := evaluate(s.identityDocs(parent.account, parent.user, ""), rc)
		if ud == explicitDeny || ud != allow {
			return ud
		}
		return pd
	case k.temporary && k.roleName == "":
		// GetSessionToken credentials without MFA cannot call IAM; none
		// call STS beyond AssumeRole and GetCallerIdentity.
		if (svc == "iam" && !k.mfa) || (svc == "sts" && action != "sts:AssumeRole") {
			return implicitDeny
		}
		parent, ok := s.keys[k.parent]
		if !ok {
			return implicitDeny
		}
		if parent.root {
			return allow // root-derived sessions cannot be restricted
		}
		return evaluate(s.identityDocs(parent.account, parent.user, ""), rc)
	case k.root:
		return allow
	case k.roleName != "":
		d := evaluate(s.identityDocs(k.account, "", k.roleName), rc)
		if d != allow || k.sessionPolicy == "" {
			return d
		}
		return evaluate([]string{k.sessionPolicy}, rc)
	default:
		return evaluate(s.identityDocs(k.account, k.user, ""), rc)
	}
}

// principalKeys are the global condition keys that describe k's principal
// (IAM User Guide, "AWS global condition context keys").
func (s *Server) principalKeys(k *accessKey) map[string]string {
	arn, uid := s.principalOf(k)
	m := map[string]string{"aws:principalaccount": k.account, "aws:userid": uid, "aws:securetransport": "false"}
	rootSession := k.temporary && !k.federated && k.roleName == "" && s.keys[k.parent] != nil && s.keys[k.parent].root
	switch {
	case k.root || rootSession:
		m["aws:principaltype"], m["aws:principalarn"] = "Account", arn
	case k.federated:
		m["aws:principaltype"], m["aws:principalarn"] = "FederatedUser", arn
	case k.roleName != "":
		// For a role session the principal ARN is the role's.
		m["aws:principaltype"], m["aws:principalarn"] = "AssumedRole", s.roleARN(k.account, k.roleName)
	default:
		m["aws:principaltype"], m["aws:principalarn"] = "User", arn
		m["aws:username"] = k.user
	}
	if k.temporary {
		m["aws:multifactorauthpresent"] = strconv.FormatBool(k.mfa)
	}
	return m
}

// identityDocs returns the identity policies of a user (with its groups')
// or of a role: managed defaults and inline documents.
func (s *Server) identityDocs(acct, userName, roleName string) []string {
	a := s.accounts[acct]
	if a == nil {
		return nil
	}
	var docs []string
	add := func(attached []string, inline map[string]string) {
		for _, arn := range attached {
			if d := s.policyDoc(arn); d != "" {
				docs = append(docs, d)
			}
		}
		for _, d := range inline {
			docs = append(docs, d)
		}
	}
	if roleName != "" {
		if r, ok := a.roles[roleName]; ok {
			add(r.attached, r.inline)
		}
		return docs
	}
	u, ok := a.users[userName]
	if !ok {
		return nil
	}
	add(u.attached, u.inline)
	for _, g := range u.groups {
		if gr, ok := a.groups[g]; ok {
			add(gr.attached, gr.inline)
		}
	}
	return docs
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
		// The account a key ID decodes to is the one AWS answers, even for
		// keys of other accounts or deleted keys.
		acct, ok := patterns.AccountID(id)
		if !ok {
			if known, found := s.keys[id]; found {
				return el("Account", known.account), nil
			}
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
		secs, aerr := durationParam(c.form.Get("DurationSeconds"), defaultSessionSeconds, maxSessionSeconds)
		if aerr != nil {
			return "", aerr
		}
		if k.root && secs > rootSessionSeconds {
			secs = rootSessionSeconds // root's sessions are cut to 1 h, not refused
		}
		c.params = map[string]any{"durationSeconds": secs}
		mfa, aerr := s.mfaProof(c, k)
		if aerr != nil {
			return "", aerr
		}
		t, err := s.mintSession(c, k.account, secs, func(t *accessKey) {
			t.user, t.root, t.mfa = k.user, false, mfa
		})
		if err != nil {
			return "", internalError()
		}
		c.response = map[string]any{"credentials": map[string]any{
			"accessKeyId": t.id, "expiration": isoTime(t.expires)}}
		return credentialsXML(t), nil

	case "GetFederationToken":
		name := c.form.Get("Name")
		if err := s.authorize(c, "sts:GetFederationToken", "arn:"+s.partition+":sts::"+k.account+":federated-user/"+name); err != nil {
			return "", err
		}
		if k.temporary {
			return "", &apiError{403, "AccessDenied", "Cannot call GetFederationToken with session credentials"}
		}
		if len(name) < 2 || len(name) > 32 {
			return "", &apiError{400, "ValidationError", "1 validation error detected: Value at 'name' failed to satisfy constraint"}
		}
		policy := c.form.Get("Policy")
		if policy != "" {
			if _, err := parsePolicy(policy); err != nil {
				return "", &apiError{400, "MalformedPolicyDocument", "The policy document is malformed."}
			}
		}
		secs, aerr := durationParam(c.form.Get("DurationSeconds"), defaultSessionSeconds, maxSessionSeconds)
		if aerr != nil {
			return "", aerr
		}
		if k.root && secs > rootSessionSeconds {
			secs = rootSessionSeconds // root's sessions are cut to 1 h, not refused
		}
		c.params = map[string]any{"name": name, "durationSeconds": secs}
		t, err := s.mintSession(c, k.account, secs, func(t *accessKey) {
			t.federated, t.sessionName, t.sessionPolicy, t.user = true, name, policy, k.user
		})
		if err != nil {
			return "", internalError()
		}
		arn, fid := s.principalOf(t)
		c.response = map[string]any{
			"credentials":   map[string]any{"accessKeyId": t.id, "expiration": isoTime(t.expires)},
			"federatedUser": map[string]any{"federatedUserId": fid, "arn": arn},
		}
		return credentialsXML(t) + "<FederatedUser>" + el("FederatedUserId", fid) + el("Arn", arn) + "</FederatedUser>", nil

	case "AssumeRole":
		return s.assumeRole(c)
	}
	return "", &apiError{400, "InvalidAction", "Could not find operation " + c.action + " for version " + stsVersion}
}

// mfaProof checks GetSessionToken's SerialNumber and TokenCode: the device
// must be one the caller enabled; any six digits pass, as the emulator has
// no authenticator. No serial means a session without MFA.
func (s *Server) mfaProof(c *call, k *accessKey) (bool, *apiError) {
	serial := c.form.Get("SerialNumber")
	if serial == "" {
		return false, nil
	}
	c.params["serialNumber"] = serial
	denied := &apiError{403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code."}
	u, ok := s.accounts[k.account].users[k.user]
	if k.root || !ok || !slices.Contains(u.mfa, serial) || len(c.form.Get("TokenCode")) != 6 {
		return false, denied
	}
	return true, nil
}

// assumeRole checks both sides as AWS does: the caller's identity policies
// must allow sts:AssumeRole on the role (unless, within one account, the
// trust policy names the caller itself), and the role's trust policy must
// allow the caller. The role may be in any account the emulator holds.
func (s *Server) assumeRole(c *call) (string, *apiError) {
	k := c.key
	roleArn := c.form.Get("RoleArn")
	name := c.form.Get("RoleSessionName")
	c.params = map[string]any{"roleArn": roleArn, "roleSessionName": name}
	callerARN, _ := s.principalOf(k)
	denied := accessDenied(callerARN, "sts:AssumeRole", roleArn)
	idDec := s.decide(k, "sts:AssumeRole", roleArn, c.now)
	if idDec == explicitDeny {
		return "", denied
	}
	if name == "" || len(name) > 64 {
		return "", &apiError{400, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint"}
	}
	acct, roleName, ok := s.parseRoleARN(roleArn)
	if !ok {
		return "", denied
	}
	a := s.accounts[acct]
	if a == nil {
		return "", denied
	}
	r, ok := a.roles[roleName]
	if !ok {
		return "", denied
	}
	arns := []string{callerARN}
	if k.roleName != "" {
		arns = append(arns, s.roleARN(k.account, k.roleName))
	}
	rc := reqContext{action: "sts:AssumeRole", resource: roleArn, now: c.now, keys: s.principalKeys(k)}
	rc.keys["sts:rolesessionname"] = name
	if ext := c.form.Get("ExternalId"); ext != "" {
		rc.keys["sts:externalid"] = ext
	}
	trust, specific := trustDecision(r.trust, k.account, arns, rc)
	if trust != allow {
		return "", denied
	}
	if idDec != allow && !(specific && acct == k.account) {
		return "", denied
	}
	chained := k.roleName != ""
	def, max := defaultRoleSeconds, maxRoleSeconds
	if chained {
		max = maxChainedSeconds
	}
	secs, aerr := durationParam(c.form.Get("DurationSeconds"), def, max)
	if aerr != nil {
		return "", aerr
	}
	policy := c.form.Get("Policy")
	if policy != "" {
		if _, err := parsePolicy(policy); err != nil {
			return "", &apiError{400, "MalformedPolicyDocument", "The policy document is malformed."}
		}
	}
	t, err := s.mintSession(c, acct, secs, func(t *accessKey) {
		t.roleName, t.sessionName, t.sessionPolicy, t.chained = r.name, name, policy, chained
	})
	if err != nil {
		return "", internalError()
	}
	arn, rid := s.principalOf(t)
	c.response = map[string]any{
		"credentials":     map[string]any{"accessKeyId": t.id, "expiration": isoTime(t.expires)},
		"assumedRoleUser": map[string]any{"assumedRoleId": rid, "arn": arn},
	}
	return credentialsXML(t) + "<AssumedRoleUser>" + el("AssumedRoleId", rid) + el("Arn", arn) + "</AssumedRoleUser>", nil
}

// parseRoleARN splits arn:<partition>:iam::<account>:role/<path/>name.
func (s *Server) parseRoleARN(arn string) (acct, name string, ok bool) {
	prefix := "arn:" + s.partition + ":iam::"
	if !strings.HasPrefix(arn, prefix) {
		return "", "", false
	}
	acct, res, ok := strings.Cut(arn[len(prefix):], ":role/")
	if !ok || acct == "" || res == "" {
		return "", "", false
	}
	return acct, res[strings.LastIndex(res, "/")+1:], true
}

// mintSession issues ASIA credentials in acct, minted by c's caller, issued
// now and lasting secs.
func (s *Server) mintSession(c *call, acct string, secs int, set func(*accessKey)) (*accessKey, error) {
	t, err := s.mintKey("ASIA", acct, func(t *accessKey) {
		t.temporary, t.parent = true, c.key.id
		t.issued, t.expires = c.now, c.now.Add(time.Duration(secs)*time.Second)
		set(t)
	})
	if err != nil {
		return nil, err
	}
	if err := s.setToken(t); err != nil {
		return nil, err
	}
	return t, nil
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
		if def > max {
			def = max
		}
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
