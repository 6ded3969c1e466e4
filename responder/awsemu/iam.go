package awsemu

import (
	"net/url"
	"sort"
	"strings"
)

func noSuchEntity(msg string) *apiError { return &apiError{404, "NoSuchEntity", msg} }

// targetUser resolves the UserName parameter, which IAM defaults to the
// caller itself.
func (s *Server) targetUser(c *call) (*user, string, *apiError) {
	name := c.form.Get("UserName")
	if name == "" {
		if c.key.root || c.key.user == "" {
			return nil, "", &apiError{400, "ValidationError", "Must specify userName when calling with non-User credentials"}
		}
		name = c.key.user
	}
	u, ok := s.accounts[c.key.account].users[name]
	if !ok {
		return nil, name, noSuchEntity("The user with name " + name + " cannot be found.")
	}
	return u, name, nil
}

func (s *Server) serveIAM(c *call) (string, *apiError) {
	acct := c.key.account
	a := s.accounts[acct]
	switch c.action {
	case "CreateUser":
		name := c.form.Get("UserName")
		if err := s.authorize(c, "iam:CreateUser", userARN(acct, name)); err != nil {
			return "", err
		}
		c.params = map[string]any{"userName": name}
		if name == "" {
			return "", &apiError{400, "ValidationError", "UserName is required"}
		}
		u, err := s.createUser(acct, name)
		if err != nil {
			return "", &apiError{409, "EntityAlreadyExists", "User with name " + name + " already exists."}
		}
		return "<User>" + userXML(acct, u) + "</User>", nil

	case "GetUser":
		u, name, aerr := s.targetUser(c)
		if err := s.authorize(c, "iam:GetUser", userARN(acct, name)); err != nil {
			return "", err
		}
		if aerr != nil {
			return "", aerr
		}
		return "<User>" + userXML(acct, u) + "</User>", nil

	case "CreateAccessKey":
		_, name, aerr := s.targetUser(c)
		if err := s.authorize(c, "iam:CreateAccessKey", userARN(acct, name)); err != nil {
			return "", err
		}
		c.params = map[string]any{"userName": name}
		if aerr != nil {
			return "", aerr
		}
		k, err := s.createAccessKey(acct, name)
		if err == errLimitExceeded {
			return "", &apiError{409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"}
		}
		if err != nil {
			return "", internalError()
		}
		// CloudTrail records the new key's ID, never its secret.
		c.response = map[string]any{"accessKey": map[string]any{"userName": name, "accessKeyId": k.id, "status": k.status}}
		return "<AccessKey>" + el("UserName", name) + el("AccessKeyId", k.id) + el("Status", k.status) +
			el("SecretAccessKey", k.secret) + el("CreateDate", isoTime(k.created)) + "</AccessKey>", nil

	case "ListAccessKeys":
		_, name, aerr := s.targetUser(c)
		if err := s.authorize(c, "iam:ListAccessKeys", userARN(acct, name)); err != nil {
			return "", err
		}
		c.params = map[string]any{"userName": name}
		if aerr != nil {
			return "", aerr
		}
		out := "<AccessKeyMetadata>"
		for _, k := range s.userKeys(acct, name) {
			out += "<member>" + el("UserName", name) + el("AccessKeyId", k.id) + el("Status", k.status) +
				el("CreateDate", isoTime(k.created)) + "</member>"
		}
		return out + "</AccessKeyMetadata><IsTruncated>false</IsTruncated>", nil

	case "UpdateAccessKey", "DeleteAccessKey":
		_, name, aerr := s.targetUser(c)
		if err := s.authorize(c, "iam:"+c.action, userARN(acct, name)); err != nil {
			return "", err
		}
		id := c.form.Get("AccessKeyId")
		status := c.form.Get("Status")
		c.params = map[string]any{"userName": name, "accessKeyId": id}
		if aerr != nil {
			return "", aerr
		}
		k, ok := s.keys[id]
		if !ok || k.deleted || k.temporary || k.account != acct || k.user != name || k.root {
			return "", noSuchEntity("The Access Key with id " + id + " cannot be found.")
		}
		if c.action == "UpdateAccessKey" {
			c.params["status"] = status
			if status != "Active" && status != "Inactive" {
				return "", &apiError{400, "ValidationError", "1 validation error detected: Value at 'status' failed to satisfy constraint"}
			}
		}
		prev := "Inactive"
		if s.keyLive(k, c.now) {
			prev = "Active"
		}
		k.prevStatus, k.statusAt = prev, c.now.Add(s.faults.consistency)
		if c.action == "UpdateAccessKey" {
			k.status = status
		} else {
			k.deleted = true
		}
		return "", nil

	case "GetAccessKeyLastUsed":
		id := c.form.Get("AccessKeyId")
		if err := s.authorize(c, "iam:GetAccessKeyLastUsed", "*"); err != nil {
			return "", err
		}
		c.params = map[string]any{"accessKeyId": id}
		k, ok := s.keys[id]
		if !ok || k.deleted || k.temporary || k.account != acct {
			return "", noSuchEntity("The Access Key with id " + id + " cannot be found.")
		}
		owner := k.user
		if k.root {
			owner = "root"
		}
		out := el("UserName", owner) + "<AccessKeyLastUsed>"
		if k.lastUsed.IsZero() {
			out += el("ServiceName", "N/A") + el("Region", "N/A")
		} else {
			out += el("LastUsedDate", isoTime(k.lastUsed)) + el("ServiceName", k.lastService) + el("Region", k.lastRgn)
		}
		return out + "</AccessKeyLastUsed>", nil

	case "AttachUserPolicy", "DetachUserPolicy":
		u, name, aerr := s.targetUser(c)
		if err := s.authorize(c, "iam:"+c.action, userARN(acct, name)); err != nil {
			return "", err
		}
		arn := c.form.Get("PolicyArn")
		c.params = map[string]any{"userName": name, "policyArn": arn}
		if aerr != nil {
			return "", aerr
		}
		if _, ok := s.managed[arn]; !ok {
			return "", noSuchEntity("Policy " + arn + " does not exist or is not attachable.")
		}
		if c.action == "AttachUserPolicy" {
			u.attached = appendUnique(u.attached, arn)
			return "", nil
		}
		for i, x := range u.attached {
			if x == arn {
				u.attached = append(u.attached[:i:i], u.attached[i+1:]...)
				return "", nil
			}
		}
		return "", noSuchEntity("Policy " + arn + " was not found.")

	case "ListAttachedUserPolicies":
		u, name, aerr := s.targetUser(c)
		if err := s.authorize(c, "iam:ListAttachedUserPolicies", userARN(acct, name)); err != nil {
			return "", err
		}
		if aerr != nil {
			return "", aerr
		}
		out := "<AttachedPolicies>"
		for _, arn := range u.attached {
			out += "<member>" + el("PolicyArn", arn) + el("PolicyName", arn[len("arn:aws:iam::aws:policy/"):]) + "</member>"
		}
		return out + "</AttachedPolicies><IsTruncated>false</IsTruncated>", nil

	case "PutUserPolicy", "DeleteUserPolicy", "ListUserPolicies", "GetUserPolicy":
		u, name, aerr := s.targetUser(c)
		if err := s.authorize(c, "iam:"+c.action, userARN(acct, name)); err != nil {
			return "", err
		}
		pn := c.form.Get("PolicyName")
		c.params = map[string]any{"userName": name, "policyName": pn}
		if aerr != nil {
			return "", aerr
		}
		return putInline(c, u.inline, pn, el("UserName", name))

	case "CreateRole":
		name := c.form.Get("RoleName")
		if err := s.authorize(c, "iam:CreateRole", roleARN(acct, name)); err != nil {
			return "", err
		}
		c.params = map[string]any{"roleName": name}
		if _, ok := a.roles[name]; ok || name == "" {
			return "", &apiError{409, "EntityAlreadyExists", "Role with name " + name + " already exists."}
		}
		id, err := s.newID("AROA", acct)
		if err != nil {
			return "", internalError()
		}
		r := &role{name: name, id: id, created: c.now, trust: c.form.Get("AssumeRolePolicyDocument"), inline: map[string]string{}}
		a.roles[name] = r
		return "<Role>" + el("Path", "/") + el("RoleName", name) + el("RoleId", id) + el("Arn", roleARN(acct, name)) +
			el("CreateDate", isoTime(r.created)) + el("AssumeRolePolicyDocument", r.trust) + "</Role>", nil

	case "PutRolePolicy", "DeleteRolePolicy", "ListRolePolicies", "GetRolePolicy":
		name := c.form.Get("RoleName")
		if err := s.authorize(c, "iam:"+c.action, roleARN(acct, name)); err != nil {
			return "", err
		}
		pn := c.form.Get("PolicyName")
		c.params = map[string]any{"roleName": name, "policyName": pn}
		r, ok := a.roles[name]
		if !ok {
			return "", noSuchEntity("The role with name " + name + " cannot be found.")
		}
		return putInline(c, r.inline, pn, el("RoleName", name))

	case "ListUsers":
		if err := s.authorize(c, "iam:ListUsers", "*"); err != nil {
			return "", err
		}
		var names []string
		for n := range a.users {
			names = append(names, n)
		}
		sort.Strings(names)
		out := "<Users>"
		for _, n := range names {
			out += "<member>" + userXML(acct, a.users[n]) + "</member>"
		}
		return out + "</Users><IsTruncated>false</IsTruncated>", nil
	}
	return "", &apiError{400, "InvalidAction", "Could not find operation " + c.action + " for version " + iamVersion}
}

// putInline serves Put, Get, Delete and List of inline policies on a user
// or role; owner is the owner's XML element for Get's answer.
func putInline(c *call, inline map[string]string, pn, owner string) (string, *apiError) {
	switch {
	case c.action == "GetUserPolicy" || c.action == "GetRolePolicy":
		doc, ok := inline[pn]
		if !ok {
			return "", noSuchEntity("The policy with name " + pn + " cannot be found.")
		}
		// IAM returns policy documents URL-encoded (RFC 3986).
		enc := strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
		return owner + el("PolicyName", pn) + el("PolicyDocument", enc), nil
	case c.action == "ListUserPolicies" || c.action == "ListRolePolicies":
		var names []string
		for n := range inline {
			names = append(names, n)
		}
		sort.Strings(names)
		out := "<PolicyNames>"
		for _, n := range names {
			out += el("member", n)
		}
		return out + "</PolicyNames><IsTruncated>false</IsTruncated>", nil
	case c.action == "DeleteUserPolicy" || c.action == "DeleteRolePolicy":
		if _, ok := inline[pn]; !ok {
			return "", noSuchEntity("The policy with name " + pn + " cannot be found.")
		}
		delete(inline, pn)
		return "", nil
	}
	doc := c.form.Get("PolicyDocument")
	if _, err := parsePolicy(doc); err != nil || pn == "" {
		return "", &apiError{400, "MalformedPolicyDocument", "The policy document is malformed."}
	}
	inline[pn] = doc
	return "", nil
}

func userXML(acct string, u *user) string {
	return el("Path", "/") + el("UserName", u.name) + el("UserId", u.id) + el("Arn", userARN(acct, u.name)) +
		el("CreateDate", isoTime(u.created))
}
