package awsemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/keyward/keyward/patterns"
)

// DefaultAccount is the account the emulator creates unless told otherwise.
// It is not a canary account.
const DefaultAccount = "111122223333"

// MaxKeysPerUser is IAM's quota of access keys per user, inactive ones
// included; CreateAccessKey beyond it fails with LimitExceeded (409).
const MaxKeysPerUser = 2

// Managed policy ARNs the emulator preloads.
const (
	AdministratorAccessARN = "arn:aws:iam::aws:policy/AdministratorAccess"
	QuarantineV2ARN        = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"
	QuarantineV3ARN        = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
	// QuarantineV4ARN is the newest quarantine policy (November 2026).
	QuarantineV4ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV4"
)

// IAM quotas the emulator enforces (IAM User Guide, "IAM and AWS STS
// quotas"): the responder must survive each of them.
const (
	// MaxManagedPoliciesPerUser is the default quota of managed policies
	// attached to one user (or role); one more fails LimitExceeded (409).
	MaxManagedPoliciesPerUser = 10
	// MaxUserInlinePolicyChars is the total size of all inline policies of
	// one user, white space not counted.
	MaxUserInlinePolicyChars = 2048
	// MaxRoleInlinePolicyChars is the same total for a role.
	MaxRoleInlinePolicyChars = 10240
)

// Options configure a Server.
type Options struct {
	// Account is the first account; more can be added with AddAccount.
	// Empty means DefaultAccount.
	Account string
	// Now is the emulator's clock; nil means time.Now. Tests shift it to
	// age credentials without sleeping.
	Now func() time.Time
	// Rand supplies key material; nil means crypto/rand.
	Rand io.Reader
	// Partition is "aws" (empty), "aws-us-gov" or "aws-cn": ARNs, managed
	// policy ARNs, regions and the region of global events follow it. Keys
	// of one emulator are unknown to another, so a key of another
	// partition answers InvalidClientTokenId, as AWS's do.
	Partition string
	// NoQuarantinePolicies leaves the AWSCompromisedKeyQuarantine managed
	// policies out, so attaching one answers NoSuchEntity, as in moto or a
	// partition without them.
	NoQuarantinePolicies bool
	// CloudTrailDelay is how long after a call its event becomes visible
	// to LookupEvents; AWS delivers "within an average of about 5
	// minutes". Zero makes events visible at once.
	CloudTrailDelay time.Duration
}

// Credentials are an access key as the emulator issued it.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Server is the emulator. Its zero value is not usable; call New. It is an
// http.Handler, safe for concurrent use.
type Server struct {
	mu        sync.Mutex
	now       func() time.Time // the emulator's clock: base plus offset
	base      func() time.Time
	offset    time.Duration // SetClockOffset: the server's skew from its clients; read under mu
	advanced  time.Duration // Advance: time travel the clients share; read under mu
	partition string
	first     string // Options.Account
	ctDelay   time.Duration
	policies  map[string]*managedPolicy // customer managed, by ARN
	buckets   map[string]*bucket        // S3, by name (global, as S3's are)
	topics    map[string]*topic         // SNS, by ARN
	rnd       io.Reader
	accounts  map[string]*account
	keys      map[string]*accessKey // every key, long-term and temporary
	managed   map[string]string     // managed policy ARN -> document
	events    []*event              // oldest first
	faults    faults
	seq       int
	calls     map[string]int // action -> authenticated calls, for tests
}

type account struct {
	id     string
	users  map[string]*user
	roles  map[string]*role
	groups map[string]*group
	mfa    map[string]*mfaDevice // virtual MFA devices by serial
	optIn  map[string]bool       // opt-in regions enabled (EnableRegion)

	rootMFA     bool      // SetRootMFA
	rootCreated time.Time // the credential report's <root_account> row

	reportAt  time.Time // when the credential report was generated
	reportCSV []byte
}

type user struct {
	name, id string
	created  time.Time
	attached []string
	inline   map[string]string
	groups   []string
	login    *loginProfile
	mfa      []string // serials of enabled MFA devices
}

type group struct {
	name, id string
	created  time.Time
	attached []string
	inline   map[string]string
}

type loginProfile struct {
	created, lastUsed time.Time
	resetRequired     bool
}

type mfaDevice struct {
	serial, user string // user empty until enabled
	enabled      time.Time
}

// managedPolicy is a customer managed policy; AWS managed ones live in
// Server.managed as their default version's text only.
type managedPolicy struct {
	arn, name, id string
	versions      []string // documents; index+1 is the version number
	defaultV      int      // index into versions
	created       time.Time
}

type role struct {
	name, id string
	created  time.Time
	trust    string
	attached []string
	inline   map[string]string
}

type accessKey struct {
	id, secret string
	account    string
	user       string // empty for a root key and for role sessions
	root       bool
	status     string // Active or Inactive
	created    time.Time
	// prevStatus is what authentication still sees until statusAt: IAM is
	// eventually consistent and the runbook's verify step must poll.
	prevStatus string
	statusAt   time.Time
	deleted    bool

	lastUsed              time.Time
	lastService, lastRgn  string
	temporary             bool
	token                 string
	issued, expires       time.Time
	parent                string // the key that minted this one
	roleName, sessionName string
	// federated is a GetFederationToken session named sessionName; its
	// permissions are the minting user's intersected with sessionPolicy.
	federated     bool
	sessionPolicy string
	chained       bool // an AssumeRole made with role-session credentials
	mfa           bool // a GetSessionToken session proven with an MFA code
}

