package patterns

import (
	"bytes"
)

// SaaS credentials that live in the same .env files as AWS keys: chat,
// payments, messaging and e-mail. Stripe test-mode keys (sk_test_) are
// deliberately not reported: they move no money and are meant to be shared
// among developers.
//
// Slack:    https://api.slack.com/authentication/token-types
// Stripe:   https://docs.stripe.com/keys
// Twilio:   https://www.twilio.com/docs/iam/api-keys
// SendGrid: https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys

var (
	// Bot, user, workspace-app and refresh tokens: a type letter, then
	// dash-separated numeric IDs and a random tail.
	reSlackToken    = Lazy(`xox[abpr]-[0-9]{1,13}-[0-9A-Za-z-]{20,250}`)
	reSlackAppToken = Lazy(`xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,13}-[a-f0-9]{32,64}\b`)
	reSlackWebhook  = Lazy(`hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{20,32}\b`)
	reStripeSecret  = Lazy(`sk_live_[A-Za-z0-9]{24,247}\b`)
	reStripeRestrct = Lazy(`rk_live_[A-Za-z0-9]{24,247}\b`)
	// Twilio API key SIDs are "SK" and 32 lowercase hex digits; alone they
	// are identifiers, so the rule asks for "twilio" in the same content.
	reTwilioAPIKey = Lazy(`SK[0-9a-f]{32}\b`)
	reSendGridKey  = Lazy(`(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)`)
)

func serviceRules() []Rule {
	return []Rule{
		{
			ID:          RuleSlackToken,
			Description: "Slack bot, user, app or refresh token (xoxb-, xoxp-, xoxa-, xoxr-)",
			Keywords:    []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-"},
			Matcher:     MatchRegexp,
			Regexp:      reSlackToken,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("xoxb-"))},
			Samples: Samples{
				True: []string{
					"SLACK_BOT_TOKEN={{SLACK_BOT}}\n",
					`client = WebClient(token="{{SLACK_USER}}")`,
					"slack:\n  token: {{SLACK_BOT}}\n",
				},
				False: []string{
					"SLACK_BOT_TOKEN=xoxb-your-token",
					"SLACK_BOT_TOKEN=xoxb-000000000000-0000000000000-XXXXXXXXXXXXXXXXXXXXXXXX",
					"SLACK_BOT_TOKEN=xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx",
					"SLACK_TOKEN=xoxb-${SLACK_BOT_TOKEN}",
				},
			},
		},
		{
			ID:          RuleSlackAppToken,
			Description: "Slack app-level token (xapp-)",
			Keywords:    []string{"xapp-"},
			Matcher:     MatchRegexp,
			Regexp:      reSlackAppToken,
			MinEntropy:  HexEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("xapp-"))},
			Samples: Samples{
				True:  []string{"SLACK_APP_TOKEN={{SLACK_APP}}\n"},
				False: []string{"SLACK_APP_TOKEN=xapp-1-A0000000000-0000000000000-" + repeat("0", 64)},
			},
		},
		{
			ID:          RuleSlackWebhook,
			Description: "Slack incoming webhook URL (hooks.slack.com/services/T.../B.../...)",
			Keywords:    []string{"hooks.slack.com/"},
			Matcher:     MatchRegexp,
			Regexp:      reSlackWebhook,
			MinEntropy:  TokenEntropyFloor,
			Allow: Allowlist{Placeholder: func(c []byte, floor float64) bool {
				i := bytes.LastIndexByte(c, '/')
				return isPlaceholderBody(c[i+1:]) || Entropy(c) < floor
			}},
			Samples: Samples{
				True: []string{
					"SLACK_WEBHOOK_URL=https://{{SLACK_WEBHOOK}}\n",
					`requests.post("https://{{SLACK_WEBHOOK}}", json=msg)`,
				},
				False: []string{
					"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
					"https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/your-webhook-path",
					"https://hooks.slack.com/services/...",
				},
			},
		},
		{
			ID:          RuleStripeSecretKey,
			Description: "Stripe live secret key (sk_live_); test-mode keys are not reported",
			Keywords:    []string{"sk_live_"},
			Matcher:     MatchRegexp,
			Regexp:      reStripeSecret,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("sk_live_"))},
			Samples: Samples{
				True: []string{
					"STRIPE_SECRET_KEY={{STRIPE_LIVE}}\n",
					"Stripe.api_key = '{{STRIPE_LIVE_SHORT}}'\n",
				},
				False: []string{
					"STRIPE_SECRET_KEY={{STRIPE_TEST}}",
					"STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
					"STRIPE_SECRET_KEY=sk_live_...",
				},
			},
		},
		{
			ID:          RuleStripeRestrictedKey,
			Description: "Stripe live restricted key (rk_live_)",
			Keywords:    []string{"rk_live_"},
			Matcher:     MatchRegexp,
			Regexp:      reStripeRestrct,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("rk_live_"))},
			Samples: Samples{
				True:  []string{"STRIPE_KEY={{STRIPE_RESTRICTED}}\n"},
				False: []string{"STRIPE_KEY=rk_live_<restricted-key>", "STRIPE_KEY=rk_live_000000000000000000000000"},
			},
		},
		{
			ID:          RuleTwilioAPIKey,
			Description: "Twilio API key SID (SK + 32 hex) in content that names Twilio",
			Keywords:    []string{"twilio"},
			Matcher:     MatchRegexp,
			Regexp:      reTwilioAPIKey,
			MinEntropy:  HexEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("SK"))},
			Samples: Samples{
				True: []string{
					"TWILIO_ACCOUNT_SID={{TWILIO_AC}}\nTWILIO_API_KEY={{TWILIO_SK}}\nTWILIO_API_SECRET={{TWILIO_SECRET}}\n",
					"client = twilio.Client('{{TWILIO_SK}}', secret, '{{TWILIO_AC}}')",
				},
				False: []string{
					"api_key = {{TWILIO_SK}}\n",
					"TWILIO_API_KEY=SK00000000000000000000000000000000",
					"TWILIO_API_KEY=SKxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
				},
			},
		},
		{
			ID:          RuleSendGridAPIKey,
			Description: "SendGrid API key (SG.<22>.<43>)",
			Keywords:    []string{"SG."},
			Matcher:     MatchRegexp,
			Regexp:      reSendGridKey,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("SG."))},
			Samples: Samples{
				True: []string{
					"SENDGRID_API_KEY={{SENDGRID}}\n",
					`sg = SendGridAPIClient("{{SENDGRID}}")`,
				},
				False: []string{
					"SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
					"SENDGRID_API_KEY=SG.your_api_key",
					"msg.Header.Set(\"X-SG.\", v)",
				},
			},
		},
	}
}
