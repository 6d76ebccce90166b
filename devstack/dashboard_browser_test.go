package main

// The counsellor's page driven by a real browser: headless Chromium from
// Debian's chromium package, through chromedp, with axe-core (from npm)
// injected to check accessibility. .ci/run installs both; without a browser
// the test is skipped on a laptop and fails in CI.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/nocontact/backend/platform/auth"
)

// chromiumPath finds the browser: NOCONTACT_CHROMIUM, Debian's
// /usr/bin/chromium, or chromium on the PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("NOCONTACT_CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (NOCONTACT_CHROMIUM, /usr/bin/chromium, PATH) and CI is set: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium found (set NOCONTACT_CHROMIUM or apt-get install chromium)")
	return ""
}

// axeSource is axe-core's script: NOCONTACT_AXE_JS, or where .ci/run
// installs it (${NOCONTACT_CACHE:-$HOME/.cache/nocontact}/npm). Empty
// when missing outside CI (the accessibility checks are then skipped).
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("NOCONTACT_AXE_JS")
	if path == "" {
		cache := os.Getenv("NOCONTACT_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "nocontact")
		}
		path = filepath.Join(cache, "npm", "node_modules", "axe-core", "axe.min.js")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core not found at %s and CI is set: .ci/run installs it with npm", path)
		}
		t.Logf("axe-core not found at %s: accessibility checks skipped (npm install --prefix %s axe-core@4.10.3)", path, filepath.Dir(filepath.Dir(filepath.Dir(path))))
		return ""
	}
	return string(src)
}

// artifactsDir is where screenshots go: NOCONTACT_ARTIFACTS, else the
// test's artifact directory (go test -artifacts keeps it).
func artifactsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("NOCONTACT_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

type browser struct {
	t         *testing.T
	ctx       context.Context
	axe       string
	artifacts string
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromiumPath(t)
	// Without these flags Chromium waits on the network it cannot reach
	// (component updates, sync, QUIC probes) and hangs here.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelAlloc()
	})
	// Every CSP violation of the page is recorded from its first byte.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`}); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	return &browser{t: t, ctx: ctx, axe: axeSource(t), artifacts: artifactsDir(t)}
}

// run runs steps with a deadline, failing the test with what was done.
func (b *browser) run(what string, within time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("body")))
	b.t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
}

