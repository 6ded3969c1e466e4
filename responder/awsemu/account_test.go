package awsemu_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	accttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

var enabled = []accttypes.RegionOptStatus{accttypes.RegionOptStatusEnabled, accttypes.RegionOptStatusEnabledByDefault}

// TestListRegions pages through ListRegions with the real SDK: the 17
// default regions plus the opt-in ones the account enabled, a short page
// forced by LimitPage, and the call recorded in CloudTrail.
func TestListRegions(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	if err := emu.EnableRegion(emu.Account(), "af-south-1"); err != nil {
		t.Fatal(err)
	}
	if err := emu.EnableRegion(emu.Account(), "us-east-1"); err == nil {
		t.Error("EnableRegion accepted a default region")
	}
	emu.LimitPage("ListRegions", 4)
	client := account.NewFromConfig(cfg(url, op))
	p := account.NewListRegionsPaginator(client, &account.ListRegionsInput{RegionOptStatusContains: enabled, MaxResults: aws.Int32(50)})
	var names []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.Regions {
			names = append(names, aws.ToString(r.RegionName))
			if n := aws.ToString(r.RegionName); (n == "af-south-1") != (r.RegionOptStatus == accttypes.RegionOptStatusEnabled) {
				t.Errorf("%s is %s", n, r.RegionOptStatus)
			}
		}
	}
	if len(names) != 18 || pages != 5 || !slices.Contains(names, "af-south-1") || slices.Contains(names, "ap-east-1") {
		t.Fatalf("%d pages, regions %v", pages, names)
	}
	// Unfiltered, disabled opt-in regions are listed too.
	all, err := client.ListRegions(ctx, &account.ListRegionsInput{MaxResults: aws.Int32(3)})
	if err != nil || len(all.Regions) != 3 || all.NextToken == nil {
		t.Fatalf("unfiltered: %+v %v", all, err)
	}
	// A token is bound to its filter.
	_, err = client.ListRegions(ctx, &account.ListRegionsInput{RegionOptStatusContains: enabled, NextToken: all.NextToken})
	if code(err) != "ValidationException" {
		t.Errorf("token of another filter: %v", err)
	}
	if _, err := client.ListRegions(ctx, &account.ListRegionsInput{MaxResults: aws.Int32(51)}); code(err) != "ValidationException" {
		t.Errorf("MaxResults 51: %v", err)
	}
	ev := emu.Events(op.AccessKeyID)
	if !slices.Contains(ev, "ListRegions") {
		t.Errorf("events %v lack ListRegions", ev)
	}
}

// TestListRegionsDenied: without account:ListRegions the REST-JSON error
// is the typed AccessDeniedException the SDK knows.
func TestListRegionsDenied(t *testing.T) {
	emu, url, _ := start(t)
	acct := emu.Account()
	if err := emu.CreateUser(acct, "limited"); err != nil {
		t.Fatal(err)
	}
	if err := emu.PutUserPolicy(acct, "limited", "most", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"account:ListRegions","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	lim, err := emu.CreateAccessKey(acct, "limited")
	if err != nil {
		t.Fatal(err)
	}
	_, err = account.NewFromConfig(cfg(url, lim)).ListRegions(context.Background(), &account.ListRegionsInput{})
	var ade *accttypes.AccessDeniedException
	if !errors.As(err, &ade) {
		t.Fatalf("ListRegions: %v, want AccessDeniedException", err)
	}
}

// TestDisabledRegionRejectsCredentials: a disabled opt-in region does not
// know the account's keys; enabled, it does.
func TestDisabledRegionRejectsCredentials(t *testing.T) {
	emu, url, op := start(t)
	lookup := func() error {
		_, err := cloudtrail.NewFromConfig(cfg(url, op), func(o *cloudtrail.Options) { o.Region = "af-south-1" }).LookupEvents(context.Background(),
			&cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("x")}}})
		return err
	}
	if err := lookup(); code(err) != "UnrecognizedClientException" {
		t.Fatalf("disabled region: %v", err)
	}
	if err := emu.EnableRegion(emu.Account(), "af-south-1"); err != nil {
		t.Fatal(err)
	}
	if err := lookup(); err != nil {
		t.Fatalf("enabled region: %v", err)
	}
}
