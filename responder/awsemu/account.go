package awsemu

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The Account Management API (service name "account") speaks REST-JSON:
// each operation is a POST to its own path, with a JSON body, and errors
// carry their code in X-Amzn-ErrorType. Only ListRegions is emulated: the
// responder asks it which regions an investigation must cover.

// accountRoutes maps REST-JSON paths to Account Management operations.
var accountRoutes = map[string]string{
	"/listRegions": "ListRegions",
}

// listRegionsMaxResults is ListRegions' largest page (Account Management
// API Reference).
const listRegionsMaxResults = 50

// defaultEnabledRegions are enabled in every commercial account and cannot
// be disabled (ENABLED_BY_DEFAULT).
var defaultEnabledRegions = []string{
	"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
	"ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1",
	"eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
}

// optInRegions must be enabled by the account before anything can be done
// in them; until then they are DISABLED and refuse credentials.
var optInRegions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-west-1",
	"eu-central-2", "eu-south-1", "eu-south-2", "il-central-1",
	"me-central-1", "me-south-1", "mx-central-1",
}

// partitionRegions are the regions of the other partitions, all enabled
// by default.
var partitionRegions = map[string][]string{
	"aws-us-gov": {"us-gov-east-1", "us-gov-west-1"},
	"aws-cn":     {"cn-north-1", "cn-northwest-1"},
}

func (s *Server) defaultRegions() []string {
	if r, ok := partitionRegions[s.partition]; ok {
		return r
	}
	return defaultEnabledRegions
}

func (s *Server) optInRegions() []string {
	if _, ok := partitionRegions[s.partition]; ok {
		return nil
	}
	return optInRegions
}

// EnableRegion enables an opt-in region in an account, as the account's
// owner would in the console, so that credentials work there and
// ListRegions reports it ENABLED. Accounts start with none enabled.
func (s *Server) EnableRegion(acct, region string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[acct]
	if !ok {
		return fmt.Errorf("enable region: account %s: %w", acct, ErrNoSuchEntity)
	}
	if !slices.Contains(s.optInRegions(), region) {
		return fmt.Errorf("enable region %s: not an opt-in region: %w", region, ErrNoSuchEntity)
	}
	if a.optIn == nil {
		a.optIn = map[string]bool{}
	}
	a.optIn[region] = true
	return nil
}

// regionUsable reports whether credentials of acct work in region: default
// regions and enabled opt-in ones do; a disabled opt-in region rejects them
// as AWS does, with an invalid-token error. Unknown region names are
// accepted, since a custom endpoint signs with whatever is configured.
func (s *Server) regionUsable(acct, region string) bool {
	if !slices.Contains(s.optInRegions(), region) {
		return true
	}
	a := s.accounts[acct]
	return a != nil && a.optIn[region]
}

// LimitPage makes action answer at most n items a page, whatever
// MaxResults asks for, as AWS may: a client must follow NextToken rather
// than count. ListRegions, ListUsers and ListRoles honour it; 0 removes
// the limit.
func (s *Server) LimitPage(action string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.pageLimit == nil {
		s.faults.pageLimit = map[string]int{}
	}
	s.faults.pageLimit[action] = n
}

type listRegionsRequest struct {
	AccountId               *string
	MaxResults              *int
	NextToken               *string
	RegionOptStatusContains []string
}

// serveAccount answers the Account Management API.
func (s *Server) serveAccount(c *call) (any, *apiError) {
	if c.action != "ListRegions" {
		return nil, &apiError{404, "UnknownOperationException", "Unknown operation " + c.action}
	}
	if err := s.authorize(c, "account:ListRegions", "*"); err != nil {
		// REST-JSON services name the error AccessDeniedException.
		return nil, &apiError{err.status, "AccessDeniedException", err.msg}
	}
	var req listRegionsRequest
	if len(c.body) > 0 {
		if err := json.Unmarshal(c.body, &req); err != nil {
			return nil, &apiError{400, "ValidationException", "could not parse request"}
		}
	}
	c.params = map[string]any{"regionOptStatusContains": req.RegionOptStatusContains}
	if req.AccountId != nil && *req.AccountId != c.key.account {
		return nil, &apiError{403, "AccessDeniedException", "the caller is not in the organization's management account"}
	}
	max := listRegionsMaxResults
	if req.MaxResults != nil {
		max = *req.MaxResults
		if max < 1 || max > listRegionsMaxResults {
			return nil, &apiError{400, "ValidationException", "MaxResults must be between 1 and 50."}
		}
	}
	if n := s.faults.pageLimit[c.action]; n > 0 && n < max {
		max = n
	}
	want := map[string]bool{}
	for _, st := range req.RegionOptStatusContains {
		switch st {
		case "ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT":
			want[st] = true
		default:
			return nil, &apiError{400, "ValidationException", "invalid RegionOptStatus " + st}
		}
	}
	a := s.accounts[c.key.account]
	type region struct{ name, status string }
	var all []region
	for _, r := range s.defaultRegions() {
		all = append(all, region{r, "ENABLED_BY_DEFAULT"})
	}
	for _, r := range s.optInRegions() {
		st := "DISABLED"
		if a.optIn[r] {
			st = "ENABLED"
		}
		all = append(all, region{r, st})
	}
	slices.SortFunc(all, func(x, y region) int {
		switch {
		case x.name < y.name:
			return -1
		case x.name > y.name:
			return 1
		}
		return 0
	})
	var match []region
	for _, r := range all {
		if len(want) == 0 || want[r.status] {
			match = append(match, r)
		}
	}
	// The token is the index of the next region, bound to the filter like
	// CloudTrail's.
	filter := fmt.Sprintf("%s|listRegions|%v", c.key.account, req.RegionOptStatusContains)
	from := 0
	if req.NextToken != nil {
		var ok bool
		if from, ok = parseNextToken(*req.NextToken, filter); !ok || from > len(match) {
			return nil, &apiError{400, "ValidationException", "Invalid NextToken."}
		}
	}
	list := []any{}
	out := map[string]any{}
	for i := from; i < len(match); i++ {
		if len(list) == max {
			out["NextToken"] = nextToken(i, filter)
			break
		}
		list = append(list, map[string]any{"RegionName": match[i].name, "RegionOptStatus": match[i].status})
	}
	out["Regions"] = list
	return out, nil
}
