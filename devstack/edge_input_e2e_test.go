package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nocontact/backend/platform/auth"
)

// raw sends a request whose body and path are exactly as given, so the
// test can send what a JSON encoder never would.
func (s *suite) raw(method, path, tok string, body io.Reader, chunked bool) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	if chunked {
		req.ContentLength = -1
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A caller's malformed request is a 400 (or 413) that says what is wrong,
// never a 500 and never a silent success.
func TestEdgeRefusesMalformedRequests(t *testing.T) {
	s := startSuite(t)
	tok := token(t, "edge-client", auth.RoleClient)
	cases := []struct {
		name, method, path, body string
		chunked                  bool
		want                     int
		mention                  string
	}{
		{"invalid UTF-8 in a plan id", "GET", "/v1/plans/%ff%fe", "", false, 400, ""},
		{"invalid UTF-8 in a client id", "GET", "/v1/clients/%ff/entries", "", false, 400, ""},
		{"trailing garbage after the body", "POST", "/v1/plans", `{"timeZone":"Europe/Berlin"} garbage`, false, 400, ""},
		{"unknown query parameter", "GET", "/v1/plans?pageSizee=5", "", false, 400, "pageSizee"},
		{"wrong JSON type names the field", "POST", "/v1/plans", `{"timeZone":"Europe/Berlin","targetDays":"many"}`, false, 400, "targetDays"},
		{"zero timestamp", "POST", "/v1/plans", `{"timeZone":"Europe/Berlin","startTime":"0001-01-01T00:00:00Z"}`, false, 400, "start"},
		{"NUL in text", "POST", "/v1/plans", `{"timeZone":"Europe/Berlin","reasons":["a\u0000b"]}`, false, 400, "reasons"},
		{"chunked body over the limit", "POST", "/v1/plans", `{"timeZone":"Europe/Berlin","reasons":["` + strings.Repeat("x", 2<<20) + `"]}`, true, 413, ""},
		{"garbage stream cursor", "GET", "/v1/notifications:stream?afterId=%00%01zz", "", false, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			resp, out := s.raw(c.method, c.path, tok, body, c.chunked)
			if resp.StatusCode != c.want {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, resp.StatusCode, trim(out), c.want)
			}
			if c.mention != "" && !strings.Contains(out, c.mention) {
				t.Errorf("answer %s does not name %q", trim(out), c.mention)
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
