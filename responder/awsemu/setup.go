package awsemu

import (
	"errors"
	"fmt"
	"slices"
	"sort"
)

// The methods in this file build and inspect state the way an operator
// would in the console, for tests and for 'keyward emulator'.

// ErrNoSuchEntity is returned by the administrative methods for a missing
// account, user or key.
var ErrNoSuchEntity = errors.New("no such entity")

// CreateUser creates an IAM user, as the bootstrap an operator would do in
// the console.
func (s *Server) CreateUser(acct, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.createUser(acct, name)
	return err
}

func (s *Server) createUser(acct, name string) (*user, error) {
	a, ok := s.accounts[acct]
	if !ok {
		return nil, fmt.Errorf("create user: account %s: %w", acct, ErrNoSuchEntity)
	}
	if _, ok := a.users[name]; ok {
		return nil, errEntityExists
	}
	id, err := s.newID("AIDA", acct)
	if err != nil {
		return nil, err
	}
	u := &user{name: name, id: id, created: s.now().UTC(), inline: map[string]string{}}
	a.users[name] = u
	return u, nil
}

var errEntityExists = errors.New("entity already exists")

// AttachUserPolicy attaches a managed policy to a user.
func (s *Server) AttachUserPolicy(acct, name, policyARN string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return err
	}
	if s.policyDoc(policyARN) == "" {
		return fmt.Errorf("attach policy %s: %w", policyARN, ErrNoSuchEntity)
	}
	if !slices.Contains(u.attached, policyARN) && len(u.attached) >= MaxManagedPoliciesPerUser {
		return fmt.Errorf("attach policy %s: %w", policyARN, ErrLimitExceeded)
	}
	u.attached = appendUnique(u.attached, policyARN)
	return nil
}

// PutUserPolicy sets an inline policy on a user.
func (s *Server) PutUserPolicy(acct, name, policyName, doc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return err
	}
	if _, err := parsePolicy(doc); err != nil {
		return err
	}
	if inlineChars(u.inline, policyName, doc) > MaxUserInlinePolicyChars {
		return fmt.Errorf("put user policy %s: %w", policyName, ErrLimitExceeded)
	}
	u.inline[policyName] = doc
	return nil
}

// CreateRole creates a role that any principal of the account with
// sts:AssumeRole permission may assume (its trust policy names the
// account), with an inline policy allowing policyDoc (none if empty).
func (s *Server) CreateRole(acct, name, policyDoc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[acct]
	if !ok {
		return fmt.Errorf("create role: account %s: %w", acct, ErrNoSuchEntity)
	}
	id, err := s.newID("AROA", acct)
	if err != nil {
		return err
	}
	r := &role{name: name, id: id, created: s.now().UTC(), inline: map[string]string{},
		trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + s.rootARN(acct) + `"},"Action":"sts:AssumeRole"}]}`}
	if policyDoc != "" {
		if _, err := parsePolicy(policyDoc); err != nil {
			return err
		}
		r.inline["inline"] = policyDoc
	}
	a.roles[name] = r
	return nil
}

// CreateAccessKey issues a long-term AKIA key for a user, subject to the
// two-key limit.
func (s *Server) CreateAccessKey(acct, name string) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.createAccessKey(acct, name)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret}, nil
}

var errLimitExceeded = fmt.Errorf("cannot exceed quota for AccessKeysPerUser: 2: %w", ErrLimitExceeded)

// ErrLimitExceeded is returned by the administrative methods when an IAM
// quota (keys, managed policies, inline policy size) would be exceeded.
var ErrLimitExceeded = errors.New("limit exceeded")

func (s *Server) createAccessKey(acct, name string) (*accessKey, error) {
	if _, err := s.user(acct, name); err != nil {
		return nil, err
	}
	if len(s.userKeys(acct, name)) >= MaxKeysPerUser {
		return nil, errLimitExceeded
	}
	return s.mintKey("AKIA", acct, func(k *accessKey) { k.user = name })
}

// CreateRootAccessKey issues an access key for the account's root user,
// which the responder must hand to a human rather than touch.
func (s *Server) CreateRootAccessKey(acct string) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[acct]; !ok {
		return Credentials{}, fmt.Errorf("create root key: account %s: %w", acct, ErrNoSuchEntity)
	}
	k, err := s.mintKey("AKIA", acct, func(k *accessKey) { k.root = true })
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret}, nil
}

// CreateOperator creates a user with AdministratorAccess and a key: the
// identity whose credentials the responder uses.
func (s *Server) CreateOperator(acct, name string) (Credentials, error) {
	if err := s.CreateUser(acct, name); err != nil {
		return Credentials{}, err
	}
	if err := s.AttachUserPolicy(acct, name, s.ManagedPolicyARN("AdministratorAccess")); err != nil {
		return Credentials{}, err
	}
	return s.CreateAccessKey(acct, name)
}

// KeyStatus returns a key's IAM status (Active or Inactive), or
// ErrNoSuchEntity once it is deleted.
func (s *Server) KeyStatus(keyID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyID]
	if !ok || k.deleted {
		return "", ErrNoSuchEntity
	}
	return k.status, nil
}

// UserPolicies returns the managed policy ARNs attached to a user and the
// names of its inline policies.
func (s *Server) UserPolicies(acct, name string) (attached, inline []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(acct, name)
	if err != nil {
		return nil, nil, err
	}
	for n := range u.inline {
		inline = append(inline, n)
	}
	sort.Strings(inline)
	return append([]string(nil), u.attached...), inline, nil
}

// RolePolicies returns the names of a role's inline policies.
func (s *Server) RolePolicies(acct, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[acct]
	if !ok {
		return nil, ErrNoSuchEntity
	}
	r, ok := a.roles[name]
	if !ok {
		return nil, ErrNoSuchEntity
	}
	var out []string
	for n := range r.inline {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// Calls returns how many authenticated requests reached each action, so a
// test can prove a step was not repeated.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}
