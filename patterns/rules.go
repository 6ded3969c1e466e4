package patterns

import (
	"bytes"
	"regexp"
	"sync"
)

// Matcher names the algorithm that finds a rule's candidates. The AWS
// matchers are hand-written because their shapes are fixed and a literal
// prefilter plus a byte check is an order of magnitude faster than a regexp
// over the whole input.
type Matcher int

// Matchers known to the scanner.
const (
	// MatchKeyID finds access key IDs by their prefixes.
	MatchKeyID Matcher = iota + 1
	// MatchSecret finds 40-character secret access keys named by an AWS
	// context keyword or sitting near a key ID.
	MatchSecret
	// MatchSessionToken finds STS session tokens named by a context keyword.
	MatchSessionToken
	// MatchRegexp runs Rule.Regexp around keyword hits.
	MatchRegexp
)

// Rule is one detector: everything the scanner needs to find, filter and
// describe a kind of credential, plus samples that prove it does.
type Rule struct {
	// ID is stable: baselines, allowlists and SARIF results refer to it.
	ID          string
	Description string
	// Keywords are literals of which at least one must occur near a match;
	// the scanner searches for them before doing anything more expensive.
	// They match case-insensitively.
	Keywords []string
	Matcher  Matcher
	// Regexp is used with MatchRegexp; a group named "secret", if present,
	// delimits the secret inside the match.
	Regexp *Pattern
	// MinEntropy is the Shannon entropy floor, in bits per byte, below which
	// a candidate is taken for a placeholder.
	MinEntropy float64
	// Allow drops candidates that match the rule's shape but are known not
	// to be credentials.
	Allow Allowlist
	// Samples are expanded by patternstest.Expand and run by the scanner's
	// rule table test.
	Samples Samples
}

// Allowlist says which matched values a rule never reports.
type Allowlist struct {
	// Values are exact matched values never reported.
	Values []string
	// Placeholder reports whether a candidate is a placeholder; it is
	// given the rule's entropy floor.
	Placeholder func(candidate []byte, minEntropy float64) bool
}

// Allowed reports whether candidate is allowlisted.
func (a Allowlist) Allowed(candidate []byte, minEntropy float64) bool {
	for _, v := range a.Values {
		if v == string(candidate) {
			return true
		}
	}
	return a.Placeholder != nil && a.Placeholder(candidate, minEntropy)
}

// Samples are inputs a rule must (True) and must not (False) report. They
// are templates: {{AKIA}}, {{SECRET}} and friends are replaced at test time
// by freshly generated fake credentials (see patternstest.Expand), so that
// this repository never holds a live-looking key.
type Samples struct {
	True  []string
	False []string
}

// Rule IDs of the AWS family. They are part of keyward's stable interface.
const (
	RuleAWSAccessKeyID     = "aws-access-key-id"
	RuleAWSSecretAccessKey = "aws-secret-access-key"
	RuleAWSSessionToken    = "aws-session-token"
)

// SecretEntropyFloor is the least entropy a secret access key candidate may
// have. A random 40-character key from AWS's 64-letter alphabet measures
// about 4.8 bits per byte and practically never below 4.0, while typed text
// such as camel-case identifiers measures 3.5 to 4.2.
const SecretEntropyFloor = 4.0

