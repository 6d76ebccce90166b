package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"

	"github.com/nocontact/backend/platform/buildinfo"
	"github.com/nocontact/backend/platform/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServeExposesTheFamiliesInUse(t *testing.T) {
	m := metrics.New("plans")
	m.ObserveRPC("/nocontact.plans.v1.PlansService/CreatePlan", codes.OK, 3*time.Millisecond)
	m.OutboxObserver()(2, 1500*time.Millisecond, 3)
	observe := m.ConsumerObserver("plans-journal")
	observe(metrics.OutcomeOK, 1)
	observe(metrics.OutcomeDeadLetter, 5)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, lis) }()

	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + lis.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	c.CloseIdleConnections()
	text := string(body)
	for _, line := range []string{
		`nocontact_grpc_server_handled_total{code="OK",method="/nocontact.plans.v1.PlansService/CreatePlan",service="plans"} 1`,
		`nocontact_grpc_server_handling_seconds_count{method="/nocontact.plans.v1.PlansService/CreatePlan",service="plans"} 1`,
		`nocontact_outbox_backlog{service="plans"} 2`,
		`nocontact_outbox_oldest_pending_seconds{service="plans"} 1.5`,
		`nocontact_outbox_published_total{service="plans"} 3`,
		`nocontact_consumer_handled_total{consumer="plans-journal",outcome="ok",service="plans"} 1`,
		`nocontact_consumer_handled_total{consumer="plans-journal",outcome="retry",service="plans"} 0`,
		`nocontact_consumer_handled_total{consumer="plans-journal",outcome="dead_letter",service="plans"} 1`,
		`nocontact_consumer_redeliveries_total{consumer="plans-journal",service="plans"} 1`,
		`nocontact_consumer_dead_letters_total{consumer="plans-journal",service="plans"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if !strings.Contains(text, "\n"+name+" ") {
			t.Errorf("/metrics lacks the runtime collector's %s", name)
		}
	}
	if strings.Contains(text, "nocontact_http_requests_total") {
		t.Error("a family nobody recorded is exposed")
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v after cancel, want nil", err)
	}
}

func TestTwoServicesInOneProcessDoNotCollide(t *testing.T) {
	a, b := metrics.New("plans"), metrics.New("journal")
	a.ObserveHTTP("/v1/plans", 200)
	b.ObserveHTTP("/v1/plans", 200)
	a.OutboxObserver()
	b.OutboxObserver()
	if _, err := a.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
}

func TestNilAndDisabled(t *testing.T) {
	var m *metrics.Metrics
	m.ObserveRPC("/x/Y", codes.OK, time.Second)
	m.ObserveHTTP("other", 404)
	m.ConsumerLag("c", func(context.Context) (uint64, uint64, error) { return 1, 1, nil })
	lag, ran := m.Scheduler("s")
	if m.OutboxObserver() != nil || m.ConsumerObserver("c") != nil || lag != nil || ran != nil || m.WebhookObserver() != nil {
		t.Fatal("a nil Metrics hands out hooks")
	}
	for _, addr := range []string{"", "off", "OFF", " "} {
		lis, err := metrics.Listen(addr)
		if lis != nil || err != nil || !metrics.Disabled(addr) {
			t.Errorf("Listen(%q) = %v, %v; want nothing", addr, lis, err)
		}
	}
}

// scrapeText serves m's handler once and returns the exposition.
func scrapeText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics = %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, line := range lines {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// Every registry says which build runs, from the start.
func TestBuildInfo(t *testing.T) {
	info := buildinfo.Get()
	text := scrapeText(t, metrics.New("journal"))
	wantLines(t, text, fmt.Sprintf(`nocontact_build_info{commit=%q,goversion=%q,service="journal",version=%q} 1`,
		info.Commit, info.GoVersion, info.Version))
}

// Consumer lag is asked at scrape time, for every consumer of the service;
// a consumer whose info fails shows nothing rather than a stale value.
func TestConsumerLagAskedAtScrapeTime(t *testing.T) {
	m := metrics.New("notify")
	var mu sync.Mutex
	plansPending, plansFails := uint64(7), false
	m.ConsumerLag("notify-plans", func(ctx context.Context) (uint64, uint64, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("consumer info asked without a deadline")
		}
		mu.Lock()
		defer mu.Unlock()
		if plansFails {
			return 0, 0, errors.New("consumer not found")
		}
		return plansPending, 2, nil
	})
	// A second consumer of the same service: no duplicate descriptors.
	m.ConsumerLag("notify-journal", func(context.Context) (uint64, uint64, error) { return 0, 1, nil })

	text := scrapeText(t, m)
	wantLines(t, text,
		`nocontact_consumer_pending_messages{consumer="notify-plans",service="notify"} 7`,
		`nocontact_consumer_ack_pending_messages{consumer="notify-plans",service="notify"} 2`,
		`nocontact_consumer_pending_messages{consumer="notify-journal",service="notify"} 0`,
		`nocontact_consumer_ack_pending_messages{consumer="notify-journal",service="notify"} 1`,
	)

	mu.Lock()
	plansPending = 3
	mu.Unlock()
	wantLines(t, scrapeText(t, m), `nocontact_consumer_pending_messages{consumer="notify-plans",service="notify"} 3`)

	mu.Lock()
	plansFails = true
	mu.Unlock()
	text = scrapeText(t, m)
	if strings.Contains(text, `consumer="notify-plans"`) {
		t.Error("a consumer whose info failed still shows a value")
	}
	wantLines(t, text, `nocontact_consumer_pending_messages{consumer="notify-journal",service="notify"} 0`)
}

// A consumer that does not answer costs a scrape the timeout, not forever,
// and shows nothing.
func TestConsumerLagTimesOut(t *testing.T) {
	m := metrics.New("plans")
	m.ConsumerLag("plans-journal", func(ctx context.Context) (uint64, uint64, error) {
		<-ctx.Done()
		return 0, 0, ctx.Err()
	})
	start := time.Now()
	text := scrapeText(t, m)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("scrape took %s with a hung consumer", took)
	}
	if strings.Contains(text, "nocontact_consumer_pending_messages{") {
		t.Error("a consumer that never answered shows a value")
	}
}

func TestSchedulerLagAndLastRun(t *testing.T) {
	m := metrics.New("plans")
	lag, ran := m.Scheduler("milestones")
	lag(3 * time.Second)
	lag(2 * time.Hour)
	lag(-time.Second) // a clock step backwards counts as on time
	ran(time.Unix(1_780_000_000, 500_000_000))
	text := scrapeText(t, m)
	wantLines(t, text,
		`nocontact_scheduler_lag_seconds_count{scheduler="milestones",service="plans"} 3`,
		`nocontact_scheduler_lag_seconds_sum{scheduler="milestones",service="plans"} 7203`,
		`nocontact_scheduler_lag_seconds_bucket{scheduler="milestones",service="plans",le="0.5"} 1`,
		`nocontact_scheduler_lag_seconds_bucket{scheduler="milestones",service="plans",le="5"} 2`,
		`nocontact_scheduler_lag_seconds_bucket{scheduler="milestones",service="plans",le="10800"} 3`,
		`nocontact_scheduler_last_run_timestamp_seconds{scheduler="milestones",service="plans"} 1.7800000005e+09`,
	)
	// A second scheduler in the same service.
	_, ran2 := m.Scheduler("release")
	ran2(time.Unix(1_780_000_100, 0))
	wantLines(t, scrapeText(t, m), `nocontact_scheduler_last_run_timestamp_seconds{scheduler="release",service="plans"} 1.7800001e+09`)
}

func TestWebhookOutcomes(t *testing.T) {
	m := metrics.New("notify")
	observe := m.WebhookObserver()
	observe(metrics.WebhookDelivered, 125*time.Millisecond)
	observe(metrics.WebhookRetry, 2*time.Second)
	observe(metrics.WebhookRetry, time.Second)
	observe(metrics.WebhookFailed, 10*time.Second)
	text := scrapeText(t, m)
	wantLines(t, text,
		`nocontact_webhook_deliveries_total{outcome="delivered",service="notify"} 1`,
		`nocontact_webhook_deliveries_total{outcome="retry",service="notify"} 2`,
		`nocontact_webhook_deliveries_total{outcome="refused",service="notify"} 0`,
		`nocontact_webhook_deliveries_total{outcome="failed",service="notify"} 1`,
		`nocontact_webhook_delivery_seconds_count{service="notify"} 4`,
		`nocontact_webhook_delivery_seconds_sum{service="notify"} 13.125`,
	)
}
