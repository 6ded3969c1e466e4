package patterns

// canaryAccounts are AWS accounts known to issue canary tokens: keys planted
// to be stolen, whose every use (GetCallerIdentity included) alerts the
// planter. keyward never contacts AWS with a key from these accounts, so a
// scan cannot be mistaken for the thief. The list is Thinkst's canarytokens.org
// accounts and the off-brand services modelled on it, as collected by
// trufflehog's AWS detector (pkg/detectors/aws/access_keys/canary.go).
var canaryAccounts = map[string]string{
	"052310077262": "canarytokens.org",
	"171436882533": "canarytokens.org",
	"534261010715": "canarytokens.org",
	"595918472158": "canarytokens.org",
	"717712589309": "canarytokens.org",
	"819147034852": "canarytokens.org",
	"992382622183": "canarytokens.org",
	"730335385048": "canarytokens.org",
	"266735846894": "canarytokens.org",
	"893192397702": "canarytokens.org",
	"044858866125": "canarytokens look-alike",
	"251535659677": "canarytokens look-alike",
	"344043088457": "canarytokens look-alike",
	"351906852752": "canarytokens look-alike",
	"390477818340": "canarytokens look-alike",
	"426127672474": "canarytokens look-alike",
	"427150556519": "canarytokens look-alike",
	"439872796651": "canarytokens look-alike",
	"445142720921": "canarytokens look-alike",
	"465867158099": "canarytokens look-alike",
	"637958123769": "canarytokens look-alike",
	"693412236332": "canarytokens look-alike",
	"732624840810": "canarytokens look-alike",
	"735421457923": "canarytokens look-alike",
	"959235150393": "canarytokens look-alike",
	"982842642351": "canarytokens look-alike",
}

// CanaryAccount reports whether account belongs to a known canary-token
// service and, if so, which.
func CanaryAccount(account string) (service string, ok bool) {
	service, ok = canaryAccounts[account]
	return service, ok
}

// CanaryAccounts returns the known canary accounts, for documentation and
// tests.
func CanaryAccounts() []string {
	out := make([]string, 0, len(canaryAccounts))
	for a := range canaryAccounts {
		out = append(out, a)
	}
	return out
}
