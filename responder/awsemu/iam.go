package awsemu

import (
	"maps"
	"slices"
)

func noSuchEntity(msg string) *apiError { return &apiError{404, "NoSuchEntity", msg} }

func limitExceeded(msg string) *apiError { return &apiError{409, "LimitExceeded", msg} }

func validation(msg string) *apiError { return &apiError{400, "ValidationError", msg} }

// targetUser resolves the UserName parameter, which IAM defaults to the
// caller itself.
func (s *Server) targetUser(c *call) (*user, string, *apiError) {
	name := c.form.Get("UserName")
	if name == "" {
		if c.key.root || c.key.user == "" || c.key.federated || c.key.roleName != "" {
			return nil, "", validation("Must specify userName when calling with non-User credentials")
		}
		name = c.key.user
	}
	u, ok := s.accounts[c.key.account].users[name]
	if !ok {
		return nil, name, noSuchEntity("The user with name " + name + " cannot be found.")
	}
	return u, name, nil
}

// iamHandlers serve IAM actions; each authorizes its own call, since the
// resource it is checked against depends on the parameters.
var iamHandlers = map[string]func(*Server, *call) (string, *apiError){
	"CreateUser": (*Server).iamCreateUser, "GetUser": (*Server).iamGetUser,
	"DeleteUser": (*Server).iamDeleteUser, "ListUsers": (*Server).iamListUsers,

	"CreateAccessKey": (*Server).iamCreateAccessKey, "ListAccessKeys": (*Server).iamListAccessKeys,
	"UpdateAccessKey": (*Server).iamChangeAccessKey, "DeleteAccessKey": (*Server).iamChangeAccessKey,
	"GetAccessKeyLastUsed": (*Server).iamGetAccessKeyLastUsed,

	"AttachUserPolicy": (*Server).iamAttachPolicy, "DetachUserPolicy": (*Server).iamAttachPolicy,
	"AttachRolePolicy": (*Server).iamAttachPolicy, "DetachRolePolicy": (*Server).iamAttachPolicy,
	"AttachGroupPolicy": (*Server).iamAttachPolicy, "DetachGroupPolicy": (*Server).iamAttachPolicy,
	"ListAttachedUserPolicies": (*Server).iamListAttached, "ListAttachedRolePolicies": (*Server).iamListAttached,
	"ListAttachedGroupPolicies": (*Server).iamListAttached,

	"PutUserPolicy": (*Server).iamInline, "DeleteUserPolicy": (*Server).iamInline,
	"ListUserPolicies": (*Server).iamInline, "GetUserPolicy": (*Server).iamInline,
	"PutRolePolicy": (*Server).iamInline, "DeleteRolePolicy": (*Server).iamInline,
	"ListRolePolicies": (*Server).iamInline, "GetRolePolicy": (*Server).iamInline,
	"PutGroupPolicy": (*Server).iamInline, "DeleteGroupPolicy": (*Server).iamInline,
	"ListGroupPolicies": (*Server).iamInline, "GetGroupPolicy": (*Server).iamInline,

	"CreatePolicy": (*Server).iamCreatePolicy, "GetPolicy": (*Server).iamGetPolicy,
	"CreatePolicyVersion": (*Server).iamCreatePolicyVersion, "SetDefaultPolicyVersion": (*Server).iamSetDefaultPolicyVersion,
	"GetPolicyVersion": (*Server).iamGetPolicyVersion,

	"CreateRole": (*Server).iamCreateRole, "GetRole": (*Server).iamGetRole, "ListRoles": (*Server).iamListRoles,
	"DeleteRole": (*Server).iamDeleteRole, "UpdateAssumeRolePolicy": (*Server).iamUpdateAssumeRolePolicy,

	"CreateLoginProfile": (*Server).iamLoginProfile, "GetLoginProfile": (*Server).iamLoginProfile,
	"UpdateLoginProfile": (*Server).iamLoginProfile, "DeleteLoginProfile": (*Server).iamLoginProfile,

	"CreateGroup": (*Server).iamCreateGroup, "AddUserToGroup": (*Server).iamGroupMember,
	"RemoveUserFromGroup": (*Server).iamGroupMember, "ListGroupsForUser": (*Server).iamListGroupsForUser,

	"CreateVirtualMFADevice": (*Server).iamCreateVirtualMFADevice, "EnableMFADevice": (*Server).iamEnableMFADevice,
	"DeactivateMFADevice": (*Server).iamDeactivateMFADevice, "ListMFADevices": (*Server).iamListMFADevices,

	"GenerateCredentialReport": (*Server).iamGenerateCredentialReport, "GetCredentialReport": (*Server).iamGetCredentialReport,
	"GetAccountSummary": (*Server).iamGetAccountSummary,
}

