package awsemu

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// protectedRole reports whether a role belongs to AWS rather than to the
// account: IAM Identity Center's permission-set roles (AWSReservedSSO_*)
// cannot be edited in IAM; their sessions are revoked in Identity Center.
func protectedRole(name string) bool { return strings.HasPrefix(name, "AWSReservedSSO_") }

func unmodifiable(name string) *apiError {
	return &apiError{400, "UnmodifiableEntity", "Cannot perform the operation on the protected role '" + name +
		"' - this role is only modifiable by AWS"}
}

// principalPolicies is what a user, role or group holds: the parts of an
// IAM principal that policy calls act on.
type principalPolicies struct {
	kind, name, arn string // kind: User, Role, Group
	attached        *[]string
	inline          map[string]string
	missing         *apiError
}

// policyHolder resolves the UserName, RoleName or GroupName a policy call
// names, by the action's noun.
func (s *Server) policyHolder(c *call) principalPolicies {
	a := s.accounts[c.key.account]
	acct := c.key.account
	switch {
	case strings.Contains(c.action, "Role"):
		name := c.form.Get("RoleName")
		p := principalPolicies{kind: "Role", name: name, arn: s.roleARN(acct, name)}
		if r, ok := a.roles[name]; ok {
			p.attached, p.inline = &r.attached, r.inline
			if protectedRole(name) && !strings.HasPrefix(c.action, "Get") && !strings.HasPrefix(c.action, "List") {
				p.missing = unmodifiable(name)
			}
		} else {
			p.missing = noSuchEntity("The role with name " + name + " cannot be found.")
		}
		return p
	case strings.Contains(c.action, "Group"):
		name := c.form.Get("GroupName")
		p := principalPolicies{kind: "Group", name: name, arn: "arn:" + s.partition + ":iam::" + acct + ":group/" + name}
		if g, ok := a.groups[name]; ok {
			p.attached, p.inline = &g.attached, g.inline
		} else {
			p.missing = noSuchEntity("The group with name " + name + " cannot be found.")
		}
		return p
	}
	u, name, aerr := s.targetUser(c)
	p := principalPolicies{kind: "User", name: name, arn: s.userARN(acct, name), missing: aerr}
	if u != nil {
		p.attached, p.inline = &u.attached, u.inline
	}
	return p
}