// get runs one action that answers a value.
func get[T any](b *browser, what string, within time.Duration, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// checkAxe injects axe-core (once per document) and fails on any violation.
func (b *browser) checkAxe(name string) {
	b.t.Helper()
	if b.axe == "" {
		return
	}
	if !get(b, "look for axe", 5*time.Second, chromedp.Evaluate[bool](`typeof window.axe !== "undefined"`)) {
		b.run("inject axe", 10*time.Second, chromedp.Evaluate[chromedp.Void](b.axe))
	}
	type violation struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Help   string   `json:"help"`
		Nodes  []string `json:"nodes"`
	}
	violations := get(b, "run axe on "+name, 30*time.Second, chromedp.Evaluate[[]violation](
		`axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" "))})))`,
		chromedp.EvalAwaitPromise))
	for _, v := range violations {
		b.t.Errorf("axe on the %s page: %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

// screenshot saves the viewport at the given size as name-WxH.png.
func (b *browser) screenshot(name string, w, h int64) {
	b.t.Helper()
	b.run("resize for "+name, 10*time.Second, chromedp.EmulateViewport(w, h))
	png := get(b, "screenshot "+name, 15*time.Second, chromedp.CaptureScreenshot())
	path := filepath.Join(b.artifacts, fmt.Sprintf("%s-%dx%d.png", name, w, h))
	if err := os.WriteFile(path, png, 0o640); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

func (b *browser) noCSPViolations() {
	b.t.Helper()
	got := get(b, "read CSP violations", 5*time.Second, chromedp.Evaluate[[]string](`window.__csp`))
	if len(got) > 0 {
		b.t.Fatalf("the page broke its Content-Security-Policy: %v", got)
	}
}

// TestDashboardInTheBrowser signs in with the development counsellor
// token, checks the page for accessibility and policy violations, and
// sees a notification arrive in the live feed without a reload; with the
// DashboardService in the gateway it also walks the roster and a client
// (the "roster" subtest).
func TestDashboardInTheBrowser(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) { st.DevCounsellorID = "counsellor-dash" })
	// The page's answer carries the strict policy.
	resp, err := s.http.Get(s.base + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("GET /dashboard/ = %d with CSP %q", resp.StatusCode, csp)
	}

	b := startBrowser(t)
	b.run("open the sign-in page", 30*time.Second,
		chromedp.Navigate(s.base+"/dashboard/"),
		visible("#signin"))
	b.checkAxe("sign-in")
	b.screenshot("signin", 1280, 800)

	// Sign in with the devstack's button; the roster view and the feed come up.
	// By keyboard: focus the button and press Enter.
	b.run("sign in with the development token", 20*time.Second,
		chromedp.Focus(chromedp.CSS("#devtoken")),
		chromedp.KeyEvent("\r"),
		visible("#roster"),
		visible(`#roster-state[data-state]`),
		visible(`#feed-state[data-state="open"]`))
	stored := get(b, "read the session", 5*time.Second, chromedp.Evaluate[string](`sessionStorage.getItem("nocontact.dashboard.token") || ""`))
	if stored == "" {
		t.Fatal("the token is not kept in session storage")
	}
	b.checkAxe("roster")

	// A notification for the counsellor arrives in the open page.
	admin := token(t, "admin-dash", auth.RoleAdmin)
	s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", admin, map[string]any{"clientId": "client-feed", "counsellorId": "counsellor-dash"})
	b.run("see the notification arrive in the live feed", 20*time.Second,
		visible(`#feed-list li[data-kind="NOTIFICATION_KIND_CARE_ASSIGNMENT_CHANGED"]`))
	b.checkAxe("roster with a notification")
	b.screenshot("roster", 1280, 800)
	b.screenshot("roster-tablet", 768, 1024)
	b.noCSPViolations()

	t.Run("roster", func(t *testing.T) {
		b.t = t
		defer func() { b.t = t }()
		walkRoster(t, s, b)
	})
}

// errDashboardMissing marks a gateway built without the DashboardService.
var errDashboardMissing = errors.New("the gateway has no DashboardService yet")

// walkRoster needs the DashboardService (gateway/dashboard) and the
// services' batch RPCs: it skips while /v1/dashboard/roster answers 404 or
// Unimplemented on a branch that does not have them.
func walkRoster(t *testing.T, s *suite, b *browser) {
	counsellor := token(t, "counsellor-dash", auth.RoleCounsellor)
	if code, out := s.call("GET", "/v1/dashboard/roster", counsellor, nil); code == http.StatusNotFound || code == http.StatusNotImplemented {
		t.Skipf("%v: GET /v1/dashboard/roster = %d %v", errDashboardMissing, code, out)
	}
	admin := token(t, "admin-dash", auth.RoleAdmin)
	now := time.Now().UTC()
	plan := func(client string, daysAgo int) string {
		tok := token(t, client, auth.RoleClient)
		p := s.mustCall(http.StatusOK, "POST", "/v1/plans", tok, map[string]any{"timeZone": "Europe/Paris", "startTime": now.Add(-time.Duration(daysAgo) * 24 * time.Hour).Format(time.RFC3339)})
		id := p["id"].(string)
		s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", tok, map[string]any{})
		return id
	}
	assign := func(client string, scopes ...string) {
		s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", admin, map[string]any{"clientId": client, "counsellorId": "counsellor-dash"})
		for _, sc := range scopes {
			s.mustCall(http.StatusOK, "POST", "/v1/clients/"+client+"/consents", token(t, client, auth.RoleClient), map[string]any{"scope": sc})
		}
	}
	// Three clients whose order the roster fixes: an open risk flag, then
	// a slip yesterday, then one doing well.
	plan("dash-risk", 5)
	assign("dash-risk", "PLAN_PROGRESS", "MOOD_INSIGHTS", "RISK_ALERTS")
	s.mustCall(http.StatusOK, "POST", "/v1/clients/dash-risk/checkins", token(t, "dash-risk", auth.RoleClient), map[string]any{
		"mood": -3, "timeZone": "Europe/Paris", "note": "Honestly I don't want to be alive anymore",
	})
	slipPlan := plan("dash-slip", 10)
	assign("dash-slip", "PLAN_PROGRESS")
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+slipPlan+"/contacts", token(t, "dash-slip", auth.RoleClient), map[string]any{
		"direction": "OUTBOUND", "channel": "TEXT", "occurredAt": now.Add(-24 * time.Hour).Format(time.RFC3339),
	})
	plan("dash-well", 3)
	assign("dash-well", "PLAN_PROGRESS")
	// (client-feed, assigned for the feed above, is on the roster too: the
	// order is checked among these three.)
	want := []string{"dash-risk", "dash-slip", "dash-well"}

	// The risk flag is raised from the check-in's event: wait for the API
	// to show it, then look at the page.
	eventually(t, 30*time.Second, func() string {
		_, out := s.call("GET", "/v1/dashboard/roster", counsellor, nil)
		rows, _ := out["rows"].([]any)
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.(map[string]any)["clientId"].(string))
		}
		if ids = only(ids, want); fmt.Sprint(ids) != fmt.Sprint(want) {
			return fmt.Sprintf("roster order %v, want %v", ids, want)
		}
		return ""
	})
	b.run("refresh the roster", 20*time.Second,
		chromedp.EmulateViewport(1280, 800),
		click("#refresh"),
		visible(`#roster-table tbody tr[data-client-id="dash-well"]`))
	ids := get(b, "read the roster", 5*time.Second, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#roster-table tbody tr")].map((tr) => tr.dataset.clientId)`))
	if ids = only(ids, want); fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("the page lists %v, want the documented order %v", ids, want)
	}
	b.checkAxe("roster with clients")
	b.screenshot("roster-clients", 1280, 800)

	// The client page: charts, acknowledge the flag, mark reviewed.
	b.run("open the client with the risk flag", 20*time.Second,
		click(`#roster-table tr[data-client-id="dash-risk"] a`),
		visible(`svg[data-chart="mood"]`),
		visible(`svg[data-chart="urges"]`))
	b.checkAxe("client")
	b.run("acknowledge the risk flag", 20*time.Second,
		click(`button.ack`),
		visible(`tr[data-status="RISK_FLAG_STATUS_ACKNOWLEDGED"]`))
	b.run("mark the client reviewed", 20*time.Second,
		click(`#mark-reviewed`),
		visible(`#review-state[data-reviewed]`))
	flash := get(b, "read the confirmation", 5*time.Second, chromedp.TextContent(chromedp.CSS("#flash")))
	// The confirmation names the stored time, not a placeholder.
	if !strings.Contains(flash, "Marked reviewed") || strings.Contains(flash, "—") {
		t.Fatalf("after Mark reviewed the page says %q", flash)
	}
	b.screenshot("client", 1280, 800)
	b.screenshot("client-tablet", 768, 1024)
	b.noCSPViolations()
}

// only keeps the ids that are in keep, in their order.
func only(ids, keep []string) []string {
	var out []string
	for _, id := range ids {
		if contains(keep, id) {
			out = append(out, id)
		}
	}
	return out
}
