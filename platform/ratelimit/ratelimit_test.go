package ratelimit_test

import (
	"testing"
	"time"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/ratelimit"
)

func TestRateLimiterIsPerIdentityAndRefills(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := ratelimit.New(2, 3, clk)
	for i := 0; i < 3; i++ {
		if !l.Allow("sub:a") {
			t.Fatalf("request %d within the burst was refused", i+1)
		}
	}
	if l.Allow("sub:a") {
		t.Fatal("a request past the burst was allowed")
	}
	if !l.Allow("sub:b") {
		t.Fatal("another identity was limited by the first one's traffic")
	}
	clk.Advance(500 * time.Millisecond) // 2/s refills one token
	if !l.Allow("sub:a") {
		t.Fatal("the bucket did not refill")
	}
	if l.Allow("sub:a") {
		t.Fatal("refilled more than the rate allows")
	}
}

func TestRateLimiterForgetsIdleCallers(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := ratelimit.New(1, 1, clk)
	l.Allow("sub:a")
	clk.Advance(ratelimit.Idle + time.Minute)
	l.Allow("sub:b")
	if l.Keys() != 1 {
		t.Fatalf("idle bucket kept: %d buckets", l.Keys())
	}
}