func (p principalPolicies) params(extra ...string) map[string]any {
	m := map[string]any{strings.ToLower(p.kind[:1]) + p.kind[1:] + "Name": p.name}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// iamAttachPolicy serves Attach/Detach of managed policies on users, roles
// and groups, with the 10-policies quota.
func (s *Server) iamAttachPolicy(c *call) (string, *apiError) {
	p := s.policyHolder(c)
	if err := s.authorize(c, "iam:"+c.action, p.arn); err != nil {
		return "", err
	}
	arn := c.form.Get("PolicyArn")
	c.params = p.params("policyArn", arn)
	if p.missing != nil {
		return "", p.missing
	}
	if s.policyDoc(arn) == "" {
		return "", noSuchEntity("Policy " + arn + " does not exist or is not attachable.")
	}
	if strings.HasPrefix(c.action, "Attach") {
		if !slices.Contains(*p.attached, arn) && len(*p.attached) >= MaxManagedPoliciesPerUser {
			return "", limitExceeded("Cannot exceed quota for PoliciesPer" + p.kind + ": " + strconv.Itoa(MaxManagedPoliciesPerUser))
		}
		*p.attached = appendUnique(*p.attached, arn)
		return "", nil
	}
	i := slices.Index(*p.attached, arn)
	if i < 0 {
		return "", noSuchEntity("Policy " + arn + " was not found.")
	}
	*p.attached = slices.Delete(*p.attached, i, i+1)
	return "", nil
}

func (s *Server) iamListAttached(c *call) (string, *apiError) {
	p := s.policyHolder(c)
	if err := s.authorize(c, "iam:"+c.action, p.arn); err != nil {
		return "", err
	}
	if p.missing != nil {
		return "", p.missing
	}
	out := "<AttachedPolicies>"
	for _, arn := range *p.attached {
		out += "<member>" + el("PolicyArn", arn) + el("PolicyName", policyName(arn)) + "</member>"
	}
	return out + "</AttachedPolicies><IsTruncated>false</IsTruncated>", nil
}

// iamInline serves Put, Get, Delete and List of inline policies on users,
// roles and groups, with the per-principal size quota.
func (s *Server) iamInline(c *call) (string, *apiError) {
	p := s.policyHolder(c)
	if err := s.authorize(c, "iam:"+c.action, p.arn); err != nil {
		return "", err
	}
	pn := c.form.Get("PolicyName")
	c.params = p.params("policyName", pn)
	if p.missing != nil {
		return "", p.missing
	}
	owner := el(p.kind+"Name", p.name)
	switch {
	case strings.HasPrefix(c.action, "Get"):
		doc, ok := p.inline[pn]
		if !ok {
			return "", noSuchEntity("The " + strings.ToLower(p.kind) + " policy with name " + pn + " cannot be found.")
		}
		return owner + el("PolicyName", pn) + el("PolicyDocument", encodeDoc(doc)), nil
	case strings.HasPrefix(c.action, "List"):
		var names []string
		for n := range p.inline {
			names = append(names, n)
		}
		sort.Strings(names)
		out := "<PolicyNames>"
		for _, n := range names {
			out += el("member", n)
		}
		return out + "</PolicyNames><IsTruncated>false</IsTruncated>", nil
	case strings.HasPrefix(c.action, "Delete"):
		if _, ok := p.inline[pn]; !ok {
			return "", noSuchEntity("The " + strings.ToLower(p.kind) + " policy with name " + pn + " cannot be found.")
		}
		delete(p.inline, pn)
		return "", nil
	}
	doc := c.form.Get("PolicyDocument")
	c.params["policyDocument"] = doc
	if _, err := parsePolicy(doc); err != nil || !validName(pn, 128) {
		return "", &apiError{400, "MalformedPolicyDocument", "The policy document is malformed."}
	}
	quota := MaxUserInlinePolicyChars
	switch p.kind {
	case "Role":
		quota = MaxRoleInlinePolicyChars
	case "Group":
		quota = 5120
	}
	if inlineChars(p.inline, pn, doc) > quota {
		return "", limitExceeded("Maximum policy size of " + strconv.Itoa(quota) + " bytes exceeded for " +
			strings.ToLower(p.kind) + " " + p.name)
	}
	p.inline[pn] = doc
	return "", nil
}

// encodeDoc URL-encodes a policy document as IAM returns it (RFC 3986).
func encodeDoc(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// iamCreatePolicy creates a customer managed policy.
func (s *Server) iamCreatePolicy(c *call) (string, *apiError) {
	acct := c.key.account
	name := c.form.Get("PolicyName")
	arn := "arn:" + s.partition + ":iam::" + acct + ":policy/" + name
	if err := s.authorize(c, "iam:CreatePolicy", arn); err != nil {
		return "", err
	}
	doc := c.form.Get("PolicyDocument")
	c.params = map[string]any{"policyName": name, "policyDocument": doc}
	if _, ok := s.policies[arn]; ok {
		return "", &apiError{409, "EntityAlreadyExists", "A policy called " + name + " already exists. Duplicate names are not allowed."}
	}
	if _, err := parsePolicy(doc); err != nil || !validName(name, 128) {
		return "", &apiError{400, "MalformedPolicyDocument", "The policy document is malformed."}
	}
	id, err := s.newID("ANPA", acct)
	if err != nil {
		return "", internalError()
	}
	p := &managedPolicy{arn: arn, name: name, id: id, versions: []string{doc}, created: c.now}
	s.policies[arn] = p
	c.response = map[string]any{"policy": map[string]any{"policyName": name, "arn": arn, "defaultVersionId": "v1"}}
	return "<Policy>" + s.policyXML(p) + "</Policy>", nil
}

func (s *Server) policyXML(p *managedPolicy) string {
	return el("PolicyName", p.name) + el("PolicyId", p.id) + el("Arn", p.arn) + el("Path", "/") +
		el("DefaultVersionId", "v"+strconv.Itoa(p.defaultV+1)) + el("AttachmentCount", "0") +
		el("IsAttachable", "true") + el("CreateDate", isoTime(p.created)) + el("UpdateDate", isoTime(p.created))
}

// customerPolicy resolves PolicyArn to a customer managed policy; AWS
// managed policies cannot be changed by an account.
func (s *Server) customerPolicy(c *call, action string) (*managedPolicy, *apiError) {
	arn := c.form.Get("PolicyArn")
	if err := s.authorize(c, action, arn); err != nil {
		return nil, err
	}
	c.params = map[string]any{"policyArn": arn}
	p, ok := s.policies[arn]
	if !ok {
		if _, aws := s.managed[arn]; aws && action != "iam:GetPolicy" && action != "iam:GetPolicyVersion" {
			return nil, &apiError{403, "AccessDenied", "AWS managed policies cannot be modified."}
		}
		return nil, noSuchEntity("Policy " + arn + " does not exist or is not attachable.")
	}
	return p, nil
}

func (s *Server) iamGetPolicy(c *call) (string, *apiError) {
	p, err := s.customerPolicy(c, "iam:GetPolicy")
	if err != nil {
		return "", err
	}
	return "<Policy>" + s.policyXML(p) + "</Policy>", nil
}

// maxPolicyVersions is IAM's limit of stored versions per managed policy.
const maxPolicyVersions = 5

func (s *Server) iamCreatePolicyVersion(c *call) (string, *apiError) {
	p, err := s.customerPolicy(c, "iam:CreatePolicyVersion")
	if err != nil {
		return "", err
	}
	doc := c.form.Get("PolicyDocument")
	def := c.form.Get("SetAsDefault") == "true"
	c.params["policyDocument"], c.params["setAsDefault"] = doc, def
	if _, perr := parsePolicy(doc); perr != nil {
		return "", &apiError{400, "MalformedPolicyDocument", "The policy document is malformed."}
	}
	if len(p.versions) >= maxPolicyVersions {
		return "", limitExceeded("A managed policy can have up to 5 versions.")
	}
	p.versions = append(p.versions, doc)
	v := len(p.versions)
	if def {
		p.defaultV = v - 1
	}
	vid := "v" + strconv.Itoa(v)
	c.response = map[string]any{"policyVersion": map[string]any{"versionId": vid, "isDefaultVersion": def}}
	return "<PolicyVersion>" + el("VersionId", vid) + el("IsDefaultVersion", strconv.FormatBool(def)) +
		el("CreateDate", isoTime(c.now)) + "</PolicyVersion>", nil
}

func (s *Server) policyVersion(p *managedPolicy, vid string) (int, *apiError) {
	n, err := strconv.Atoi(strings.TrimPrefix(vid, "v"))
	if err != nil || !strings.HasPrefix(vid, "v") || n < 1 || n > len(p.versions) {
		return 0, noSuchEntity("Policy " + p.arn + " version " + vid + " does not exist or is not attachable.")
	}
	return n - 1, nil
}

func (s *Server) iamSetDefaultPolicyVersion(c *call) (string, *apiError) {
	p, err := s.customerPolicy(c, "iam:SetDefaultPolicyVersion")
	if err != nil {
		return "", err
	}
	vid := c.form.Get("VersionId")
	c.params["versionId"] = vid
	i, err := s.policyVersion(p, vid)
	if err != nil {
		return "", err
	}
	p.defaultV = i
	return "", nil
}

func (s *Server) iamGetPolicyVersion(c *call) (string, *apiError) {
	vid := c.form.Get("VersionId")
	arn := c.form.Get("PolicyArn")
	if d, ok := s.managed[arn]; ok {
		if err := s.authorize(c, "iam:GetPolicyVersion", arn); err != nil {
			return "", err
		}
		return "<PolicyVersion>" + el("Document", encodeDoc(d)) + el("VersionId", vid) +
			el("IsDefaultVersion", "true") + "</PolicyVersion>", nil
	}
	p, err := s.customerPolicy(c, "iam:GetPolicyVersion")
	if err != nil {
		return "", err
	}
	i, err := s.policyVersion(p, vid)
	if err != nil {
		return "", err
	}
	return "<PolicyVersion>" + el("Document", encodeDoc(p.versions[i])) + el("VersionId", vid) +
		el("IsDefaultVersion", strconv.FormatBool(i == p.defaultV)) + "</PolicyVersion>", nil
}
