package tracing

import (
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// healthSpanPrefixes are span names of health checks: the gRPC health
// service (as otelgrpc names its spans) and the gateway's probe routes (as
// the gateway names its spans).
var healthSpanPrefixes = []string{
	"grpc.health.v1.Health/",
	"GET /healthz",
	"GET /livez",
}

// IsHealthCheck reports whether a span of this name is a health check.
func IsHealthCheck(spanName string) bool {
	for _, p := range healthSpanPrefixes {
		if strings.HasPrefix(spanName, p) {
			return true
		}
	}
	return false
}

// SkipHealthChecks wraps next so that health-check spans are dropped and
// every other span is left to next.
func SkipHealthChecks(next sdktrace.Sampler) sdktrace.Sampler { return skipHealth{next: next} }

type skipHealth struct{ next sdktrace.Sampler }

func (s skipHealth) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if IsHealthCheck(p.Name) {
		return sdktrace.SamplingResult{
			Decision:   sdktrace.Drop,
			Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState(),
		}
	}
	return s.next.ShouldSample(p)
}

func (s skipHealth) Description() string {
	return "SkipHealthChecks{" + s.next.Description() + "}"
}
