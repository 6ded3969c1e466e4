package awsemu

import (
	"encoding/json"
	"sort"
)

// Snapshot returns IAM's resource state (accounts, users with their login
// profiles, groups and MFA devices, roles with their trust policies,
// groups, customer managed policies and their versions, keys and their
// status, attached and inline policies, root MFA) as canonical JSON. It
// leaves out the CloudTrail history and keys' last-used data, which
// read-only calls change in AWS too, so that a dry run can be shown to have
// changed nothing.
func (s *Server) Snapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	type keyView struct {
		ID, Account, User, Status string
		Root, Temporary, Deleted  bool
	}
	type userView struct {
		Name, ID string
		Attached []string
		Inline   map[string]string
		Login    bool     `json:",omitempty"`
		Groups   []string `json:",omitempty"`
		MFA      []string `json:",omitempty"`
	}
	type roleView struct {
		Name     string
		Attached []string
		Inline   map[string]string
		Trust    string `json:",omitempty"`
	}
	type groupView struct {
		Name     string
		Attached []string
		Inline   map[string]string
	}
	type acctView struct {
		ID      string
		Users   []userView
		Roles   []roleView
		Groups  []groupView `json:",omitempty"`
		MFA     []string    `json:",omitempty"` // virtual devices, enabled or not
		RootMFA bool        `json:",omitempty"`
	}
	type policyView struct {
		ARN      string
		Versions []string
		Default  int
	}
	var view struct {
		Accounts []acctView
		Keys     []keyView
		Policies []policyView `json:",omitempty"`
	}
	for _, a := range s.accounts {
		av := acctView{ID: a.id, RootMFA: a.rootMFA}
		for _, u := range a.users {
			av.Users = append(av.Users, userView{u.name, u.id, u.attached, u.inline, u.login != nil, u.groups, u.mfa})
		}
		sort.Slice(av.Users, func(i, j int) bool { return av.Users[i].Name < av.Users[j].Name })
		for _, r := range a.roles {
			av.Roles = append(av.Roles, roleView{r.name, r.attached, r.inline, r.trust})
		}
		sort.Slice(av.Roles, func(i, j int) bool { return av.Roles[i].Name < av.Roles[j].Name })
		for _, g := range a.groups {
			av.Groups = append(av.Groups, groupView{g.name, g.attached, g.inline})
		}
		sort.Slice(av.Groups, func(i, j int) bool { return av.Groups[i].Name < av.Groups[j].Name })
		av.MFA = sortedNames(a.mfa)
		view.Accounts = append(view.Accounts, av)
	}
	sort.Slice(view.Accounts, func(i, j int) bool { return view.Accounts[i].ID < view.Accounts[j].ID })
	for _, k := range s.keys {
		view.Keys = append(view.Keys, keyView{k.id, k.account, k.user, k.status, k.root, k.temporary, k.deleted})
	}
	sort.Slice(view.Keys, func(i, j int) bool { return view.Keys[i].ID < view.Keys[j].ID })
	for _, arn := range sortedNames(s.policies) {
		p := s.policies[arn]
		view.Policies = append(view.Policies, policyView{arn, p.versions, p.defaultV})
	}
	b, err := json.Marshal(view)
	if err != nil {
		panic(err) // only plain types above: cannot fail
	}
	return b
}
