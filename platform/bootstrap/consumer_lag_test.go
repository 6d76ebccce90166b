package bootstrap_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/nocontact/backend/platform/bootstrap"
	"github.com/nocontact/backend/platform/metrics"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lagOf reads the consumer's lag gauges from a scrape; ok is false when
// the scrape shows none.
func lagOf(t *testing.T, m *metrics.Metrics, consumer string) (pending, ackPending float64, ok bool) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	read := func(name string) (float64, bool) {
		re := regexp.MustCompile(`(?m)^nocontact_` + name + `\{consumer="` + regexp.QuoteMeta(consumer) + `",service="[a-z]+"\} (\S+)$`)
		match := re.FindStringSubmatch(rec.Body.String())
		if match == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(match[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v, true
	}
	pending, ok1 := read("consumer_pending_messages")
	ackPending, ok2 := read("consumer_ack_pending_messages")
	return pending, ackPending, ok1 && ok2
}

// A consumer started through Deps reports, at each scrape, what JetStream
// says it has not yet been given and what it has not yet acknowledged.
func TestConsumerReportsItsLag(t *testing.T) {
	ctx := context.Background()
	_, js := testenv.NATS(t)
	if _, err := natsx.EnsureStream(ctx, js, "PLANS", []string{"plans.>"}); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("notify")
	d := &bootstrap.Deps{Log: slog.New(slog.DiscardHandler), JS: js, Metrics: m}
	release := make(chan struct{})
	start := d.Consumer(natsx.ConsumerSpec{Stream: "PLANS", Durable: "notify-plans"}, func(ctx context.Context, _ jetstream.Msg) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})

	// The consumer does not exist before Serve starts it: no value, not 0.
	if p, a, ok := lagOf(t, m, "notify-plans"); ok {
		t.Fatalf("lag before the consumer exists = %v, %v; want none", p, a)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "plans.plan.created", fmt.Appendf(nil, "event %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop, err := start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		stop()
	}()

	waitFor := func(what string, cond func(p, a float64) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			p, a, ok := lagOf(t, m, "notify-plans")
			if ok && cond(p, a) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: lag = %v, %v (shown: %v)", what, p, a, ok)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The handler holds the first message: all three are either waiting or
	// delivered and unacknowledged.
	waitFor("while the handler is stuck", func(p, a float64) bool { return a >= 1 && p+a == 3 })
	close(release)
	released = true
	waitFor("once everything is handled", func(p, a float64) bool { return p == 0 && a == 0 })
}
