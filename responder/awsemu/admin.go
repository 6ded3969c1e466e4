package awsemu

import (
	"fmt"
	"time"
)

// The methods in this file set up state that AWS builds over months (old
// keys, console passwords, MFA), so that tests of key hygiene need not
// wait for it.

// SetKeyCreated backdates a key's creation, e.g. to make it 200 days old
// for an audit; the credential report and ListAccessKeys show it.
func (s *Server) SetKeyCreated(keyID string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok || k.deleted {
		return fmt.Errorf("set key created %s: %w", keyID, ErrNoSuchEntity)
	}
	k.created = t.UTC()
	return nil
}

// SetKeyLastUsed sets what GetAccessKeyLastUsed and the credential report
// say about a key's last use; a zero t means never used.
func (s *Server) SetKeyLastUsed(keyID string, t time.Time, service, region string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok || k.deleted || k.temporary {
		return fmt.Errorf("set key last used %s: %w", keyID, ErrNoSuchEntity)
	}
	k.lastUsed, k.lastService, k.lastRgn = t.UTC(), service, region
	return nil
}

// SetUserCreated backdates a user's creation.
func (s *Server) SetUserCreated(acct, name string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return err
	}
	u.created = t.UTC()
	return nil
}

// SetRootMFA records whether the account's root user has MFA, which the
// credential report's <root_account> row and GetAccountSummary's
// AccountMFAEnabled show.
func (s *Server) SetRootMFA(acct string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[acct]
	if !ok {
		return fmt.Errorf("set root MFA: account %s: %w", acct, ErrNoSuchEntity)
	}
	a.rootMFA = enabled
	return nil
}

// SetUserPassword gives a user a console password (a login profile) set at
// changed and last used at lastUsed (zero: never).
func (s *Server) SetUserPassword(acct, name string, changed, lastUsed time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return err
	}
	u.login = &loginProfile{created: changed.UTC(), lastUsed: lastUsed.UTC()}
	if lastUsed.IsZero() {
		u.login.lastUsed = time.Time{}
	}
	return nil
}

// EnableUserMFA creates and enables a virtual MFA device for a user.
func (s *Server) EnableUserMFA(acct, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return err
	}
	serial := s.mfaARN(acct, name)
	s.accounts[acct].mfa[serial] = &mfaDevice{serial: serial, user: name, enabled: s.now().UTC()}
	u.mfa = appendUnique(u.mfa, serial)
	return nil
}

// LoginProfile reports whether a user has a console password.
func (s *Server) LoginProfile(acct, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return false, err
	}
	return u.login != nil, nil
}

// CreatePolicy creates a customer managed policy in acct and returns its
// ARN, e.g. to fill a user's managed-policy quota.
func (s *Server) CreatePolicy(acct, name, doc string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[acct]; !ok {
		return "", fmt.Errorf("create policy: account %s: %w", acct, ErrNoSuchEntity)
	}
	if _, err := parsePolicy(doc); err != nil {
		return "", err
	}
	arn := "arn:" + s.partition + ":iam::" + acct + ":policy/" + name
	id, err := s.newID("ANPA", acct)
	if err != nil {
		return "", err
	}
	s.policies[arn] = &managedPolicy{arn: arn, name: name, id: id, versions: []string{doc}, created: s.now().UTC()}
	return arn, nil
}

// AttachRolePolicy attaches a managed policy to a role.
func (s *Server) AttachRolePolicy(acct, name, policyARN string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.role(acct, name)
	if err != nil {
		return err
	}
	if s.policyDoc(policyARN) == "" {
		return fmt.Errorf("attach policy %s: %w", policyARN, ErrNoSuchEntity)
	}
	r.attached = appendUnique(r.attached, policyARN)
	return nil
}

// SetRoleTrust replaces a role's trust policy, e.g. to let another
// account, or everyone, assume it.
func (s *Server) SetRoleTrust(acct, name, doc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.role(acct, name)
	if err != nil {
		return err
	}
	if !validTrust(doc) {
		return fmt.Errorf("set role trust %s: malformed trust policy", name)
	}
	r.trust = doc
	return nil
}

// RoleTrust returns a role's trust policy document.
func (s *Server) RoleTrust(acct, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.role(acct, name)
	if err != nil {
		return "", err
	}
	return r.trust, nil
}

// RoleAttachedPolicies returns the managed policy ARNs attached to a role.
func (s *Server) RoleAttachedPolicies(acct, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.role(acct, name)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), r.attached...), nil
}

// UserGroups returns the groups a user is in.
func (s *Server) UserGroups(acct, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), u.groups...), nil
}

// UserKeys returns the IDs of a user's undeleted access keys, oldest
// first, whatever their status.
func (s *Server) UserKeys(acct, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.user(acct, name); err != nil {
		return nil, err
	}
	var out []string
	for _, k := range s.userKeys(acct, name) {
		out = append(out, k.id)
	}
	return out, nil
}

func (s *Server) role(acct, name string) (*role, error) {
	a, ok := s.accounts[acct]
	if !ok {
		return nil, fmt.Errorf("account %s: %w", acct, ErrNoSuchEntity)
	}
	r, ok := a.roles[name]
	if !ok {
		return nil, fmt.Errorf("role %s: %w", name, ErrNoSuchEntity)
	}
	return r, nil
}

// PutRolePolicy sets an inline policy on a role, within the role's
// inline-size quota.
func (s *Server) PutRolePolicy(acct, name, policyName, doc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.role(acct, name)
	if err != nil {
		return err
	}
	if _, err := parsePolicy(doc); err != nil {
		return err
	}
	if inlineChars(r.inline, policyName, doc) > MaxRoleInlinePolicyChars {
		return fmt.Errorf("put role policy %s: %w", policyName, ErrLimitExceeded)
	}
	r.inline[policyName] = doc
	return nil
}
