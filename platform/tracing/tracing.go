// Package tracing sets up OpenTelemetry tracing for one component of the
// suite: a tracer provider configured by the standard OTEL_* environment
// variables, the W3C trace-context propagator, gRPC instrumentation for
// servers and clients, and a carrier that moves trace context through NATS
// message headers (and through the outbox, which stores it beside the
// event until the relay publishes it).
//
// Tracing is off by default: unless OTEL_TRACES_EXPORTER names an exporter
// ("otlp", "console"), the provider records nothing. Trace context still
// flows through every hop when it is off, so logs carry the caller's trace
// id and a trace started upstream stays whole.
//
// What the standard variables do here:
//
//	OTEL_TRACES_EXPORTER        none (default) | otlp | console
//	OTEL_EXPORTER_OTLP_*        endpoint, protocol (http/protobuf default, grpc), headers, timeout
//	OTEL_TRACES_SAMPLER(_ARG)   parentbased_always_on (default), always_on, always_off,
//	                            traceidratio, parentbased_always_off, parentbased_traceidratio
//	OTEL_SERVICE_NAME           overrides the component's name (not in the devstack:
//	                            every component there shares one process environment)
//	OTEL_RESOURCE_ATTRIBUTES    extra resource attributes, e.g. deployment.environment.name=prod
//	OTEL_BSP_*                  batch span processor delay, queue and batch sizes
//
// Health checks (the gRPC health service, the gateway's /healthz and
// /livez) are never sampled, whatever the sampler says: probes every few
// seconds would otherwise be most of the traces.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/nocontact/backend/platform/buildinfo"
)

// InstrumentationName names the suite's own tracers (outbox, consumers).
const InstrumentationName = "github.com/nocontact/backend/platform"

// Environment variables read here (the exporters read the rest).
const (
	envExporter   = "OTEL_TRACES_EXPORTER"
	envSampler    = "OTEL_TRACES_SAMPLER"
	envSamplerArg = "OTEL_TRACES_SAMPLER_ARG"
)

// propagator is W3C trace context plus baggage, the OpenTelemetry default.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func init() {
	// Instrumentation that falls back to the global propagator (and code
	// outside this package) propagates the same way.
	otel.SetTextMapPropagator(propagator)
}

// Propagator is the propagator every hop uses.
func Propagator() propagation.TextMapPropagator { return propagator }

// Provider is one component's tracer provider. A nil *Provider is valid
// and traces nothing (context still propagates).
type Provider struct {
	tp      trace.TracerProvider
	sdk     *sdktrace.TracerProvider // nil when disabled
	service string
}

// Setup returns the tracer provider of the named component (service.name,
// unless OTEL_SERVICE_NAME says otherwise), configured from the OTEL_*
// environment. With no exporter configured it returns a provider that
// records nothing and holds no goroutine. log receives configuration
// warnings (an unknown sampler falls back to the default, as the
// OpenTelemetry specification asks).
func Setup(ctx context.Context, service string, log *slog.Logger) (*Provider, error) {
	if log == nil {
		log = slog.Default()
	}
	exporter := strings.ToLower(strings.TrimSpace(os.Getenv(envExporter)))
	if exporter == "" || exporter == "none" {
		return &Provider{tp: noop.NewTracerProvider(), service: service}, nil
	}
	// Export failures (a collector down) are logged, never fatal.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing", "error", err)
	}))
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: %s=%q: %w", envExporter, exporter, err)
	}
	info := buildinfo.Get()
	res, err := resource.Merge(
		resource.NewSchemaless(semconv.ServiceName(service), semconv.ServiceVersion(info.Version)),
		// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win over the defaults.
		envResource(ctx),
	)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(SkipHealthChecks(samplerFromEnv(log))),
	)
	log.Info("tracing on", "exporter", exporter, "service", service)
	return &Provider{tp: sdk, sdk: sdk, service: service}, nil
}

func envResource(ctx context.Context) *resource.Resource {
	r, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && r == nil {
		return resource.Empty()
	}
	return r
}

// FromSDK wraps an SDK tracer provider built by hand (tests, or a
// component that configures its own exporter).
func FromSDK(service string, sdk *sdktrace.TracerProvider) *Provider {
	return &Provider{tp: sdk, sdk: sdk, service: service}
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// TracerProvider is the provider for instrumentation libraries.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil {
		return noop.NewTracerProvider()
	}
	return p.tp
}

// Tracer is the suite's own tracer.
func (p *Provider) Tracer() trace.Tracer {
	return p.TracerProvider().Tracer(InstrumentationName, trace.WithInstrumentationVersion(buildinfo.Get().Version))
}

// Shutdown exports the spans still queued and stops the exporter. Call it
// last, after everything that records spans has stopped.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG the
// way the SDK does by default (the SDK cannot both read them and let us
// wrap the result).
func samplerFromEnv(log *slog.Logger) sdktrace.Sampler {
	name := strings.ToLower(strings.TrimSpace(os.Getenv(envSampler)))
	arg := strings.TrimSpace(os.Getenv(envSamplerArg))
	ratio := func() float64 {
		if arg == "" {
			return 1
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			log.Warn("ignoring invalid "+envSamplerArg+"; sampling everything", "value", arg)
			return 1
		}
		return r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio())
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio()))
	default:
		log.Warn("ignoring unknown "+envSampler+"; using parentbased_always_on", "value", name)
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
}
