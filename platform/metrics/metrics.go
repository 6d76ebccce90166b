// Package metrics holds a process component's Prometheus metrics: one
// registry per service (never the global default, so that several services
// in one process, as in the devstack, do not collide), the Go and process
// collectors, and the metric families the platform records, every one
// prefixed "nocontact_" and labelled service=<name>:
//
//	nocontact_grpc_server_handled_total{method,code}       counter
//	nocontact_grpc_server_handling_seconds{method}         histogram
//	nocontact_outbox_backlog                               gauge
//	nocontact_outbox_oldest_pending_seconds                gauge
//	nocontact_outbox_published_total                       counter
//	nocontact_consumer_handled_total{consumer,outcome}     counter
//	nocontact_consumer_redeliveries_total{consumer}        counter
//	nocontact_consumer_dead_letters_total{consumer}        counter
//	nocontact_consumer_pending_messages{consumer}          gauge (asked of JetStream at scrape time)
//	nocontact_consumer_ack_pending_messages{consumer}      gauge (asked of JetStream at scrape time)
//	nocontact_scheduler_lag_seconds{scheduler}             histogram
//	nocontact_scheduler_last_run_timestamp_seconds{scheduler} gauge
//	nocontact_webhook_deliveries_total{outcome}            counter (notify)
//	nocontact_webhook_delivery_seconds                     histogram (notify)
//	nocontact_http_requests_total{route_class,code}        counter (gateway)
//	nocontact_build_info{version,commit,goversion}         gauge, always 1
//
// nocontact_build_info is registered by New. Every other family is
// registered when the component that records it is wired (the first
// ObserveRPC, OutboxObserver, ConsumerObserver, ConsumerLag, Scheduler,
// WebhookObserver or ObserveHTTP), so a service without a relay exposes no
// outbox gauges. The packages that record (grpcserver, outbox, natsx, the
// schedulers, webhook delivery) take plain function hooks and do not import
// Prometheus. Every method is safe on a nil *Metrics and does nothing.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"

	"github.com/nocontact/backend/platform/buildinfo"
)

// Namespace prefixes every metric name.
const Namespace = "nocontact"

// DefaultAddr is where a service serves /metrics unless METRICS_ADDR says
// otherwise.
const DefaultAddr = ":9464"

// Consumer outcomes (the outcome label of consumer_handled_total); natsx
// reports the same strings.
const (
	OutcomeOK         = "ok"
	OutcomeRetry      = "retry"
	OutcomeDeadLetter = "dead_letter"
)

// Webhook delivery outcomes (the outcome label of webhook_deliveries_total),
// one per attempt; notify reports the same strings.
const (
	// WebhookDelivered: the receiver answered 2xx.
	WebhookDelivered = "delivered"
	// WebhookRetry: the attempt failed and another one is scheduled.
	WebhookRetry = "retry"
	// WebhookRefused: the SSRF guard refused the address the host resolved
	// to, nothing was sent, and another attempt is scheduled.
	WebhookRefused = "refused"
	// WebhookFailed: the last attempt failed (whatever the reason); the
	// delivery is given up.
	WebhookFailed = "failed"
)

// consumerLagTimeout bounds how long a scrape waits for JetStream to say
// how far a consumer is behind.
const consumerLagTimeout = 2 * time.Second

// schedulerLagBuckets suit schedulers that tick every second to a minute
// and catch up after hours of downtime.
var schedulerLagBuckets = []float64{0.5, 1, 2.5, 5, 10, 15, 30, 45, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600}

// Metrics is one service's registry and metric families.
type Metrics struct {
	service string
	reg     *prometheus.Registry

	rpcOnce    sync.Once
	rpcHandled *prometheus.CounterVec
	rpcSeconds *prometheus.HistogramVec

	outboxOnce      sync.Once
	outboxBacklog   prometheus.Gauge
	outboxOldest    prometheus.Gauge
	outboxPublished prometheus.Counter

	consumerOnce         sync.Once
	consumerHandled      *prometheus.CounterVec
	consumerRedeliveries *prometheus.CounterVec
	consumerDeadLetters  *prometheus.CounterVec

	httpOnce     sync.Once
	httpRequests *prometheus.CounterVec

	lagOnce sync.Once
	lag     *consumerLag

	schedulerOnce    sync.Once
	schedulerLag     *prometheus.HistogramVec
	schedulerLastRun *prometheus.GaugeVec

	webhookOnce       sync.Once
	webhookDeliveries *prometheus.CounterVec
	webhookSeconds    prometheus.Histogram
}

