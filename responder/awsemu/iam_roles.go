package awsemu

func (s *Server) roleXML(acct string, r *role) string {
	return el("Path", "/") + el("RoleName", r.name) + el("RoleId", r.id) + el("Arn", s.roleARN(acct, r.name)) +
		el("CreateDate", isoTime(r.created)) + el("AssumeRolePolicyDocument", encodeDoc(r.trust)) +
		el("MaxSessionDuration", "3600")
}

// iamCreateRole creates a role with the trust policy given, which
// AssumeRole enforces.
func (s *Server) iamCreateRole(c *call) (string, *apiError) {
	acct := c.key.account
	a := s.accounts[acct]
	name := c.form.Get("RoleName")
	if err := s.authorize(c, "iam:CreateRole", s.roleARN(acct, name)); err != nil {
		return "", err
	}
	trust := c.form.Get("AssumeRolePolicyDocument")
	c.params = map[string]any{"roleName": name, "assumeRolePolicyDocument": trust}
	if !validName(name, 64) {
		return "", validation("1 validation error detected: Value at 'roleName' failed to satisfy constraint")
	}
	if _, ok := a.roles[name]; ok {
		return "", &apiError{409, "EntityAlreadyExists", "Role with name " + name + " already exists."}
	}
	if !validTrust(trust) {
		return "", &apiError{400, "MalformedPolicyDocument", "The trust policy document is malformed."}
	}
	id, err := s.newID("AROA", acct)
	if err != nil {
		return "", internalError()
	}
	r := &role{name: name, id: id, created: c.now, trust: trust, inline: map[string]string{}}
	a.roles[name] = r
	c.response = map[string]any{"role": map[string]any{"roleName": name, "roleId": id, "arn": s.roleARN(acct, name)}}
	return "<Role>" + s.roleXML(acct, r) + "</Role>", nil
}

// validTrust: a trust policy is a policy whose statements name principals.
func validTrust(doc string) bool {
	p, err := parsePolicy(doc)
	if err != nil || len(p.Statement) == 0 {
		return false
	}
	for _, st := range p.Statement {
		if st.Principal == nil {
			return false
		}
	}
	return true
}

func (s *Server) roleParam(c *call, action string) (*role, *apiError) {
	acct := c.key.account
	name := c.form.Get("RoleName")
	if err := s.authorize(c, action, s.roleARN(acct, name)); err != nil {
		return nil, err
	}
	c.params = map[string]any{"roleName": name}
	r, ok := s.accounts[acct].roles[name]
	if !ok {
		return nil, noSuchEntity("The role with name " + name + " cannot be found.")
	}
	return r, nil
}

func (s *Server) iamGetRole(c *call) (string, *apiError) {
	r, err := s.roleParam(c, "iam:GetRole")
	if err != nil {
		return "", err
	}
	return "<Role>" + s.roleXML(c.key.account, r) + "</Role>", nil
}

func (s *Server) iamDeleteRole(c *call) (string, *apiError) {
	r, err := s.roleParam(c, "iam:DeleteRole")
	if err != nil {
		return "", err
	}
	if protectedRole(r.name) {
		return "", unmodifiable(r.name)
	}
	if len(r.attached) > 0 || len(r.inline) > 0 {
		return "", &apiError{409, "DeleteConflict", "Cannot delete entity, must detach all policies first."}
	}
	delete(s.accounts[c.key.account].roles, r.name)
	return "", nil
}

func (s *Server) iamUpdateAssumeRolePolicy(c *call) (string, *apiError) {
	r, err := s.roleParam(c, "iam:UpdateAssumeRolePolicy")
	if err != nil {
		return "", err
	}
	doc := c.form.Get("PolicyDocument")
	c.params["policyDocument"] = doc
	if protectedRole(r.name) {
		return "", unmodifiable(r.name)
	}
	if !validTrust(doc) {
		return "", &apiError{400, "MalformedPolicyDocument", "The trust policy document is malformed."}
	}
	r.trust = doc
	return "", nil
}

func (s *Server) iamListRoles(c *call) (string, *apiError) {
	if err := s.authorize(c, "iam:ListRoles", "*"); err != nil {
		return "", err
	}
	acct := c.key.account
	return s.iamPage(c, "Roles", members(s.accounts[acct].roles, func(r *role) string { return s.roleXML(acct, r) }))
}
