// Package logging builds the suite's slog loggers and carries the request id
// and trace id in the context so that every line logged while serving a call
// can be tied back to it.
//
// Only ids and scores go into logs, never request or response bodies, journal
// text or notes (DESIGN.md section 4). Code logs with the *Context methods
// (InfoContext, ErrorContext, ...) so that the handler can find the ids.
package logging

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/nocontact/backend/platform/config"
)

// RequestIDHeader is the gRPC metadata key (and HTTP header) that carries
// the request id from one hop to the next.
const RequestIDHeader = "x-request-id"

// Keys of the attributes added to every record.
const (
	RequestIDKey = "request_id"
	TraceIDKey   = "trace_id"
	SpanIDKey    = "span_id"
)

// New returns a logger writing to w in the configured format and level, whose
// records carry the request id and trace id of the context they are logged
// with. An unknown format falls back to JSON, the production format, rather
// than failing: config.Load already rejects unknown formats.
func New(cfg config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level}
	var h slog.Handler
	if cfg.Format == config.LogText {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(NewContextHandler(h))
}

type ctxKey int

const requestIDKey ctxKey = 0

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// TraceID returns the OpenTelemetry trace id of ctx's span (hex), or ""
// when ctx carries none. Trace context flows even when tracing does not
// record (platform/tracing), so a log line can be matched to the trace of
// the request that caused it whenever one was sampled upstream.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// SpanID returns the id of ctx's span (hex), or "".
func SpanID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasSpanID() {
		return sc.SpanID().String()
	}
	return ""
}

// ContextHandler wraps a slog.Handler and adds request_id and trace_id from
// the record's context, at the top level of the record, whatever groups the
// logger has opened. An id that is not set is left out rather than logged
// empty.
type ContextHandler struct {
	base  slog.Handler // the wrapped handler, without ops applied
	ops   []handlerOp  // WithAttrs/WithGroup calls, in order
	inner slog.Handler // base with ops applied: the fast path
}

// handlerOp is one WithAttrs or WithGroup call, kept so that the ids can be
// inserted before any group when a group is open.
type handlerOp struct {
	group string
	attrs []slog.Attr
}

// NewContextHandler wraps h.
func NewContextHandler(h slog.Handler) *ContextHandler {
	return &ContextHandler{base: h, inner: h}
}

// Enabled implements slog.Handler.
func (h *ContextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	ids := contextAttrs(ctx)
	if len(ids) == 0 {
		return h.inner.Handle(ctx, r)
	}
	if !h.hasGroup() {
		r = r.Clone() // the record's attrs may be shared with the caller
		r.AddAttrs(ids...)
		return h.inner.Handle(ctx, r)
	}
	// Under a group the record's attrs would land inside it; rebuild the
	// chain with the ids first so they stay at the top level. This costs an
	// allocation per record, only for grouped loggers.
	inner := h.base.WithAttrs(ids)
	for _, op := range h.ops {
		if op.group != "" {
			inner = inner.WithGroup(op.group)
		} else {
			inner = inner.WithAttrs(op.attrs)
		}
	}
	return inner.Handle(ctx, r)
}

func (h *ContextHandler) hasGroup() bool {
	for _, op := range h.ops {
		if op.group != "" {
			return true
		}
	}
	return false
}

// WithAttrs implements slog.Handler.
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs}, h.inner.WithAttrs(attrs))
}

// WithGroup implements slog.Handler.
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h // slog ignores empty groups
	}
	return h.with(handlerOp{group: name}, h.inner.WithGroup(name))
}

func (h *ContextHandler) with(op handlerOp, inner slog.Handler) *ContextHandler {
	ops := make([]handlerOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &ContextHandler{base: h.base, ops: append(ops, op), inner: inner}
}

func contextAttrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	var attrs []slog.Attr
	if id := RequestID(ctx); id != "" {
		attrs = append(attrs, slog.String(RequestIDKey, id))
	}
	if id := TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String(TraceIDKey, id))
	}
	if id := SpanID(ctx); id != "" {
		attrs = append(attrs, slog.String(SpanIDKey, id))
	}
	return attrs
}