func (s *Server) serveIAM(c *call) (string, *apiError) {
	if h, ok := iamHandlers[c.action]; ok {
		return h(s, c)
	}
	return "", &apiError{400, "InvalidAction", "Could not find operation " + c.action + " for version " + iamVersion}
}

func (s *Server) iamCreateUser(c *call) (string, *apiError) {
	acct := c.key.account
	name := c.form.Get("UserName")
	if err := s.authorize(c, "iam:CreateUser", s.userARN(acct, name)); err != nil {
		return "", err
	}
	c.params = map[string]any{"userName": name}
	if !validName(name, 64) {
		return "", validation("1 validation error detected: Value at 'userName' failed to satisfy constraint")
	}
	u, err := s.createUser(acct, name)
	if err != nil {
		return "", &apiError{409, "EntityAlreadyExists", "User with name " + name + " already exists."}
	}
	c.response = map[string]any{"user": map[string]any{"userName": name, "userId": u.id, "arn": s.userARN(acct, name)}}
	return "<User>" + s.userXML(acct, u) + "</User>", nil
}

func (s *Server) iamGetUser(c *call) (string, *apiError) {
	u, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:GetUser", s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	if aerr != nil {
		return "", aerr
	}
	return "<User>" + s.userXML(c.key.account, u) + "</User>", nil
}

// iamDeleteUser refuses, as IAM does, while anything hangs off the user.
func (s *Server) iamDeleteUser(c *call) (string, *apiError) {
	acct := c.key.account
	name := c.form.Get("UserName")
	if err := s.authorize(c, "iam:DeleteUser", s.userARN(acct, name)); err != nil {
		return "", err
	}
	c.params = map[string]any{"userName": name}
	u, ok := s.accounts[acct].users[name]
	if !ok {
		return "", noSuchEntity("The user with name " + name + " cannot be found.")
	}
	conflict := func(what string) *apiError {
		return &apiError{409, "DeleteConflict", "Cannot delete entity, must " + what + " first."}
	}
	switch {
	case len(s.userKeys(acct, name)) > 0:
		return "", conflict("delete access keys")
	case u.login != nil:
		return "", conflict("delete login profile")
	case len(u.attached) > 0:
		return "", conflict("detach all policies")
	case len(u.inline) > 0:
		return "", conflict("delete policies")
	case len(u.groups) > 0:
		return "", conflict("remove users from group")
	case len(u.mfa) > 0:
		return "", conflict("delete MFA device")
	}
	delete(s.accounts[acct].users, name)
	return "", nil
}

func (s *Server) iamListUsers(c *call) (string, *apiError) {
	if err := s.authorize(c, "iam:ListUsers", "*"); err != nil {
		return "", err
	}
	acct := c.key.account
	return s.iamPage(c, "Users", members(s.accounts[acct].users, func(u *user) string { return s.userXML(acct, u) }))
}

// members renders a list's items in name order, as IAM lists them, for
// iamPage to cut into pages.
func members[T any](byName map[string]T, xml func(T) string) []string {
	var items []string
	for _, n := range slices.Sorted(maps.Keys(byName)) {
		items = append(items, "<member>"+xml(byName[n])+"</member>")
	}
	return items
}

// IAM list paging: MaxItems defaults to 100 and may be 1 to 1000.
const (
	iamDefaultMaxItems = 100
	iamMaxItems        = 1000
)

