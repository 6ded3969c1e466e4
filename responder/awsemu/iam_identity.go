package awsemu

import (
	"encoding/base64"
	"slices"
	"strconv"
)

// Login profiles, groups and MFA devices: the persistence an attacker
// leaves besides keys and roles (AWS-RESPONSE.md, step 7).

func (s *Server) iamLoginProfile(c *call) (string, *apiError) {
	u, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:"+c.action, s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	// The password is never recorded, as CloudTrail never records it.
	c.params = map[string]any{"userName": name}
	if aerr != nil {
		return "", aerr
	}
	reset := c.form.Get("PasswordResetRequired") == "true"
	switch c.action {
	case "CreateLoginProfile":
		if u.login != nil {
			return "", &apiError{409, "EntityAlreadyExists", "Login Profile for user " + name + " already exists."}
		}
		if len(c.form.Get("Password")) < 1 {
			return "", validation("1 validation error detected: Value at 'password' failed to satisfy constraint")
		}
		u.login = &loginProfile{created: c.now, resetRequired: reset}
		c.params["passwordResetRequired"] = reset
	case "UpdateLoginProfile":
		if u.login == nil {
			return "", noSuchEntity("Login Profile for User " + name + " cannot be found.")
		}
		if c.form.Get("Password") != "" {
			u.login.created = c.now // the password's last change
		}
		u.login.resetRequired = reset
		return "", nil
	case "DeleteLoginProfile":
		if u.login == nil {
			return "", noSuchEntity("Login Profile for User " + name + " cannot be found.")
		}
		u.login = nil
		return "", nil
	}
	if u.login == nil {
		return "", noSuchEntity("Login Profile for User " + name + " cannot be found.")
	}
	return "<LoginProfile>" + el("UserName", name) + el("CreateDate", isoTime(u.login.created)) +
		el("PasswordResetRequired", strconv.FormatBool(u.login.resetRequired)) + "</LoginProfile>", nil
}

func (s *Server) iamCreateGroup(c *call) (string, *apiError) {
	acct := c.key.account
	name := c.form.Get("GroupName")
	arn := "arn:" + s.partition + ":iam::" + acct + ":group/" + name
	if err := s.authorize(c, "iam:CreateGroup", arn); err != nil {
		return "", err
	}
	c.params = map[string]any{"groupName": name}
	a := s.accounts[acct]
	if !validName(name, 128) {
		return "", validation("1 validation error detected: Value at 'groupName' failed to satisfy constraint")
	}
	if _, ok := a.groups[name]; ok {
		return "", &apiError{409, "EntityAlreadyExists", "Group with name " + name + " already exists."}
	}
	id, err := s.newID("AGPA", acct)
	if err != nil {
		return "", internalError()
	}
	g := &group{name: name, id: id, created: c.now, inline: map[string]string{}}
	a.groups[name] = g
	return "<Group>" + el("Path", "/") + el("GroupName", name) + el("GroupId", id) + el("Arn", arn) +
		el("CreateDate", isoTime(g.created)) + "</Group>", nil
}

// iamGroupMember serves AddUserToGroup and RemoveUserFromGroup; a member
// holds its groups' policies.
func (s *Server) iamGroupMember(c *call) (string, *apiError) {
	acct := c.key.account
	gname := c.form.Get("GroupName")
	if err := s.authorize(c, "iam:"+c.action, "arn:"+s.partition+":iam::"+acct+":group/"+gname); err != nil {
		return "", err
	}
	uname := c.form.Get("UserName")
	c.params = map[string]any{"groupName": gname, "userName": uname}
	a := s.accounts[acct]
	if _, ok := a.groups[gname]; !ok {
		return "", noSuchEntity("The group with name " + gname + " cannot be found.")
	}
	u, ok := a.users[uname]
	if !ok {
		return "", noSuchEntity("The user with name " + uname + " cannot be found.")
	}
	if c.action == "AddUserToGroup" {
		u.groups = appendUnique(u.groups, gname)
		return "", nil
	}
	i := slices.Index(u.groups, gname)
	if i < 0 {
		return "", noSuchEntity("User " + uname + " is not in group " + gname + ".")
	}
	u.groups = slices.Delete(u.groups, i, i+1)
	return "", nil
}

