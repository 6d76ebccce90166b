package metrics_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"

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
	if m.OutboxObserver() != nil || m.ConsumerObserver("c") != nil {
		t.Fatal("a nil Metrics hands out hooks")
	}
	for _, addr := range []string{"", "off", "OFF", " "} {
		lis, err := metrics.Listen(addr)
		if lis != nil || err != nil || !metrics.Disabled(addr) {
			t.Errorf("Listen(%q) = %v, %v; want nothing", addr, lis, err)
		}
	}
}