// AWS returns the AWS rule family, the flagship of the table.
func AWS() []Rule {
	return []Rule{
		{
			ID:          RuleAWSAccessKeyID,
			Description: "AWS access key ID (AKIA, ASIA, ABIA, ACCA, A3T), paired with its secret access key when one is nearby",
			Keywords:    []string{"AKIA", "ASIA", "ABIA", "ACCA", "A3T"},
			Matcher:     MatchKeyID,
			Allow: Allowlist{
				Values: ExampleKeys[:2],
				Placeholder: func(c []byte, _ float64) bool {
					return IsPlaceholderKeyID(c)
				},
			},
			Samples: Samples{
				True: []string{
					"[default]\naws_access_key_id = {{AKIA}}\n",
					"AWS_ACCESS_KEY_ID={{AKIA}}\n",
					`{"AccessKeyId": "{{ASIA}}", "Expiration": "2026-01-01T00:00:00Z"}`,
					"key: {{ABIA}}\n",
					"id = '{{ACCA}}'\n",
					"legacy {{A3T}} key\n",
					"https://bucket.s3.amazonaws.com/o?AWSAccessKeyId={{AKIA}}&Expires=1700000000",
					"creds%3D{{AKIA}}%26x",
					`{"log":"started\n{{AKIA}} in use"}`,
					"<AccessKeyId>{{AKIA}}</AccessKeyId>",
					"user,{{AKIA}},{{SECRET}}\r\n",
					"aws_access_key_id: {{AKIA_B64}}\n",
				},
				False: []string{
					"aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
					"aws_access_key_id = AKIAI44QH8DHBEXAMPLE",
					"aws_access_key_id = {{AKIA_RUN}}",
					"aws_access_key_id = {{AKIA_WALK}}",
					"aws_access_key_id = AKIA0123456789018899",
					"aws_access_key_id = AKIA${AWS_KEY_SUFFIX}",
					"aws_access_key_id = AKIA<your-key-id-here>",
					"aws_access_key_id = akiaqz3xjv2k5m3n7wp4",
					"id = X{{AKIA}}",
					"id = {{AKIA}}Q",
					"id = {{AKIA}}7",
					"id = prefix_{{AKIA}}",
					"id = {{AKIA}}_suffix",
					"role = AROAQZ3XJV2K5M3N7WP4R",
				},
			},
		},
		{
			ID:          RuleAWSSecretAccessKey,
			Description: "AWS secret access key named by its context (aws_secret_access_key, SecretAccessKey, secret_key, ...) with no key ID nearby",
			Keywords:    []string{"secret"},
			Matcher:     MatchSecret,
			MinEntropy:  SecretEntropyFloor,
			Allow: Allowlist{
				Values:      ExampleKeys[2:],
				Placeholder: IsPlaceholderSecret,
			},
			Samples: Samples{
				True: []string{
					"aws_secret_access_key = {{SECRET}}\n",
					"AWS_SECRET_ACCESS_KEY=\"{{SECRET}}\"\n",
					`{"SecretAccessKey": "{{SECRET}}"}`,
					"secretAccessKey: '{{SECRET}}'\n",
					"aws.secret-key={{SECRET}}\n",
					`<credentials secretKey="{{SECRET}}"/>`,
					"secret_key: {{SECRET}}\r\n",
					"s3://x?aws_secret_access_key={{SECRET_URL}}&y=1",
					`{"secretAccessKey":"{{SECRET_JSON}}"}`,
					`{"secretAccessKey":"{{SECRET_UNICODE}}"}`,
					"  aws_secret_access_key: {{SECRET_B64}}\n",
					"client = boto3.client('s3', aws_secret_access_key=\"{{SECRET}}\")",
					"aws_secret_access_key: |\n  {{SECRET}}\n",
					// A JSON log line: the secret right after a "\n" escape.
					`{"msg":"aws_secret_access_key:\n{{SECRET}}"}`,
				},
				False: []string{
					"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
					"aws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
					"aws_secret_access_key = da39a3ee5e6b4b0d3255bfef95601890afd80709",
					"aws_secret_access_key = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
					"aws_secret_access_key = <your-secret-access-key-goes-here-please>",
					"aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
					"aws_secret_access_key = YourSecretAccessKeyGoesRightHere12345678",
					"aws_secret_access_key = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN",
					"aws_secret_access_key = {{SECRET}}Q",
					"value = {{SECRET}}\n",
					"commit = 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
				},
			},
		},
		{
			ID:          RuleAWSSessionToken,
			Description: "AWS STS session token named by its context (aws_session_token, SessionToken, ...) with no ASIA key ID nearby",
			Keywords:    []string{"token"},
			Matcher:     MatchSessionToken,
			MinEntropy:  4.5,
			Allow: Allowlist{
				// A Bedrock API key ("ABSK...") also sits in a *_TOKEN
				// variable (AWS_BEARER_TOKEN_BEDROCK); its own rule reports
				// it, so it is not also a session token.
				Placeholder: func(c []byte, floor float64) bool {
					return Entropy(c) < floor || IsExample(c) || bytes.HasPrefix(c, []byte("ABSK"))
				},
			},
			Samples: Samples{
				True: []string{
					"aws_session_token = {{TOKEN}}\n",
					"export AWS_SESSION_TOKEN={{TOKEN}}\n",
					`{"SessionToken": "{{TOKEN}}"}`,
					"sessionToken: {{TOKEN}}\n",
					"aws_security_token={{TOKEN}}\n",
				},
				False: []string{
					"aws_session_token = ${AWS_SESSION_TOKEN}",
					"aws_session_token = <session-token>",
					"csrf_token = 8f14e45fceea167a5a36dedd4bea2543",
					"aws_session_token = " + repeat("A", 300),
					"AWS_BEARER_TOKEN_BEDROCK={{BEDROCK}}",
				},
			},
		},
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}

// Pattern is a rule's regular expression. The built-in rules' patterns
// are compiled the first time a scan runs them: compiling all of them as
// the process started took 1.7 ms, a sixth of a hook's start-up, and most
// scans run few of the rules (a rule runs only where its keywords occur).
type Pattern struct {
	src string
	re  func() *regexp.Regexp
}

// Lazy returns the pattern src, compiled on first use. src must compile:
// every built-in pattern is compiled by the rule table's tests.
func Lazy(src string) *Pattern {
	return &Pattern{src: src, re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(src) })}
}

// Compiled returns re, compiled already (a custom rule, checked as its
// configuration is read), as a Pattern.
func Compiled(re *regexp.Regexp) *Pattern {
	return &Pattern{src: re.String(), re: func() *regexp.Regexp { return re }}
}

// Regexp returns the compiled expression.
func (p *Pattern) Regexp() *regexp.Regexp { return p.re() }

// String returns the expression's source.
func (p *Pattern) String() string { return p.src }