func (s *Server) iamListGroupsForUser(c *call) (string, *apiError) {
	u, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:ListGroupsForUser", s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	if aerr != nil {
		return "", aerr
	}
	a := s.accounts[c.key.account]
	out := "<Groups>"
	for _, gn := range u.groups {
		g := a.groups[gn]
		out += "<member>" + el("Path", "/") + el("GroupName", gn) + el("GroupId", g.id) +
			el("Arn", "arn:"+s.partition+":iam::"+c.key.account+":group/"+gn) + el("CreateDate", isoTime(g.created)) + "</member>"
	}
	return out + "</Groups><IsTruncated>false</IsTruncated>", nil
}

func (s *Server) mfaARN(acct, name string) string {
	return "arn:" + s.partition + ":iam::" + acct + ":mfa/" + name
}

func (s *Server) iamCreateVirtualMFADevice(c *call) (string, *apiError) {
	acct := c.key.account
	name := c.form.Get("VirtualMFADeviceName")
	serial := s.mfaARN(acct, name)
	if err := s.authorize(c, "iam:CreateVirtualMFADevice", serial); err != nil {
		return "", err
	}
	c.params = map[string]any{"virtualMFADeviceName": name}
	a := s.accounts[acct]
	if !validName(name, 226) {
		return "", validation("1 validation error detected: Value at 'virtualMFADeviceName' failed to satisfy constraint")
	}
	if _, ok := a.mfa[serial]; ok {
		return "", &apiError{409, "EntityAlreadyExists", "MFADevice entity at the same path and name already exists."}
	}
	seed, err := s.randString(24)
	if err != nil {
		return "", internalError()
	}
	a.mfa[serial] = &mfaDevice{serial: serial}
	c.response = map[string]any{"virtualMFADevice": map[string]any{"serialNumber": serial}}
	return "<VirtualMFADevice>" + el("SerialNumber", serial) +
		el("Base32StringSeed", base64.StdEncoding.EncodeToString([]byte(seed))) + "</VirtualMFADevice>", nil
}

// iamEnableMFADevice accepts any two six-digit codes: the emulator has no
// authenticator to check them against.
func (s *Server) iamEnableMFADevice(c *call) (string, *apiError) {
	u, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:EnableMFADevice", s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	serial := c.form.Get("SerialNumber")
	c.params = map[string]any{"userName": name, "serialNumber": serial}
	if aerr != nil {
		return "", aerr
	}
	d, ok := s.accounts[c.key.account].mfa[serial]
	if !ok {
		return "", noSuchEntity("MFA Device with serial number " + serial + " does not exist.")
	}
	if d.user != "" {
		return "", &apiError{409, "EntityAlreadyExists", "MFA Device is already in use."}
	}
	if len(c.form.Get("AuthenticationCode1")) != 6 || len(c.form.Get("AuthenticationCode2")) != 6 {
		return "", &apiError{403, "InvalidAuthenticationCode", "Authentication code for device is not valid."}
	}
	d.user, d.enabled = name, c.now
	u.mfa = append(u.mfa, serial)
	return "", nil
}

func (s *Server) iamDeactivateMFADevice(c *call) (string, *apiError) {
	u, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:DeactivateMFADevice", s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	serial := c.form.Get("SerialNumber")
	c.params = map[string]any{"userName": name, "serialNumber": serial}
	if aerr != nil {
		return "", aerr
	}
	i := slices.Index(u.mfa, serial)
	if i < 0 {
		return "", noSuchEntity("MFA Device with serial number " + serial + " does not exist.")
	}
	u.mfa = slices.Delete(u.mfa, i, i+1)
	if d, ok := s.accounts[c.key.account].mfa[serial]; ok {
		d.user = ""
	}
	return "", nil
}

func (s *Server) iamListMFADevices(c *call) (string, *apiError) {
	u, name, aerr := s.targetUser(c)
	if err := s.authorize(c, "iam:ListMFADevices", s.userARN(c.key.account, name)); err != nil {
		return "", err
	}
	if aerr != nil {
		return "", aerr
	}
	a := s.accounts[c.key.account]
	out := "<MFADevices>"
	for _, serial := range u.mfa {
		out += "<member>" + el("UserName", name) + el("SerialNumber", serial) +
			el("EnableDate", isoTime(a.mfa[serial].enabled)) + "</member>"
	}
	return out + "</MFADevices><IsTruncated>false</IsTruncated>", nil
}
