package edge

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
)

const dashSecret = "dashboard-test-secret-that-is-long-enough-0123"

// newDashGateway builds a gateway whose services are never dialled (the
// page needs none of them).
func newDashGateway(t *testing.T, env map[string]string) (*Server, error) {
	t.Helper()
	base := map[string]string{
		"PLANS_ADDR": "127.0.0.1:1", "JOURNAL_ADDR": "127.0.0.1:1", "NOTIFY_ADDR": "127.0.0.1:1",
		"METRICS_ADDR": "off", "NOCONTACT_JWT_SECRET": dashSecret,
	}
	for k, v := range env {
		base[k] = v
	}
	var cfg Config
	if err := config.LoadFrom(&cfg, base); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := auth.NewVerifier(context.Background(), config.Auth{JWTSecret: config.Secret(dashSecret), Issuer: "nocontact", Audience: "nocontact"}, clock.Real(), log)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, log, v, clock.Real())
	if err == nil {
		t.Cleanup(func() { s.close(context.Background()) })
	}
	return s, err
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The page and its assets come from the binary with a strict policy: no
// inline script or style, nothing from another origin, no framing.
func TestDashboardPageServedWithStrictHeaders(t *testing.T) {
	s, err := newDashGateway(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, ctype := range map[string]string{
		"/dashboard/":                 "text/html",
		"/dashboard/clients/client-1": "text/html",
		"/dashboard/static/app.js":    "text/javascript",
		"/dashboard/static/style.css": "text/css",
	} {
		rec := get(t, s.Handler(), "GET", path)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), ctype) {
			t.Fatalf("GET %s = %d %q, want 200 %s", path, rec.Code, rec.Header().Get("Content-Type"), ctype)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q allows unsafe sources", path, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: security headers %v", path, rec.Header())
		}
	}
	page := get(t, s.Handler(), "GET", "/dashboard/").Body.String()
	for _, bad := range []string{"<style", "style=", "onclick", "http://", "https://", "<script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q: it would break the policy or load from elsewhere", bad)
		}
	}
	if strings.Contains(page, "devtoken") {
		t.Error("the page offers a development token although DEV_TOKENS is off")
	}
	// Off by default: no endpoint mints a token.
	if rec := get(t, s.Handler(), "POST", "/dashboard/dev-token"); rec.Code == http.StatusOK {
		t.Fatalf("POST /dashboard/dev-token with DEV_TOKENS off = %d %s", rec.Code, rec.Body)
	}
}

// With DEV_TOKENS the page offers the button and the endpoint mints a
// counsellor token the gateway itself accepts.
func TestDevCounsellorToken(t *testing.T) {
	s, err := newDashGateway(t, map[string]string{"DEV_TOKENS": "true", "DEV_COUNSELLOR_ID": "counsellor-x"})
	if err != nil {
		t.Fatal(err)
	}
	if page := get(t, s.Handler(), "GET", "/dashboard/").Body.String(); !strings.Contains(page, `id="devtoken"`) {
		t.Fatal("the page does not offer the development token button")
	}
	rec := get(t, s.Handler(), "POST", "/dashboard/dev-token")
	var out struct{ Token string }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.Token == "" {
		t.Fatalf("POST /dashboard/dev-token = %d %s", rec.Code, rec.Body)
	}
	v, _ := auth.NewVerifier(context.Background(), config.Auth{JWTSecret: config.Secret(dashSecret), Issuer: "nocontact", Audience: "nocontact"}, clock.Real(), slog.Default())
	id, err := v.Verify(context.Background(), out.Token)
	if err != nil || id.Subject != "counsellor-x" || id.Role != auth.RoleCounsellor {
		t.Fatalf("minted token = %+v, %v; want counsellor-x as a counsellor", id, err)
	}
	// A cross-site form cannot post it (no JSON without a preflight).
	req := httptest.NewRequest("POST", "/dashboard/dev-token", strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form := httptest.NewRecorder()
	s.Handler().ServeHTTP(form, req)
	if form.Code == http.StatusOK {
		t.Fatalf("a form post minted a token: %d", form.Code)
	}
}

// DEV_TOKENS cannot be turned on where there is no development secret to
// sign with: a gateway verifying with a JWKS URL refuses to start.
func TestDevTokensRefusedWithoutTheHS256Secret(t *testing.T) {
	_, err := newDashGateway(t, map[string]string{"DEV_TOKENS": "true", "NOCONTACT_JWT_SECRET": "", "NOCONTACT_JWT_JWKS_URL": "https://idp.example/jwks.json"})
	if err == nil || !strings.Contains(err.Error(), "DEV_TOKENS") {
		t.Fatalf("New with DEV_TOKENS and a JWKS URL = %v, want an error naming DEV_TOKENS", err)
	}
}
