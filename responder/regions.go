package responder

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	accttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
)

// RegionSource says where the regions an investigation searches came from.
type RegionSource string

// Where the investigated regions come from, best first.
const (
	// RegionsFromFlag: the operator listed them (--regions); they override.
	RegionsFromFlag RegionSource = "--regions"
	// RegionsFromAccount: account:ListRegions, so opt-in regions the
	// account enabled, where a thief may well have been, are covered.
	RegionsFromAccount RegionSource = "account:ListRegions"
	// RegionsFromDefault: the built-in list of default-enabled regions,
	// used when account:ListRegions is denied or unavailable; opt-in
	// regions are not covered.
	RegionsFromDefault RegionSource = "built-in default list"
)

// listRegionsPageSize is ListRegions' largest page.
const listRegionsPageSize = 50

// maxRegionPages bounds ListRegions paging: AWS has a few dozen regions, so
// more than this many pages means a server handing out tokens forever.
const maxRegionPages = 20

// RegionSet is the regions to investigate and where they came from.
type RegionSet struct {
	Regions []string     `json:"regions"`
	Source  RegionSource `json:"source"`
	// Why is set when the built-in list was used in place of the
	// account's own: what happened to account:ListRegions.
	Why string `json:"why,omitempty"`
}

// Fallback reports whether the built-in list stood in for the account's
// enabled regions, so opt-in regions went unsearched.
func (s RegionSet) Fallback() bool { return s.Source == RegionsFromDefault }

// Describe is the one-line account of the regions for the step's result
// and the report, e.g. "regions: built-in default list, account:ListRegions
// denied — opt-in regions not covered".
func (s RegionSet) Describe() string {
	switch s.Source {
	case RegionsFromDefault:
		return "regions: built-in default list, " + s.Why + " — opt-in regions not covered"
	case RegionsFromAccount:
		return "regions: every region enabled in the account (account:ListRegions)"
	}
	return "regions: as given by --regions"
}

// resolveRegions works out which regions to search: --regions if given,
// else every region the account has enabled, asked of account:ListRegions
// with the operator's credentials (never the leaked key's). When that is
// denied or fails it falls back to DefaultRegions and says why; only a
// cancelled context is an error.
func (r *Runner) resolveRegions(ctx context.Context) (RegionSet, error) {
	if len(r.Regions) > 0 {
		return RegionSet{Regions: r.Regions, Source: RegionsFromFlag}, nil
	}
	regions, err := r.listEnabledRegions(ctx)
	if err == nil {
		return RegionSet{Regions: regions, Source: RegionsFromAccount}, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return RegionSet{}, cerr
	}
	why := "account:ListRegions failed (" + errCode(err) + ")"
	var pe *PermissionError
	if errors.As(denied(err, StepInvestigate, "account:ListRegions", "*"), &pe) {
		why = "account:ListRegions denied"
	} else if errors.Is(err, errNoRegions) {
		why = "account:ListRegions returned no region"
	}
	return RegionSet{Regions: DefaultRegions, Source: RegionsFromDefault, Why: why}, nil
}

var errNoRegions = errors.New("list regions: no region returned")

// listEnabledRegions pages through account:ListRegions for the regions
// whose status is ENABLED or ENABLED_BY_DEFAULT, with us-east-1 first:
// IAM and STS events land there.
func (r *Runner) listEnabledRegions(ctx context.Context) ([]string, error) {
	client := account.NewFromConfig(r.cfg())
	in := &account.ListRegionsInput{
		RegionOptStatusContains: []accttypes.RegionOptStatus{accttypes.RegionOptStatusEnabled, accttypes.RegionOptStatusEnabledByDefault},
		MaxResults:              aws.Int32(listRegionsPageSize),
	}
	seen := map[string]bool{}
	var out []string
	for page := 0; ; page++ {
		if page == maxRegionPages {
			return nil, fmt.Errorf("list regions: more than %d pages", maxRegionPages)
		}
		resp, err := client.ListRegions(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, reg := range resp.Regions {
			name := aws.ToString(reg.RegionName)
			st := reg.RegionOptStatus
			if name == "" || seen[name] || (st != accttypes.RegionOptStatusEnabled && st != accttypes.RegionOptStatusEnabledByDefault) {
				continue
			}
			seen[name] = true
			out = append(out, name)
		}
		next := aws.ToString(resp.NextToken)
		if next == "" {
			break
		}
		if in.NextToken != nil && *in.NextToken == next {
			return nil, errors.New("list regions: the same NextToken twice")
		}
		in.NextToken = aws.String(next)
	}
	if len(out) == 0 {
		return nil, errNoRegions
	}
	slices.Sort(out)
	if i := slices.Index(out, DefaultRegion); i > 0 {
		out = append(append([]string{DefaultRegion}, out[:i]...), out[i+1:]...)
	}
	return out, nil
}
