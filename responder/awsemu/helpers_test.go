package awsemu_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

var codeRE = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// httpPost sends form with an optional Authorization header and returns
// the error code of the answer ("" on success).
func httpPost(srv string, form url.Values, auth string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, srv, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := codeRE.FindSubmatch(b); m != nil {
		return string(m[1]), nil
	}
	return "", nil
}

var s3CodeRE = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// httpPut sends an unsigned PUT and returns the S3 error code.
func httpPut(u, body string) (string, error) {
	req, err := http.NewRequest(http.MethodPut, u, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := s3CodeRE.FindSubmatch(b); m != nil {
		return string(m[1]), nil
	}
	return "", nil
}