// New returns the metrics of the named service, with a fresh registry
// holding the Go runtime and process collectors.
func New(service string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	labels := prometheus.Labels{"service": service}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: Namespace, Name: name, Help: help, ConstLabels: labels}
	}
	build := buildinfo.Get()
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("build_info",
		"Always 1; the labels say which build is running.")), []string{"version", "commit", "goversion"})
	buildInfo.WithLabelValues(build.Version, build.Commit, build.GoVersion).Set(1)
	reg.MustRegister(buildInfo)
	return &Metrics{
		service: service,
		reg:     reg,
		rpcHandled: prometheus.NewCounterVec(prometheus.CounterOpts(opts("grpc_server_handled_total",
			"RPCs completed by the server, by full method and gRPC code.")), []string{"method", "code"}),
		rpcSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "grpc_server_handling_seconds", ConstLabels: labels,
			Help:    "Time from the start of an RPC to its end (a stream's whole life), by full method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method"}),
		outboxBacklog: prometheus.NewGauge(prometheus.GaugeOpts(opts("outbox_backlog",
			"Documents with unpublished events seen by the relay's last pass (at most its batch size per collection)."))),
		outboxOldest: prometheus.NewGauge(prometheus.GaugeOpts(opts("outbox_oldest_pending_seconds",
			"Age of the oldest unpublished event seen by the relay's last pass; 0 when none was pending."))),
		outboxPublished: prometheus.NewCounter(prometheus.CounterOpts(opts("outbox_published_total",
			"Outbox events acknowledged by JetStream (republished duplicates included)."))),
		consumerHandled: prometheus.NewCounterVec(prometheus.CounterOpts(opts("consumer_handled_total",
			"Deliveries handled by a durable consumer, by outcome: ok, retry or dead_letter.")), []string{"consumer", "outcome"}),
		consumerRedeliveries: prometheus.NewCounterVec(prometheus.CounterOpts(opts("consumer_redeliveries_total",
			"Deliveries that were not a message's first.")), []string{"consumer"}),
		consumerDeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts(opts("consumer_dead_letters_total",
			"Messages copied to the DEADLETTER stream and given up on.")), []string{"consumer"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts(opts("http_requests_total",
			"HTTP requests answered, by coarse route class (never ids) and status code.")), []string{"route_class", "code"}),
		lag: &consumerLag{
			pending: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "consumer_pending_messages"),
				"Messages in the stream not yet delivered to the durable consumer (JetStream's num_pending), asked at scrape time.",
				[]string{"consumer"}, labels),
			ackPending: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "consumer_ack_pending_messages"),
				"Messages delivered to the durable consumer and not yet acknowledged (JetStream's num_ack_pending), asked at scrape time.",
				[]string{"consumer"}, labels),
			info: map[string]func(context.Context) (uint64, uint64, error){},
		},
		schedulerLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "scheduler_lag_seconds", ConstLabels: labels,
			Help:    "How late a scheduler did a piece of due work (a milestone, a reminder, a held notification): the time it did it minus the moment it fell due.",
			Buckets: schedulerLagBuckets,
		}, []string{"scheduler"}),
		schedulerLastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("scheduler_last_run_timestamp_seconds",
			"Unix time of the scheduler's last pass that completed without error.")), []string{"scheduler"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts(opts("webhook_deliveries_total",
			"Webhook delivery attempts, by outcome: delivered, retry, refused (SSRF guard; retried) or failed (the last attempt; given up).")), []string{"outcome"}),
		webhookSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "webhook_delivery_seconds", ConstLabels: labels,
			Help:    "Duration of one webhook delivery attempt (the signed POST until the answer or the error).",
			Buckets: prometheus.DefBuckets,
		}),
	}
}

