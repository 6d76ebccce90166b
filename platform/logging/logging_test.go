package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	"go.opentelemetry.io/otel/trace"

	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/logging"
)

func decode(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, line)
	}
	return m
}

// withSpan returns ctx inside a span with fixed ids, as a traced call's
// context is (the ids are what the logs must show).
func withSpan(ctx context.Context) context.Context {
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	}))
}

const (
	wantTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	wantSpanID  = "00f067aa0ba902b7"
)

func TestContextIDsOnEveryLine(t *testing.T) {
	withBoth := withSpan(logging.WithRequestID(context.Background(), "req-1"))
	tests := []struct {
		name    string
		ctx     context.Context
		log     func(l *slog.Logger, ctx context.Context)
		wantTop map[string]any // keys expected at the top level
		absent  []string       // keys that must not appear at the top level
	}{
		{
			name:    "both ids",
			ctx:     withBoth,
			log:     func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "hello", "plan_id", "p1") },
			wantTop: map[string]any{"request_id": "req-1", "trace_id": wantTraceID, "span_id": wantSpanID, "plan_id": "p1", "msg": "hello"},
		},
		{
			name:    "request id only leaves trace id out",
			ctx:     logging.WithRequestID(context.Background(), "req-2"),
			log:     func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "hello") },
			wantTop: map[string]any{"request_id": "req-2"},
			absent:  []string{"trace_id", "span_id"},
		},
		{
			name:   "no ids",
			ctx:    context.Background(),
			log:    func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "hello") },
			absent: []string{"request_id", "trace_id"},
		},
		{
			name: "with attrs keeps ids",
			ctx:  withBoth,
			log: func(l *slog.Logger, ctx context.Context) {
				l.With("service", "plans").InfoContext(ctx, "hello")
			},
			wantTop: map[string]any{"request_id": "req-1", "service": "plans"},
		},
		{
			name: "ids stay top level under a group",
			ctx:  withBoth,
			log: func(l *slog.Logger, ctx context.Context) {
				l.With("service", "plans").WithGroup("rpc").With("method", "/x").InfoContext(ctx, "hello", "code", "OK")
			},
			wantTop: map[string]any{
				"request_id": "req-1", "trace_id": wantTraceID, "service": "plans",
				"rpc": map[string]any{"method": "/x", "code": "OK"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(logging.New(config.Log{Format: config.LogJSON, Level: slog.LevelInfo}, &buf), tt.ctx)
			got := decode(t, buf.Bytes())
			for k, want := range tt.wantTop {
				if g, ok := got[k]; !ok || !equalJSON(t, g, want) {
					t.Errorf("%s = %v, want %v (line %s)", k, g, want, buf.String())
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present, want absent (line %s)", k, buf.String())
				}
			}
		})
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestFormatAndLevel(t *testing.T) {
	ctx := logging.WithRequestID(context.Background(), "req-9")
	tests := []struct {
		name      string
		cfg       config.Log
		wantLines int
		wantText  bool
	}{
		{"json at info drops debug", config.Log{Format: config.LogJSON, Level: slog.LevelInfo}, 2, false},
		{"text at debug keeps all", config.Log{Format: config.LogText, Level: slog.LevelDebug}, 3, true},
		{"error level keeps errors", config.Log{Format: config.LogJSON, Level: slog.LevelError}, 1, false},
		{"unknown format falls back to json", config.Log{Format: "xml"}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := logging.New(tt.cfg, &buf)
			l.DebugContext(ctx, "d")
			l.InfoContext(ctx, "i")
			l.ErrorContext(ctx, "e")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != tt.wantLines {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), tt.wantLines, buf.String())
			}
			for _, line := range lines {
				isJSON := json.Valid([]byte(line))
				if isJSON == tt.wantText {
					t.Errorf("line %q: JSON=%v, want text=%v", line, isJSON, tt.wantText)
				}
				if !strings.Contains(line, "req-9") {
					t.Errorf("line %q lacks the request id", line)
				}
			}
		})
	}
}

func TestContextAccessors(t *testing.T) {
	ctx := context.Background()
	if got := logging.RequestID(ctx); got != "" {
		t.Errorf("RequestID(empty ctx) = %q", got)
	}
	if got := logging.TraceID(ctx); got != "" {
		t.Errorf("TraceID(empty ctx) = %q", got)
	}
	ctx = withSpan(logging.WithRequestID(ctx, "r"))
	if logging.RequestID(ctx) != "r" || logging.TraceID(ctx) != wantTraceID || logging.SpanID(ctx) != wantSpanID {
		t.Errorf("ids = %q, %q, %q; want r, %s, %s", logging.RequestID(ctx), logging.TraceID(ctx), logging.SpanID(ctx), wantTraceID, wantSpanID)
	}
}

// TestHandlerContract runs the standard library's handler conformance suite,
// so that wrapping never breaks attrs, groups or levels.
func TestHandlerContract(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t,
		func(*testing.T) slog.Handler {
			buf.Reset()
			return logging.NewContextHandler(slog.NewJSONHandler(&buf, nil))
		},
		func(t *testing.T) map[string]any { return decode(t, buf.Bytes()) },
	)
}
