package bootstrap_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/bootstrap"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/jobs"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/testenv"
)

// A job period that succeeds shows in the scheduler metric under the job's
// name, at the clock's time; a failing one does not.
func TestJobsReportTheirLastSuccess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	m := metrics.New("plans")
	d := &bootstrap.Deps{Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(now), DB: testenv.Mongo(t), Metrics: m}
	ok := func(context.Context, *jobs.Lease) error { return nil }
	failing := func(context.Context, *jobs.Lease) error { return errors.New("boom") }
	r, _ := d.Jobs(jobs.Job{Name: "retention.ok", Interval: time.Hour, Run: ok}, jobs.Job{Name: "retention.failing", Interval: time.Hour, Run: failing})
	if _, err := r.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, `nocontact_scheduler_last_run_timestamp_seconds{scheduler="retention.ok",service="plans"} 1.7963532e+09`) {
		t.Errorf("no last success of retention.ok at %v in:\n%s", now, grep(body, "scheduler_last_run"))
	}
	if strings.Contains(body, `scheduler="retention.failing"`) {
		t.Errorf("a failing job shows a success:\n%s", grep(body, "scheduler_last_run"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
