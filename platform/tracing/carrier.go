package tracing

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// HeaderCarrier carries trace context in NATS message headers (keys as the
// propagator writes them: "traceparent", "tracestate", "baggage").
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier{}

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces key's values.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys present.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes ctx's trace context into a map, e.g. to store beside an
// outbox event; nil when ctx carries none.
func Inject(ctx context.Context) map[string]string {
	m := propagation.MapCarrier{}
	propagator.Inject(ctx, m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// Extract returns ctx with the trace context stored by Inject.
func Extract(ctx context.Context, stored map[string]string) context.Context {
	if len(stored) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier(stored))
}

// InjectHeader writes ctx's trace context into NATS headers.
func InjectHeader(ctx context.Context, h nats.Header) { propagator.Inject(ctx, HeaderCarrier(h)) }

// ExtractHeader returns ctx with the trace context of NATS headers.
func ExtractHeader(ctx context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, HeaderCarrier(h))
}
