package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// delivery is one webhook request as the receiver got it.
type delivery struct {
	header http.Header
	body   []byte
}

// TestTypeScriptClientSmoke runs the generated TypeScript client (built by
// `make ts-client` from the served OpenAPI document) against the devstack:
// the README walkthrough's first calls, typed by the document. The client
// has a webhook registered first; the walkthrough's activation makes a
// notification, and the delivery this test's receiver gets is verified in
// node with the `standardwebhooks` npm package (clients/typescript's
// webhook.js) and the whsec_ secret shown at registration. Without node or
// a built client it skips, unless CI is set: there it fails.
func TestTypeScriptClientSmoke(t *testing.T) {
	dist, err := filepath.Abs(filepath.Join("..", "clients", "typescript", "dist"))
	if err != nil {
		t.Fatal(err)
	}
	smoke, verify := filepath.Join(dist, "smoke.js"), filepath.Join(dist, "webhook.js")
	node, nodeErr := exec.LookPath("node")
	_, smokeErr := os.Stat(smoke)
	_, verifyErr := os.Stat(verify)
	if nodeErr != nil || smokeErr != nil || verifyErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the TypeScript client cannot run (node: %v, client: %v, %v): run `make ts-client`", nodeErr, smokeErr, verifyErr)
		}
		t.Skipf("no node or no built client (node: %v, client: %v, %v): run `make ts-client`", nodeErr, smokeErr, verifyErr)
	}
	s := startSuite(t)
	tok := token(t, "client-ts", auth.RoleClient)
	env := append(os.Environ(), "NOCONTACT_API="+s.base, "NOCONTACT_TOKEN="+tok, "NOCONTACT_CLIENT=client-ts")

	got := make(chan delivery, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case got <- delivery{r.Header.Clone(), body}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	hook := s.mustCall(http.StatusOK, "POST", "/v1/users/client-ts/webhooks", tok, map[string]any{"url": receiver.URL + "/hook"})
	secret, _ := hook["secret"].(string)

	cmd := exec.Command(node, smoke)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "smoke: all ok") {
		t.Fatalf("TypeScript client smoke test: %v\n%s", err, out)
	}
	t.Logf("%s", out)

	var d delivery
	select {
	case d = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery within 30s of the walkthrough's calls")
	}
	headers := map[string]string{}
	for name := range d.header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "webhook-") {
			headers[l] = d.header.Get(name)
		}
	}
	hj, _ := json.Marshal(headers)
	bodyFile := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(bodyFile, d.body, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(node, verify)
	cmd.Env = append(env, "NOCONTACT_WEBHOOK_SECRET="+secret, "NOCONTACT_WEBHOOK_HEADERS="+string(hj), "NOCONTACT_WEBHOOK_BODY_FILE="+bodyFile)
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "webhook: all ok") {
		t.Fatalf("standardwebhooks (npm) verification of a real delivery: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