// New returns an emulator with one account, no users and the AWS managed
// policies the responder uses.
func New(opts Options) *Server {
	part := opts.Partition
	if part == "" {
		part = "aws"
	}
	s := &Server{
		base:      opts.Now,
		rnd:       opts.Rand,
		partition: part,
		ctDelay:   opts.CloudTrailDelay,
		accounts:  map[string]*account{},
		keys:      map[string]*accessKey{},
		managed:   managedPolicies(part, !opts.NoQuarantinePolicies),
		policies:  map[string]*managedPolicy{},
		buckets:   map[string]*bucket{},
		topics:    map[string]*topic{},
		calls:     map[string]int{},
	}
	if s.base == nil {
		s.base = time.Now
	}
	s.now = func() time.Time { return s.base().Add(s.offset + s.advanced) }
	if s.rnd == nil {
		s.rnd = rand.Reader
	}
	acct := opts.Account
	if acct == "" {
		acct = DefaultAccount
	}
	s.first = acct
	s.AddAccount(acct)
	return s
}

// Partition returns the emulator's partition: aws, aws-us-gov or aws-cn.
func (s *Server) Partition() string { return s.partition }

// Account returns the first account's ID: Options.Account.
func (s *Server) Account() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// AddAccount adds an empty account, so tests can hold keys that belong to
// someone else.
func (s *Server) AddAccount(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[id]; !ok {
		s.accounts[id] = &account{id: id, users: map[string]*user{}, roles: map[string]*role{},
			groups: map[string]*group{}, mfa: map[string]*mfaDevice{}, rootCreated: s.now().UTC()}
	}
}

func (s *Server) user(acct, name string) (*user, error) {
	a, ok := s.accounts[acct]
	if !ok {
		return nil, fmt.Errorf("account %s: %w", acct, ErrNoSuchEntity)
	}
	u, ok := a.users[name]
	if !ok {
		return nil, fmt.Errorf("user %s: %w", name, ErrNoSuchEntity)
	}
	return u, nil
}

// userKeys returns a user's undeleted long-term keys, oldest first.
func (s *Server) userKeys(acct, name string) []*accessKey {
	var out []*accessKey
	for _, k := range s.keys {
		if k.account == acct && k.user == name && !k.temporary && !k.deleted && !k.root {
			out = append(out, k)
		}
	}
	sortKeys(out)
	return out
}

// sortKeys orders keys oldest first, as IAM lists them.
func sortKeys(out []*accessKey) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].id < out[j].id
	})
}

func (s *Server) mintKey(prefix, acct string, set func(*accessKey)) (*accessKey, error) {
	id, err := s.newID(prefix, acct)
	if err != nil {
		return nil, err
	}
	secret, err := s.randString(30)
	if err != nil {
		return nil, err
	}
	k := &accessKey{id: id, secret: secret[:40], account: acct, status: "Active", created: s.now().UTC()}
	set(k)
	s.keys[id] = k
	return k, nil
}

// newID mints an identifier that decodes to acct, as AWS's do.
func (s *Server) newID(prefix, acct string) (string, error) {
	for {
		// User and role IDs (AIDA, AROA) are built like key IDs but are not
		// credentials, so patterns only mints them under a key prefix.
		id, err := patterns.NewKeyID("AKIA", acct, s.rnd)
		if err != nil {
			return "", err
		}
		id = prefix + id[4:]
		if _, taken := s.keys[id]; !taken {
			return id, nil
		}
	}
}

func (s *Server) randString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rnd, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func (s *Server) requestID() string {
	s.seq++
	var b [8]byte
	io.ReadFull(s.rnd, b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%08x-%s-4%s-8%s-%s%08x", s.seq, h[0:4], h[4:7], h[7:10], h[10:14], s.seq)
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func (s *Server) userARN(acct, name string) string {
	return "arn:" + s.partition + ":iam::" + acct + ":user/" + name
}
func (s *Server) roleARN(acct, name string) string {
	return "arn:" + s.partition + ":iam::" + acct + ":role/" + name
}
func (s *Server) rootARN(acct string) string { return "arn:" + s.partition + ":iam::" + acct + ":root" }

// principalOf describes who a key acts as: its ARN and user ID as
// GetCallerIdentity reports them.
func (s *Server) principalOf(k *accessKey) (arn, userID string) {
	switch {
	case k.root:
		return s.rootARN(k.account), k.account
	case k.federated:
		return "arn:" + s.partition + ":sts::" + k.account + ":federated-user/" + k.sessionName, k.account + ":" + k.sessionName
	case k.roleName != "":
		a := s.accounts[k.account]
		rid := ""
		if r, ok := a.roles[k.roleName]; ok {
			rid = r.id
		}
		return "arn:" + s.partition + ":sts::" + k.account + ":assumed-role/" + k.roleName + "/" + k.sessionName, rid + ":" + k.sessionName
	case k.temporary:
		// GetSessionToken credentials act as the user (or root) that
		// minted them.
		if p, ok := s.keys[k.parent]; ok {
			return s.principalOf(p)
		}
		return s.userARN(k.account, k.user), ""
	default:
		a := s.accounts[k.account]
		uid := ""
		if u, ok := a.users[k.user]; ok {
			uid = u.id
		}
		return s.userARN(k.account, k.user), uid
	}
}
