package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/natsx"
)

// With two replicas of each service and the default configuration, every
// service's retention sweeps run (each once: one replica claims the first
// period) and every stream on the server is bounded by the configured
// limits.
func TestRetentionSweepsAndStreamLimitsInEveryService(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string][]string{
		"plans":   {"retention.ended_plans", "retention.access_log", "retention.expired_exports"},
		"journal": {"retention.sent_access_records", "retention.expired_exports"},
		"notify":  {"retention.notifications", "retention.webhook_payloads", "retention.webhook_deliveries", "retention.sent_access_records", "retention.daily_caps", "retention.expired_exports"},
	}
	for db, names := range want {
		for {
			st, err := jobs.Statuses(ctx, s.stack.Mongo.Database(db))
			if err != nil {
				t.Fatal(err)
			}
			done := 0
			for _, n := range names {
				if j, ok := st[n]; ok && !j.Running && j.LastOK {
					done++
					if j.Runs != 1 {
						t.Errorf("%s %s ran %d times in its first period, want once", db, n, j.Runs)
					}
				}
			}
			if done == len(names) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: jobs %v, want %v run and finished", db, st, names)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	js, closeJS := s.jetStream()
	defer closeJS()
	for _, name := range []string{"PLANS", "JOURNAL", "NOTIFY", natsx.DeadLetterStream} {
		str, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		c := str.CachedInfo().Config
		want := natsx.DefaultStreamLimits
		if name == natsx.DeadLetterStream {
			want = natsx.DefaultDeadLetterLimits
		}
		if got := (natsx.StreamLimits{MaxAge: c.MaxAge, MaxBytes: c.MaxBytes}); got != want {
			t.Errorf("stream %s on the server: %s, want %s", name, fmt.Sprint(got), fmt.Sprint(want))
		}
	}
}
