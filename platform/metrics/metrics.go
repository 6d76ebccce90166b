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
//	nocontact_http_requests_total{route_class,code}        counter (gateway)
//
// A family is registered when the component that records it is wired (the
// first ObserveRPC, OutboxObserver, ConsumerObserver or ObserveHTTP), so a
// service without a relay exposes no outbox gauges. The packages that
// record (grpcserver, outbox, natsx) take plain function hooks and do not
// import Prometheus. Every method is safe on a nil *Metrics and does nothing.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
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