// Service is the service label's value.
func (m *Metrics) Service() string {
	if m == nil {
		return ""
	}
	return m.service
}

// Registry is the service's registry, to register further collectors on.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Serve answers GET /metrics on lis (an HTTP server of its own, away from
// the service's API port) until ctx is done, then shuts the server down
// within a few seconds. It returns nil after a clean shutdown and closes
// lis.
func (m *Metrics) Serve(ctx context.Context, lis net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics serve: %w", err)
	}
	return nil
}

// Disabled reports whether a METRICS_ADDR value turns the metrics listener
// off ("" or "off").
func Disabled(addr string) bool {
	addr = strings.TrimSpace(addr)
	return addr == "" || strings.EqualFold(addr, "off")
}

// Listen binds addr for Serve; it returns a nil listener and no error when
// addr is Disabled.
func Listen(addr string) (net.Listener, error) {
	if Disabled(addr) {
		return nil, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	return lis, nil
}

// ObserveRPC records one finished RPC: its full method, the gRPC code the
// client got and its duration. It fits grpcserver.Options.ObserveRPC.
func (m *Metrics) ObserveRPC(method string, code codes.Code, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.rpcOnce.Do(func() { m.reg.MustRegister(m.rpcHandled, m.rpcSeconds) })
	m.rpcHandled.WithLabelValues(method, code.String()).Inc()
	m.rpcSeconds.WithLabelValues(method).Observe(elapsed.Seconds())
}

// OutboxObserver returns the hook for outbox.Options.Observe: after each
// relay pass, the pending documents it saw, the age of the oldest pending
// event and how many events it published. Nil on a nil Metrics.
func (m *Metrics) OutboxObserver() func(pending int, oldest time.Duration, published int) {
	if m == nil {
		return nil
	}
	m.outboxOnce.Do(func() { m.reg.MustRegister(m.outboxBacklog, m.outboxOldest, m.outboxPublished) })
	return func(pending int, oldest time.Duration, published int) {
		m.outboxBacklog.Set(float64(pending))
		m.outboxOldest.Set(max(oldest, 0).Seconds())
		if published > 0 {
			m.outboxPublished.Add(float64(published))
		}
	}
}

// ConsumerObserver returns the hook for natsx.ConsumerSpec.Observe of the
// named durable consumer: each handled delivery's outcome (OutcomeOK,
// OutcomeRetry, OutcomeDeadLetter) and delivery count. The consumer's
// series start at 0. Nil on a nil Metrics.
func (m *Metrics) ConsumerObserver(consumer string) func(outcome string, delivered uint64) {
	if m == nil {
		return nil
	}
	m.consumerOnce.Do(func() {
		m.reg.MustRegister(m.consumerHandled, m.consumerRedeliveries, m.consumerDeadLetters)
	})
	handled := map[string]prometheus.Counter{}
	for _, o := range []string{OutcomeOK, OutcomeRetry, OutcomeDeadLetter} {
		handled[o] = m.consumerHandled.WithLabelValues(consumer, o)
	}
	redeliveries := m.consumerRedeliveries.WithLabelValues(consumer)
	deadLetters := m.consumerDeadLetters.WithLabelValues(consumer)
	return func(outcome string, delivered uint64) {
		c, ok := handled[outcome]
		if !ok {
			c = m.consumerHandled.WithLabelValues(consumer, outcome)
		}
		c.Inc()
		if delivered > 1 {
			redeliveries.Inc()
		}
		if outcome == OutcomeDeadLetter {
			deadLetters.Inc()
		}
	}
}

// ObserveHTTP records one answered HTTP request. routeClass must come from
// a bounded set (never a path with ids in it).
func (m *Metrics) ObserveHTTP(routeClass string, code int) {
	if m == nil {
		return
	}
	m.httpOnce.Do(func() { m.reg.MustRegister(m.httpRequests) })
	m.httpRequests.WithLabelValues(routeClass, strconv.Itoa(code)).Inc()
}

// ConsumerLag reports how far the named durable consumer is behind, asked
// of info at scrape time (with a short timeout): pending is the messages
// in the stream not yet delivered to it, ackPending those delivered and not
// yet acknowledged (JetStream's NumPending and NumAckPending). When info
// fails (the consumer does not exist yet, NATS is unreachable) the scrape
// shows no value for the consumer rather than a stale one. A service may
// register several consumers; registering a name again replaces its info.
func (m *Metrics) ConsumerLag(consumer string, info func(ctx context.Context) (pending, ackPending uint64, err error)) {
	if m == nil || info == nil {
		return
	}
	m.lag.mu.Lock()
	m.lag.info[consumer] = info
	m.lag.mu.Unlock()
	m.lagOnce.Do(func() { m.reg.MustRegister(m.lag) })
}

// consumerLag is one collector for every consumer of a service, so that a
// second consumer adds label values rather than a second set of
// descriptors.
type consumerLag struct {
	pending, ackPending *prometheus.Desc

	mu   sync.Mutex
	info map[string]func(context.Context) (uint64, uint64, error)
}

func (c *consumerLag) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
}

