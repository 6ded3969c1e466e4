package patterns

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Beyond AWS (issue 5, "More than AWS"): the credentials that most often sit
// beside an AWS key in a leaked .env file, CI configuration or notebook.
// These rules are detection only: keyward validates and responds to AWS
// keys alone, so their findings carry no KeyID and their Secret is the
// match itself, redacted like any other.
//
// Every regexp here begins with a literal prefix. Go's regexp engine skips
// to the next occurrence of that prefix with a vectorised search, so a rule
// costs little more than its keyword check on content that lacks the
// prefix; a pattern opening with a character class or \b would instead step
// the NFA over every byte. The price is that most rules check only the
// right-hand boundary of a token.

// Rule IDs beyond AWS. Like the AWS IDs they are part of keyward's stable
// interface: baselines, allowlists and SARIF results refer to them.
const (
	RulePrivateKey          = "private-key"
	RuleOpenSSHPrivateKey   = "openssh-private-key"
	RulePuTTYPrivateKey     = "putty-private-key"
	RulePGPPrivateKey       = "pgp-private-key"
	RuleGCPServiceAccount   = "gcp-service-account-key"
	RuleGitHubPAT           = "github-pat"
	RuleGitHubFineGrained   = "github-fine-grained-pat"
	RuleGitHubOAuth         = "github-oauth-token"
	RuleGitHubApp           = "github-app-token"
	RuleGitHubRefresh       = "github-refresh-token"
	RuleGitLabPAT           = "gitlab-pat"
	RuleGitLabToken         = "gitlab-token"
	RuleNPMToken            = "npm-token"
	RulePyPIToken           = "pypi-token"
	RuleDockerHubPAT        = "dockerhub-pat"
	RuleSlackToken          = "slack-token"
	RuleSlackAppToken       = "slack-app-token"
	RuleSlackWebhook        = "slack-webhook"
	RuleStripeSecretKey     = "stripe-secret-key"
	RuleStripeRestrictedKey = "stripe-restricted-key"
	RuleTwilioAPIKey        = "twilio-api-key"
	RuleSendGridAPIKey      = "sendgrid-api-key"
	RuleGoogleAPIKey        = "google-api-key"
	RuleAzureStorageKey     = "azure-storage-connection-string"
	RuleOpenAIAPIKey        = "openai-api-key"
	RuleAnthropicAPIKey     = "anthropic-api-key"
	RuleBedrockAPIKey       = "aws-bedrock-api-key"
	RuleAmazonMWSToken      = "amazon-mws-auth-token"
)

// TokenEntropyFloor is the entropy floor of the prefixed tokens (GitHub,
// npm, Slack, ...), measured over the whole match, prefix included. A
// random 36-character body from 62 letters measures 4.6 to 5.0 bits per
// byte; hand-typed stand-ins such as ghp_xxxxxxxxxxxx... or
// ghp_123456789012... measure 3.3 or less.
const TokenEntropyFloor = 3.5

// HexEntropyFloor is the floor for hex or short bodies (Twilio SIDs, MWS
// UUIDs, 20-character GitLab tokens): 32 random hex digits measure about
// 3.7 bits per byte, "SK" followed by zeros or a repeated pattern 2 or less.
const HexEntropyFloor = 3.0

// Others returns the built-in rules for credentials other than AWS access
// keys, in a stable order: private keys first, since one unlocks the most,
// and within a family the more specific rule first, since the scanner
// reports a credential that two rules match under the first.
func Others() []Rule {
	var rs []Rule
	rs = append(rs, privateKeyRules()...)
	rs = append(rs, forgeRules()...)
	rs = append(rs, serviceRules()...)
	rs = append(rs, cloudRules()...)
	return rs
}

// All returns every built-in rule: the AWS flagship rules, then Others.
// It is what the scanner runs by default.
func All() []Rule {
	return append(AWS(), Others()...)
}

// IsAWS reports whether id names one of the AWS access-key rules, the only
// ones whose findings keyward validates and responds to.
func IsAWS(id string) bool {
	switch id {
	case RuleAWSAccessKeyID, RuleAWSSecretAccessKey, RuleAWSSessionToken:
		return true
	}
	return false
}

// tokenPlaceholder returns an Allowlist.Placeholder for a prefixed token
// whose random part starts skip bytes into the match: it drops bodies that
// spell out a placeholder word, repeat a few characters, walk the alphabet
// or fall under the entropy floor.
func tokenPlaceholder(skip int) func(c []byte, floor float64) bool {
	return func(c []byte, floor float64) bool {
		if len(c) <= skip {
			return true
		}
		return isPlaceholderBody(c[skip:]) || Entropy(c) < floor
	}
}

// tokenWords mark documentation stand-ins inside a token's body. They are
// five letters or more, like placeholderWords, so a random body spells one
// by chance far less than once in a million tokens.
var tokenWords = []string{"example", "sample", "placeholder", "dummy", "redacted", "xxxxx", "your_", "your-", "insert", "replace", "changeme"}

// isPlaceholderBody reports whether a token body was typed by a person.
func isPlaceholderBody(body []byte) bool {
	if distinct(body) <= 6 || longestWalk(body) >= 8 {
		return true
	}
	return containsFold(body, tokenWords...)
}

// hashAllowed returns an Allowlist.Placeholder that drops values whose
// SHA-256 is listed, and otherwise defers to next. Documented sample keys
// that look live to push protection (the Azure storage emulator's account
// key) are allowlisted this way, so the repository never holds them in the
// clear.
func hashAllowed(next func([]byte, float64) bool, hexSHA256 ...string) func([]byte, float64) bool {
	return func(c []byte, floor float64) bool {
		sum := sha256.Sum256(c)
		h := hex.EncodeToString(sum[:])
		for _, x := range hexSHA256 {
			if h == x {
				return true
			}
		}
		return next != nil && next(c, floor)
	}
}

// containsFold reports whether s contains any of the lower-case words,
// ignoring case.
func containsFold(s []byte, words ...string) bool {
	ls := bytes.ToLower(s)
	for _, w := range words {
		if strings.Contains(string(ls), w) {
			return true
		}
	}
	return false
}
