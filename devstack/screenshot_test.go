package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestReadmeScreenshot renders docs/dashboard.png, the README's picture of
// the dashboard over the demo data (go run ./devstack seed). It runs only
// when NOCONTACT_SCREENSHOT_DIR names where to write (make screenshot).
func TestReadmeScreenshot(t *testing.T) {
	dir := os.Getenv("NOCONTACT_SCREENSHOT_DIR")
	if dir == "" {
		t.Skip("NOCONTACT_SCREENSHOT_DIR is not set (make screenshot)")
	}
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) {
		st.DevCounsellorID = "counsellor-demo"
		st.RateLimitPerSecond, st.RateLimitBurst = "1000", "1000"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := Seed(ctx, SeedConfig{BaseURL: s.base, Secret: testSecret, CounsellorID: "counsellor-demo"}); err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t)
	b.artifacts = dir
	b.run("sign in as the demo counsellor", 60*time.Second,
		chromedp.Navigate(s.base+"/dashboard/"),
		visible("#signin"),
		click("#devtoken"),
		visible(`#roster-table tbody tr`))
	b.screenshot("dashboard", 1280, 800)
	if _, err := os.Stat(filepath.Join(dir, "dashboard-1280x800.png")); err != nil {
		t.Fatal(err)
	}
}