// Collect asks every consumer at once, so that one slow answer costs a
// scrape consumerLagTimeout at most.
func (c *consumerLag) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	names := make([]string, 0, len(c.info))
	for name := range c.info {
		names = append(names, name)
	}
	infos := make([]func(context.Context) (uint64, uint64, error), len(names))
	slices.Sort(names)
	for i, name := range names {
		infos[i] = c.info[name]
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), consumerLagTimeout)
	defer cancel()
	type answer struct {
		pending, ackPending uint64
		ok                  bool
	}
	answers := make([]answer, len(names))
	var wg sync.WaitGroup
	for i, info := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pending, ackPending, err := info(ctx)
			answers[i] = answer{pending, ackPending, err == nil}
		}()
	}
	wg.Wait()
	for i, name := range names {
		if !answers[i].ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(answers[i].pending), name)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(answers[i].ackPending), name)
	}
}

// Scheduler returns the hooks of the named scheduler (a bounded name such
// as "milestones", never an id): lag observes how late one piece of due
// work was done (now minus the moment it fell due; negative counts as 0),
// and ran records the instant of a pass that completed without error, for
// an alert when the scheduler stops running. Both are nil on a nil
// Metrics.
func (m *Metrics) Scheduler(scheduler string) (lag func(time.Duration), ran func(time.Time)) {
	if m == nil {
		return nil, nil
	}
	m.schedulerOnce.Do(func() { m.reg.MustRegister(m.schedulerLag, m.schedulerLastRun) })
	hist := m.schedulerLag.WithLabelValues(scheduler)
	last := m.schedulerLastRun.WithLabelValues(scheduler)
	return func(d time.Duration) { hist.Observe(max(d, 0).Seconds()) },
		func(t time.Time) { last.Set(float64(t.UnixNano()) / 1e9) }
}

// WebhookObserver returns the hook for notify's webhook delivery: each
// attempt's outcome (WebhookDelivered, WebhookRetry, WebhookRefused,
// WebhookFailed) and duration. The outcome series start at 0. Nil on a nil
// Metrics.
func (m *Metrics) WebhookObserver() func(outcome string, elapsed time.Duration) {
	if m == nil {
		return nil
	}
	m.webhookOnce.Do(func() { m.reg.MustRegister(m.webhookDeliveries, m.webhookSeconds) })
	counters := map[string]prometheus.Counter{}
	for _, o := range []string{WebhookDelivered, WebhookRetry, WebhookRefused, WebhookFailed} {
		counters[o] = m.webhookDeliveries.WithLabelValues(o)
	}
	return func(outcome string, elapsed time.Duration) {
		c, ok := counters[outcome]
		if !ok {
			c = m.webhookDeliveries.WithLabelValues(outcome)
		}
		c.Inc()
		m.webhookSeconds.Observe(max(elapsed, 0).Seconds())
	}
}
