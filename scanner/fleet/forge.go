package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Forge API defaults; GITHUB_API_URL and CI_API_V4_URL, which GitHub
// Actions and GitLab CI set for their own instance, override them.
const (
	DefaultGitHubAPI = "https://api.github.com"
	DefaultGitLabAPI = "https://gitlab.com/api/v4"
)

// Listing limits: a page is the most either API returns at once, and
// maxPages stops a misbehaving server from paging forever (100,000
// repositories).
const (
	pageSize     = 100
	maxPages     = 1000
	maxPageBytes = 32 << 20
)

// ForgeClient lists repositories through a forge's REST API.
type ForgeClient struct {
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
	// BaseURL is the API root, e.g. https://api.github.com or
	// https://gitlab.example.com/api/v4.
	BaseURL string
	// Token authenticates; empty lists public repositories only. It is
	// sent only to BaseURL's host and never appears in errors.
	Token string
}

// GitHubOrg lists the clone URLs of an organisation's repositories
// (GET /orgs/ORG/repos), following the Link header's next page. Archived
// repositories are included: their history still holds whatever leaked.
func (c *ForgeClient) GitHubOrg(ctx context.Context, org string) ([]Repo, error) {
	next := c.endpoint("/orgs/" + url.PathEscape(org) + "/repos?type=all&per_page=" + strconv.Itoa(pageSize))
	var repos []Repo
	for page := 0; next != ""; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("list github org %s: more than %d pages", org, maxPages)
		}
		var items []struct {
			CloneURL string `json:"clone_url"`
		}
		h, err := c.get(ctx, next, "github", &items)
		if err != nil {
			return nil, fmt.Errorf("list github org %s: %w", org, err)
		}
		for _, it := range items {
			r, err := NewRepo(it.CloneURL)
			if err != nil {
				return nil, fmt.Errorf("list github org %s: %w", org, err)
			}
			repos = append(repos, r)
		}
		next = nextLink(h.Get("Link"))
	}
	return Dedupe(repos), nil
}

// GitLabGroup lists the clone URLs of a group's projects, subgroups
// included (GET /groups/GROUP/projects), following X-Next-Page.
func (c *ForgeClient) GitLabGroup(ctx context.Context, group string) ([]Repo, error) {
	base := c.endpoint("/groups/" + url.PathEscape(group) + "/projects?include_subgroups=true&per_page=" + strconv.Itoa(pageSize))
	var repos []Repo
	for page, pageNo := 0, "1"; pageNo != ""; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("list gitlab group %s: more than %d pages", group, maxPages)
		}
		var items []struct {
			HTTPURL string `json:"http_url_to_repo"`
		}
		h, err := c.get(ctx, base+"&page="+url.QueryEscape(pageNo), "gitlab", &items)
		if err != nil {
			return nil, fmt.Errorf("list gitlab group %s: %w", group, err)
		}
		for _, it := range items {
			r, err := NewRepo(it.HTTPURL)
			if err != nil {
				return nil, fmt.Errorf("list gitlab group %s: %w", group, err)
			}
			repos = append(repos, r)
		}
		pageNo = strings.TrimSpace(h.Get("X-Next-Page"))
	}
	return Dedupe(repos), nil
}

func (c *ForgeClient) endpoint(path string) string {
	return strings.TrimSuffix(c.BaseURL, "/") + path
}

// get fetches one page into v. Pages must stay on BaseURL's host, so a
// Link header cannot send the token elsewhere.
func (c *ForgeClient) get(ctx context.Context, rawURL, forge string, v any) (http.Header, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bad page URL: %w", err)
	}
	base, err := url.Parse(c.BaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("bad API URL %q", c.BaseURL)
	}
	if u.Host != base.Host {
		return nil, fmt.Errorf("page URL %s is not on %s", u.Redacted(), base.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		if forge == "github" {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		} else {
			req.Header.Set("PRIVATE-TOKEN", c.Token)
		}
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxPageBytes {
		return nil, fmt.Errorf("GET %s: page over %d bytes", u.Path, maxPageBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u.Path, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("GET %s: not a list of repositories: %w", u.Path, err)
	}
	return resp.Header, nil
}

var linkNext = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`) })

// nextLink is the rel="next" URL of an RFC 8288 Link header, "" if none.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		if m := linkNext().FindStringSubmatch(part); m != nil {
			return m[1]
		}
	}
	return ""
}
