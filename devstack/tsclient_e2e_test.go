package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nocontact/backend/platform/auth"
)

// TestTypeScriptClientSmoke runs the generated TypeScript client (built by
// `make ts-client` from the served OpenAPI document) against the devstack:
// the README walkthrough's first calls, typed by the document. Without node
// or a built client it skips, unless CI is set: there it fails.
func TestTypeScriptClientSmoke(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("..", "clients", "typescript", "dist", "smoke.js"))
	if err != nil {
		t.Fatal(err)
	}
	node, nodeErr := exec.LookPath("node")
	_, scriptErr := os.Stat(script)
	if nodeErr != nil || scriptErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the TypeScript client cannot run (node: %v, client: %v): run `make ts-client`", nodeErr, scriptErr)
		}
		t.Skipf("no node or no built client (node: %v, client: %v): run `make ts-client`", nodeErr, scriptErr)
	}
	s := startSuite(t)
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(),
		"NOCONTACT_API="+s.base,
		"NOCONTACT_TOKEN="+token(t, "client-ts", auth.RoleClient),
		"NOCONTACT_CLIENT=client-ts",
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "smoke: all ok") {
		t.Fatalf("TypeScript client smoke test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
