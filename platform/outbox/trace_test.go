package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/tracing"
)

// An event joins the trace of the call that recorded it, although the
// relay publishes it later (here from another provider, as another replica
// would) and a consumer handles it later still: the call's span, the
// publish and the handling are one trace, each the parent of the next.
func TestEventsCarryTheTraceOfTheCallThatRecordedThem(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	tp := tracing.FromSDK("test", sdk)

	callCtx, call := tp.Tracer().Start(ctx, "nocontact.plans.v1.PlansService/CreatePlan")
	store := docstore.New[struct {
		Status string `bson:"status"`
	}](f.coll, nil)
	if err := store.Create(callCtx, "p-traced", struct {
		Status string `bson:"status"`
	}{Status: "DRAFT"}, msg("ev-traced", "plans.plan.created")); err != nil {
		t.Fatal(err)
	}
	call.End()

	relay := outbox.NewRelay(f.js, quietLog(), outbox.Options{Tracing: tp}, f.coll)
	if n, err := relay.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("flush: published %d, err %v", n, err)
	}

	handled := make(chan trace.SpanContext, 1)
	stop, err := natsx.Consume(ctx, f.js, natsx.ConsumerSpec{Stream: "PLANS", Durable: "traced", Tracing: tp},
		func(ctx context.Context, _ jetstream.Msg) error {
			handled <- trace.SpanContextFromContext(ctx)
			return nil
		}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var inHandler trace.SpanContext
	select {
	case inHandler = <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the event was not delivered")
	}
	stop()

	if inHandler.TraceID() != call.SpanContext().TraceID() {
		t.Fatalf("handler's trace %s, want the recording call's %s", inHandler.TraceID(), call.SpanContext().TraceID())
	}
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
	}
	publish, process := spans["publish plans.plan.created"], spans["process plans.plan.created"]
	if publish == nil || process == nil {
		t.Fatalf("spans recorded: %v, want a publish and a process span", spans)
	}
	if publish.Parent().SpanID() != call.SpanContext().SpanID() || publish.SpanKind() != trace.SpanKindProducer {
		t.Fatalf("publish span: parent %s kind %s, want child of the call, producer", publish.Parent().SpanID(), publish.SpanKind())
	}
	if process.Parent().SpanID() != publish.SpanContext().SpanID() || process.SpanKind() != trace.SpanKindConsumer {
		t.Fatalf("process span: parent %s kind %s, want child of the publish, consumer", process.Parent().SpanID(), process.SpanKind())
	}
	if process.SpanContext().SpanID() != inHandler.SpanID() {
		t.Fatal("the handler does not run inside the process span")
	}
}
