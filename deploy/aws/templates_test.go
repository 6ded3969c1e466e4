package awsdeploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/keyward/keyward/responder"
)

var update = flag.Bool("update", false, "rewrite the committed templates")

// TestTemplatesUpToDate fails when a committed template differs from what
// the step table generates: run 'go generate ./deploy/aws'.
func TestTemplatesUpToDate(t *testing.T) {
	for file, tmpl := range map[string]obj{MainTemplateFile: MainTemplate(), MemberTemplateFile: MemberTemplate()} {
		want := Render(tmpl)
		if *update {
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: the step table changed; run 'go generate ./deploy/aws'", file)
		}
	}
}

type template struct {
	Transform string                     `json:"Transform"`
	Resources map[string]json.RawMessage `json:"Resources"`
}

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

func load(t *testing.T, file string) map[string]resource {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl template
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	out := map[string]resource{}
	for name, raw := range tmpl.Resources {
		var r resource
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%s %s: %v", file, name, err)
		}
		out[name] = r
	}
	return out
}

// roleActions collects the Allow actions of a role's inline policies.
func roleActions(t *testing.T, r resource) (actions []string, byResource map[string][]string) {
	t.Helper()
	byResource = map[string][]string{}
	pols, _ := r.Properties["Policies"].([]any)
	for _, p := range pols {
		doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			if st["Effect"] != "Allow" {
				t.Fatalf("statement %v", st)
			}
			res, _ := json.Marshal(st["Resource"])
			for _, a := range st["Action"].([]any) {
				actions = append(actions, a.(string))
				byResource[string(res)] = append(byResource[string(res)], a.(string))
			}
		}
	}
	slices.Sort(actions)
	return slices.Compact(actions), byResource
}

// The committed templates, parsed as CloudFormation reads them: the
// resources are there, and each role is allowed exactly what the step table
// lists, nothing more.
func TestMainTemplate(t *testing.T) {
	res := load(t, MainTemplateFile)
	for name, typ := range map[string]string{
		"ReportBucket": "AWS::S3::Bucket", "ReportBucketPolicy": "AWS::S3::BucketPolicy", "NotificationTopic": "AWS::SNS::Topic",
		"ResponderFunctionRole": "AWS::IAM::Role", "ResponderFunction": "AWS::Serverless::Function",
		"HealthEventRule": "AWS::Events::Rule", "HealthEventPermission": "AWS::Lambda::Permission",
	} {
		if res[name].Type != typ {
			t.Errorf("%s: type %q, want %s", name, res[name].Type, typ)
		}
	}
	// The rule matches exactly AWS's exposed-key event.
	pat, _ := json.Marshal(res["HealthEventRule"].Properties["EventPattern"])
	want, _ := json.Marshal(EventPattern())
	if !bytes.Equal(pat, want) || !bytes.Contains(pat, []byte(`"eventTypeCode":["AWS_RISK_CREDENTIALS_EXPOSED"]`)) || !bytes.Contains(pat, []byte(`"source":["aws.health"]`)) {
		t.Errorf("event pattern %s", pat)
	}
	// The bucket is encrypted and private.
	b := res["ReportBucket"].Properties
	pab := b["PublicAccessBlockConfiguration"].(map[string]any)
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			t.Errorf("bucket %s = %v", k, pab[k])
		}
	}
	if enc, _ := json.Marshal(b["BucketEncryption"]); !bytes.Contains(enc, []byte(`"SSEAlgorithm":"aws:kms"`)) {
		t.Errorf("bucket encryption %s", enc)
	}
	// The function's role: the step table's runbook and organisation
	// actions, plus writing reports, publishing and logging. Nothing else.
	got, byRes := roleActions(t, res["ResponderFunctionRole"])
	wantActs := responder.ResponderPolicy(responder.Options{}).Actions()
	wantActs = append(wantActs, responder.OrganizationPolicy("arn:aws:iam::{account}:role/x").Actions()...)
	wantActs = append(wantActs, "s3:GetObject", "s3:ListBucket", "s3:PutObject", "sns:Publish", "logs:CreateLogStream", "logs:PutLogEvents")
	slices.Sort(wantActs)
	wantActs = slices.Compact(wantActs)
	if !slices.Equal(got, wantActs) {
		t.Errorf("function role actions\n got %v\nwant %v", got, wantActs)
	}
	// sts:AssumeRole only on the responder role, s3 and sns only on the
	// stack's own bucket and topic.
	for r, acts := range byRes {
		for _, a := range acts {
			switch a {
			case "sts:AssumeRole":
				if r != `{"Fn::Sub":"arn:${AWS::Partition}:iam::*:role/${ResponderRoleName}"}` {
					t.Errorf("sts:AssumeRole on %s", r)
				}
			case "s3:PutObject", "s3:GetObject":
				if r != `{"Fn::Sub":"${ReportBucket.Arn}/incidents/*"}` && r != `{"Fn::Sub":"${ReportBucket.Arn}/journals/*"}` ||
					a == "s3:GetObject" && r != `{"Fn::Sub":"${ReportBucket.Arn}/journals/*"}` {
					t.Errorf("%s on %s", a, r)
				}
			case "s3:ListBucket":
				if r != `{"Fn::GetAtt":["ReportBucket","Arn"]}` {
					t.Errorf("s3:ListBucket on %s", r)
				}
			case "sns:Publish":
				if r != `{"Ref":"NotificationTopic"}` {
					t.Errorf("sns:Publish on %s", r)
				}
			}
		}
	}
	env, _ := json.Marshal(res["ResponderFunction"].Properties["Environment"])
	for _, v := range []string{"KEYWARD_REPORT_BUCKET", "KEYWARD_TOPIC_ARN", "KEYWARD_ASSUME_ROLE", "KEYWARD_REGIONS"} {
		if !bytes.Contains(env, []byte(v)) {
			t.Errorf("function environment lacks %s", v)
		}
	}
}

func TestMemberTemplate(t *testing.T) {
	res := load(t, MemberTemplateFile)
	role := res["ResponderRole"]
	if role.Type != "AWS::IAM::Role" || len(res) != 1 {
		t.Fatalf("resources %v", res)
	}
	got, _ := roleActions(t, role)
	if want := responder.ResponderPolicy(responder.Options{}).Actions(); !slices.Equal(got, want) {
		t.Errorf("member role actions\n got %v\nwant %v", got, want)
	}
	trust, _ := json.Marshal(role.Properties["AssumeRolePolicyDocument"])
	if !bytes.Contains(trust, []byte(`:role/${FunctionRoleName}`)) || bytes.Contains(trust, []byte(`"AWS":"*"`)) {
		t.Errorf("trust policy %s", trust)
	}
}
