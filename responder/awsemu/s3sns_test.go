package awsemu_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/keyward/keyward/responder/awsemu"
)

// TestS3AndSNS: the Lambda entry point's outputs, written and read back
// with the real clients; a wrong secret, an unsigned request and a denied
// principal are refused.
func TestS3AndSNS(t *testing.T) {
	emu, url, op := start(t)
	ctx := context.Background()
	acct := emu.Account()
	must(t, emu.CreateBucket(acct, "keyward-incidents"))
	s3c := func(c awsemu.Credentials) *s3.Client {
		return s3.NewFromConfig(cfg(url, c), func(o *s3.Options) { o.UsePathStyle = true })
	}
	report := []byte("# Incident\n\nkey AKIA… contained\n")
	_, err := s3c(op).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keyward-incidents"), Key: aws.String("incidents/2026/report one.md"),
		Body: bytes.NewReader(report), ContentType: aws.String("text/markdown")})
	must(t, err)
	got, err := emu.Object("keyward-incidents", "incidents/2026/report one.md")
	if err != nil || !bytes.Equal(got, report) {
		t.Fatalf("stored object %q %v", got, err)
	}
	out, err := s3c(op).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("keyward-incidents"), Key: aws.String("incidents/2026/report one.md")})
	must(t, err)
	body, _ := io.ReadAll(out.Body)
	if !bytes.Equal(body, report) || aws.ToString(out.ContentType) != "text/markdown" {
		t.Errorf("GetObject: %q %s", body, aws.ToString(out.ContentType))
	}
	_, err = s3c(op).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("keyward-incidents"), Key: aws.String("missing")})
	if !errors.As(err, new(*s3types.NoSuchKey)) {
		t.Errorf("missing key: %v", err)
	}
	_, err = s3c(op).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nope"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if code(err) != "NoSuchBucket" {
		t.Errorf("missing bucket: %v", err)
	}
	bad := op
	bad.SecretAccessKey = strings.Repeat("x", 40)
	if _, err := s3c(bad).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keyward-incidents"), Key: aws.String("k"), Body: strings.NewReader("x")}); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	if got, _ := httpPut(url+"/keyward-incidents/k", "x"); got != "AccessDenied" {
		t.Errorf("unsigned PUT: %s", got)
	}
	must(t, emu.CreateUser(acct, "q"))
	must(t, emu.AttachUserPolicy(acct, "q", awsemu.AdministratorAccessARN))
	must(t, emu.AttachUserPolicy(acct, "q", awsemu.QuarantineV3ARN))
	q, err := emu.CreateAccessKey(acct, "q")
	must(t, err)
	if _, err := s3c(q).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("keyward-incidents"), Key: aws.String("incidents/2026/report one.md")}); code(err) != "AccessDenied" {
		t.Errorf("quarantined GetObject: %v", err)
	}

	if _, err := s3c(op).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("keyward-incidents")}); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}
	if _, err := s3c(op).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("absent")}); !errors.As(err, new(*s3types.NotFound)) {
		t.Errorf("HeadBucket of a missing bucket: %v", err)
	}

	snc := sns.NewFromConfig(cfg(url, op))
	topic, err := snc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keyward-alerts")})
	must(t, err)
	if want := "arn:aws:sns:eu-west-1:" + acct + ":keyward-alerts"; aws.ToString(topic.TopicArn) != want {
		t.Errorf("topic ARN %s, want %s", aws.ToString(topic.TopicArn), want)
	}
	attrs, err := snc.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: topic.TopicArn})
	if err != nil || attrs.Attributes["Owner"] != acct {
		t.Errorf("GetTopicAttributes: %v %v", attrs, err)
	}
	pub, err := snc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String("keyward: contained"), Message: aws.String("AKIA…LE contained")})
	must(t, err)
	msgs := emu.Published(aws.ToString(topic.TopicArn))
	if len(msgs) != 1 || msgs[0].Message != "AKIA…LE contained" || msgs[0].MessageID != aws.ToString(pub.MessageId) {
		t.Errorf("published %+v", msgs)
	}
	_, err = snc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:" + acct + ":none"), Message: aws.String("x")})
	if !errors.As(err, new(*snstypes.NotFoundException)) {
		t.Errorf("publish to a missing topic: %v", err)
	}
	must(t, emu.CreateUser(acct, "mute"))
	mute, err := emu.CreateAccessKey(acct, "mute")
	must(t, err)
	_, err = sns.NewFromConfig(cfg(url, mute)).Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("x")})
	if !errors.As(err, new(*snstypes.AuthorizationErrorException)) {
		t.Errorf("publish without permission: %v", err)
	}
}
