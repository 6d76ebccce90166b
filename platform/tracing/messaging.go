package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// NATS has no value of its own in the semantic conventions' enumeration.
var messagingSystemNATS = semconv.MessagingSystemKey.String("nats")

// StartPublish starts the producer span of publishing one event (span name
// "publish <subject>"), to be ended once JetStream acknowledged it. Inject
// the returned context into the message headers.
func (p *Provider) StartPublish(ctx context.Context, subject, eventID string) (context.Context, trace.Span) {
	return p.Tracer().Start(ctx, "publish "+subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			messagingSystemNATS,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("publish"),
			semconv.MessagingDestinationName(subject),
			semconv.MessagingMessageID(eventID),
		))
}

// StartProcess starts the consumer span of handling one delivery (span
// name "process <subject>"), child of the producer's context as extracted
// from the headers into ctx.
func (p *Provider) StartProcess(ctx context.Context, subject, consumer, eventID string, delivered uint64) (context.Context, trace.Span) {
	return p.Tracer().Start(ctx, "process "+subject,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			messagingSystemNATS,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(subject),
			semconv.MessagingConsumerGroupName(consumer),
			semconv.MessagingMessageID(eventID),
			attribute.Int64("messaging.nats.delivery_count", int64(delivered)),
		))
}

// End ends span, marking it failed when err is not nil. Only the error's
// text is recorded: errors carry ids, never content (DESIGN.md §4).
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
