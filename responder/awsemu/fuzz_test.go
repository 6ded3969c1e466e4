package awsemu

import "testing"

// FuzzParseAuthorization: the Authorization header parser must never panic
// on what a client sends.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=, Signature=")
	f.Add("Basic dXNlcjpwYXNz")
	f.Fuzz(func(t *testing.T, h string) {
		ar, ok := parseAuthorization(h)
		if ok && (ar.keyID == "" || ar.signature == "" || len(ar.signedHeaders) == 0) {
			t.Fatalf("accepted an incomplete header: %+v", ar)
		}
	})
}

// FuzzParsePolicy: policy documents come from API callers; parsing and
// evaluating them must never panic.
func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]}`)
	f.Add(`{"Statement":{"Effect":"Allow","NotAction":["iam:*"],"Resource":"arn:aws:iam::1:user/[a"}}`)
	f.Add(`{"Statement":[{"Effect":"Maybe"}]}`)
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::1:user/a"]},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":"*","NotResource":"x","Action":"*"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		if _, err := parsePolicy(doc); err != nil {
			return
		}
		evaluate([]string{doc}, reqContext{action: "iam:UpdateAccessKey", resource: "arn:aws:iam::1:user/a"})
		trustDecision(doc, "1", []string{"arn:aws:iam::1:user/a"}, reqContext{action: "sts:AssumeRole", resource: "arn:aws:iam::1:role/r"})
	})
}
