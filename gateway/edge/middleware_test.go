package edge

import (
	"testing"
	"time"

	"github.com/nocontact/backend/platform/clock"
)

func TestRateLimiterIsPerIdentityAndRefills(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newRateLimiter(2, 3, clk)
	for i := 0; i < 3; i++ {
		if !l.allow("sub:a") {
			t.Fatalf("request %d within the burst was refused", i+1)
		}
	}
	if l.allow("sub:a") {
		t.Fatal("a request past the burst was allowed")
	}
	if !l.allow("sub:b") {
		t.Fatal("another identity was limited by the first one's traffic")
	}
	clk.Advance(500 * time.Millisecond) // 2/s refills one token
	if !l.allow("sub:a") {
		t.Fatal("the bucket did not refill")
	}
	if l.allow("sub:a") {
		t.Fatal("refilled more than the rate allows")
	}
}

func TestRateLimiterForgetsIdleCallers(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := newRateLimiter(1, 1, clk)
	l.allow("sub:a")
	clk.Advance(bucketIdle + time.Minute)
	l.allow("sub:b")
	if _, ok := l.buckets["sub:a"]; ok || len(l.buckets) != 1 {
		t.Fatalf("idle bucket kept: %d buckets", len(l.buckets))
	}
}

func TestBearerToken(t *testing.T) {
	cases := map[string]struct {
		tok string
		ok  bool
	}{
		"Bearer abc":   {"abc", true},
		"bearer abc":   {"abc", true},
		"Bearer   ":    {"", false},
		"Basic abc":    {"", false},
		"":             {"", false},
		"Bearerabc":    {"", false},
		"BEARER x.y.z": {"x.y.z", true},
	}
	for in, want := range cases {
		tok, ok := bearerToken(in)
		if tok != want.tok || ok != want.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", in, tok, ok, want.tok, want.ok)
		}
	}
}
