package patterns

import (
	"bytes"
)

// Cloud and AI-platform keys. Amazon Bedrock API keys and MWS tokens are
// Amazon's, but keyward does not validate or respond to them: the responder
// works on IAM access keys, and a Bedrock key is revoked from the IAM
// console's service-specific credentials page instead.
//
// Google:    https://cloud.google.com/docs/authentication/api-keys
// Azure:     https://learn.microsoft.com/azure/storage/common/storage-configure-connection-string
// OpenAI:    https://platform.openai.com/docs/api-reference/authentication
// Anthropic: https://docs.anthropic.com/en/api/getting-started
// Bedrock:   https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html

var (
	reGoogleAPIKey = Lazy(`(?P<secret>AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)`)
	// The account key is 64 random bytes, 88 characters of base64.
	reAzureStorage = Lazy(`DefaultEndpointsProtocol=https?;(?:[A-Za-z]+=[^;"'\s]*;)*?AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)`)
	// Every OpenAI key format (legacy sk-, sk-proj-, sk-svcacct-,
	// sk-admin-) embeds "T3BlbkFJ", the base64 of "OpenAI".
	reOpenAIKey    = Lazy(`sk-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}`)
	reAnthropicKey = Lazy(`sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,}`)
	// Long-term Bedrock API keys are "ABSK" and base64.
	reBedrockKey = Lazy(`ABSK[A-Za-z0-9+/]{100,}={0,2}`)
	reMWSToken   = Lazy(`amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
)

// maxBedrockKey bounds a Bedrock key match. Real keys are 130 to 300
// characters; a longer run starting "ABSK" is the middle of some base64
// blob (an embedded image, a bundled font), where "ABSK" turns up by chance
// about once in 16 MB.
const maxBedrockKey = 400

// azuriteKeySHA256 is the SHA-256 of the account key of the Azure Storage
// emulator (Azurite, "devstoreaccount1"), which Microsoft documents and
// every local-development config repeats. Only its hash is kept here.
const azuriteKeySHA256 = "0011cc25eb4320717494d2703e8cba85743e71b500283c21c8b88147992f9059"

func cloudRules() []Rule {
	return []Rule{
		{
			ID:          RuleGoogleAPIKey,
			Description: "Google API key (AIza + 35 characters)",
			Keywords:    []string{"AIza"},
			Matcher:     MatchRegexp,
			Regexp:      reGoogleAPIKey,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("AIza"))},
			Samples: Samples{
				True: []string{
					"GOOGLE_API_KEY={{GOOGLE_API}}\n",
					`<script src="https://maps.googleapis.com/maps/api/js?key={{GOOGLE_API}}&callback=init"></script>`,
					`"apiKey": "{{GOOGLE_API}}"`,
				},
				False: []string{
					"GOOGLE_API_KEY=AIzaXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
					"GOOGLE_API_KEY=AIza_your_api_key_goes_here_1234567890",
					"key={{GOOGLE_API}}x",
				},
			},
		},
		{
			ID:          RuleAzureStorageKey,
			Description: "Azure Storage connection string with its account key (DefaultEndpointsProtocol=...;AccountKey=...)",
			Keywords:    []string{"AccountKey="},
			Matcher:     MatchRegexp,
			Regexp:      reAzureStorage,
			MinEntropy:  TokenEntropyFloor,
			Allow: Allowlist{Placeholder: hashAllowed(func(c []byte, floor float64) bool {
				return isPlaceholderBody(c) || Entropy(c) < floor
			}, azuriteKeySHA256)},
			Samples: Samples{
				True: []string{
					"AZURE_STORAGE_CONNECTION_STRING=\"DefaultEndpointsProtocol=https;AccountName=prodlogs;AccountKey={{AZURE_KEY}};EndpointSuffix=core.windows.net\"\n",
					`"ConnectionStrings": {"Blob": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={{AZURE_KEY}}"}`,
				},
				False: []string{
					"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=<account-key>;EndpointSuffix=core.windows.net",
					"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + repeat("A", 86) + "==",
					"UseDevelopmentStorage=true",
				},
			},
		},
		{
			ID:          RuleOpenAIAPIKey,
			Description: "OpenAI API key (sk-, sk-proj-, sk-svcacct-, with the T3BlbkFJ marker)",
			Keywords:    []string{"T3BlbkFJ"},
			Matcher:     MatchRegexp,
			Regexp:      reOpenAIKey,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("sk-"))},
			Samples: Samples{
				True: []string{
					"OPENAI_API_KEY={{OPENAI_PROJECT}}\n",
					`client = OpenAI(api_key="{{OPENAI_LEGACY}}")`,
				},
				False: []string{
					"OPENAI_API_KEY=sk-...",
					"OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxT3BlbkFJxxxxxxxxxxxxxxxxxxxx",
					"OPENAI_API_KEY=sk-{{GITHUB_PAT}}",
				},
			},
		},
		{
			ID:          RuleAnthropicAPIKey,
			Description: "Anthropic API or admin key (sk-ant-api03-, sk-ant-admin01-)",
			Keywords:    []string{"sk-ant-"},
			Matcher:     MatchRegexp,
			Regexp:      reAnthropicKey,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("sk-ant-api03-"))},
			Samples: Samples{
				True: []string{
					"ANTHROPIC_API_KEY={{ANTHROPIC}}\n",
					`client = anthropic.Anthropic(api_key="{{ANTHROPIC_ADMIN}}")`,
				},
				False: []string{
					"ANTHROPIC_API_KEY=sk-ant-api03-...",
					"ANTHROPIC_API_KEY=sk-ant-api03-" + repeat("x", 93) + "AA",
				},
			},
		},
		{
			ID:          RuleBedrockAPIKey,
			Description: "Amazon Bedrock long-term API key (ABSK...); detection only, not validated",
			Keywords:    []string{"ABSK"},
			Matcher:     MatchRegexp,
			Regexp:      reBedrockKey,
			MinEntropy:  TokenEntropyFloor,
			Allow: Allowlist{Placeholder: func(c []byte, floor float64) bool {
				return len(c) > maxBedrockKey || tokenPlaceholder(len("ABSK"))(c, floor)
			}},
			Samples: Samples{
				True: []string{
					"AWS_BEARER_TOKEN_BEDROCK={{BEDROCK}}\n",
					`{"bedrockApiKey": "{{BEDROCK}}"}`,
				},
				False: []string{
					"AWS_BEARER_TOKEN_BEDROCK=ABSK...",
					"AWS_BEARER_TOKEN_BEDROCK=ABSK" + repeat("A", 120),
					"data:font/woff2;base64,{{BASE64_BLOB_ABSK}}",
				},
			},
		},
		{
			ID:          RuleAmazonMWSToken,
			Description: "Amazon Marketplace Web Service auth token (amzn.mws.<uuid>); detection only",
			Keywords:    []string{"amzn.mws."},
			Matcher:     MatchRegexp,
			Regexp:      reMWSToken,
			MinEntropy:  HexEntropyFloor,
			Allow: Allowlist{Placeholder: func(c []byte, floor float64) bool {
				body := bytes.ReplaceAll(c[len("amzn.mws."):], []byte("-"), nil)
				return isPlaceholderBody(body) || Entropy(body) < floor
			}},
			Samples: Samples{
				True: []string{
					"MWS_AUTH_TOKEN={{MWS_TOKEN}}\n",
					"<MWSAuthToken>{{MWS_TOKEN}}</MWSAuthToken>",
				},
				False: []string{
					"MWS_AUTH_TOKEN=amzn.mws.00000000-0000-0000-0000-000000000000",
					"MWS_AUTH_TOKEN=amzn.mws.xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
				},
			},
		},
	}
}