// iamPage answers one page of a list: items from Marker on, at most
// MaxItems (or the LimitPage fault), with IsTruncated and the next Marker.
func (s *Server) iamPage(c *call, wrapper string, items []string) (string, *apiError) {
	max := iamDefaultMaxItems
	if v := c.form.Get("MaxItems"); v != "" {
		max = atoiDefault(v, 0)
		if max < 1 || max > iamMaxItems {
			return "", validation("1 validation error detected: Value at 'maxItems' failed to satisfy constraint")
		}
	}
	if n := s.faults.pageLimit[c.action]; n > 0 && n < max {
		max = n
	}
	filter := c.key.account + "|" + c.action + "|" + c.form.Get("UserName")
	from := 0
	if m := c.form.Get("Marker"); m != "" {
		var ok bool
		if from, ok = parseNextToken(m, filter); !ok || from > len(items) {
			return "", validation("Invalid Marker.")
		}
	}
	out := "<" + wrapper + ">"
	end := min(from+max, len(items))
	for _, it := range items[from:end] {
		out += it
	}
	out += "</" + wrapper + ">"
	if end < len(items) {
		return out + el("IsTruncated", "true") + el("Marker", nextToken(end, filter)), nil
	}
	return out + el("IsTruncated", "false"), nil
}

func (s *Server) iamCreateAccessKey(c *call) (string, *apiError) {
	_, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:CreateAccessKey", s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	c.params = map[string]any{"userName": name}
	if aerr != nil {
		return "", aerr
	}
	k, err := s.createAccessKey(c.key.account, name)
	if err == errLimitExceeded {
		return "", limitExceeded("Cannot exceed quota for AccessKeysPerUser: 2")
	}
	if err != nil {
		return "", internalError()
	}
	// CloudTrail records the new key's ID, never its secret.
	c.response = map[string]any{"accessKey": map[string]any{"userName": name, "accessKeyId": k.id, "status": k.status,
		"createDate": isoTime(k.created)}}
	return "<AccessKey>" + el("UserName", name) + el("AccessKeyId", k.id) + el("Status", k.status) +
		el("SecretAccessKey", k.secret) + el("CreateDate", isoTime(k.created)) + "</AccessKey>", nil
}

func (s *Server) iamListAccessKeys(c *call) (string, *apiError) {
	_, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:ListAccessKeys", s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	c.params = map[string]any{"userName": name}
	if aerr != nil {
		return "", aerr
	}
	out := "<AccessKeyMetadata>"
	for _, k := range s.userKeys(c.key.account, name) {
		out += "<member>" + el("UserName", name) + el("AccessKeyId", k.id) + el("Status", k.status) +
			el("CreateDate", isoTime(k.created)) + "</member>"
	}
	return out + "</AccessKeyMetadata><IsTruncated>false</IsTruncated>", nil
}

// iamChangeAccessKey serves UpdateAccessKey and DeleteAccessKey; both reach
// authentication only after the consistency delay.
func (s *Server) iamChangeAccessKey(c *call) (string, *apiError) {
	acct := c.key.account
	_, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:"+c.action, s.userARN(acct, name)); err != nil {
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
			return "", validation("1 validation error detected: Value at 'status' failed to satisfy constraint")
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
}

func (s *Server) iamGetAccessKeyLastUsed(c *call) (string, *apiError) {
	id := c.form.Get("AccessKeyId")
	if err := s.authorize(c, "iam:GetAccessKeyLastUsed", "*"); err != nil {
		return "", err
	}
	c.params = map[string]any{"accessKeyId": id}
	k, ok := s.keys[id]
	if !ok || k.deleted || k.temporary || k.account != c.key.account {
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
}

func (s *Server) userXML(acct string, u *user) string {
	out := el("Path", "/") + el("UserName", u.name) + el("UserId", u.id) + el("Arn", s.userARN(acct, u.name)) +
		el("CreateDate", isoTime(u.created))
	if u.login != nil && !u.login.lastUsed.IsZero() {
		out += el("PasswordLastUsed", isoTime(u.login.lastUsed))
	}
	return out
}

// validName checks an IAM name: 1 to max of [\w+=,.@-].
func validName(name string, max int) bool {
	if name == "" || len(name) > max {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' ||
			r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}
