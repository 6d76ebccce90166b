package edge

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nocontact/backend/platform/tracing"
)

// withTracing gives every request a server span, the root of its trace:
// the edge is public, so a traceparent sent by a client is linked, never
// adopted (a stranger cannot join our traces or force their sampling).
// Spans start named "<method> <route class>" ("GET /healthz" is dropped by
// the sampler); API routes are renamed after their path template once
// grpc-gateway matched it (nameSpanByRoute), never after a path with ids.
func withTracing(tp *tracing.Provider, classes map[string]bool, next http.Handler) http.Handler {
	traced := otelhttp.NewHandler(next, "gateway",
		otelhttp.WithTracerProvider(tp.TracerProvider()),
		otelhttp.WithPropagators(tracing.Propagator()),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if h, ok := r.Context().Value(routeKey{}).(*matchedRoute); ok && h.pattern != "" {
				return r.Method + " " + h.pattern
			}
			return r.Method + " " + routeClass(r.URL.Path, classes)
		}),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traced.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, &matchedRoute{})))
	})
}

// matchedRoute carries the path template grpc-gateway matched back out to
// withTracing, which names the span when the request is done.
type matchedRoute struct{ pattern string }

type routeKey struct{}

// nameSpanByRoute names the request's span after the matched path
// template, e.g. "POST /v1/plans/{plan_id}/contacts".
func nameSpanByRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if pat, ok := runtime.HTTPPattern(r.Context()); ok {
			// "/v1/plans/{plan_id=*}/contacts" → "/v1/plans/{plan_id}/contacts"
			pattern := strings.ReplaceAll(pat.String(), "=*}", "}")
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + pattern)
			span.SetAttributes(semconv.HTTPRoute(pattern))
			if h, ok := r.Context().Value(routeKey{}).(*matchedRoute); ok {
				h.pattern = pattern
			}
		}
		next(w, r, params)
	}
}
