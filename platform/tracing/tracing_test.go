package tracing_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/nocontact/backend/platform/tracing"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Off by default: no exporter variable means nothing recorded and no
// goroutine, yet a trace started upstream still reaches the handler.
func TestOffByDefaultStillPropagates(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	p, err := tracing.Setup(context.Background(), "plans", quiet())
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() {
		t.Fatal("tracing enabled without OTEL_TRACES_EXPORTER")
	}
	upstream := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
	}))
	ctx, span := p.StartPublish(upstream, "plans.plan.created", "e1")
	defer span.End()
	if span.IsRecording() {
		t.Fatal("a disabled provider recorded a span")
	}
	h := nats.Header{}
	tracing.InjectHeader(ctx, h)
	got := trace.SpanContextFromContext(tracing.ExtractHeader(context.Background(), h))
	if got.TraceID() != (trace.TraceID{1, 2, 3}) {
		t.Fatalf("trace id after the NATS hop = %s, want the upstream one", got.TraceID())
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestExporterSelection(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	if p, err := tracing.Setup(context.Background(), "plans", quiet()); err != nil || p.Enabled() {
		t.Fatalf("none: enabled=%v err=%v, want off", p.Enabled(), err)
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	p, err := tracing.Setup(context.Background(), "plans", quiet())
	if err != nil || !p.Enabled() {
		t.Fatalf("console: enabled=%v err=%v, want on", p.Enabled(), err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "carrier-pigeon")
	if _, err := tracing.Setup(context.Background(), "plans", quiet()); err == nil {
		t.Fatal("an unknown exporter was accepted")
	}
}

// Probes hit every replica every few seconds; they must not be traced,
// whatever the configured sampler, while real calls are.
func TestHealthChecksAreNotSampled(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(tracing.SkipHealthChecks(sdktrace.AlwaysSample())),
		sdktrace.WithSpanProcessor(rec),
	)
	defer func() { _ = sdk.Shutdown(context.Background()) }()
	tr := sdk.Tracer("test")
	for _, name := range []string{
		"grpc.health.v1.Health/Check", "grpc.health.v1.Health/Watch", "GET /healthz", "GET /livez",
		"nocontact.plans.v1.PlansService/RecordContact", "POST /v1/plans", "publish plans.plan.created",
	} {
		_, span := tr.Start(context.Background(), name)
		span.End()
	}
	var got []string
	for _, s := range rec.Ended() {
		got = append(got, s.Name())
	}
	want := []string{"nocontact.plans.v1.PlansService/RecordContact", "POST /v1/plans", "publish plans.plan.created"}
	if len(got) != len(want) {
		t.Fatalf("sampled %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sampled %v, want %v", got, want)
		}
	}
}

// The sampler variables are honoured (the wrapper must not lose them).
func TestSamplerFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	p, err := tracing.Setup(context.Background(), "plans", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	_, span := p.StartPublish(context.Background(), "plans.plan.created", "e1")
	defer span.End()
	if span.IsRecording() {
		t.Fatal("always_off sampled a span")
	}
}
