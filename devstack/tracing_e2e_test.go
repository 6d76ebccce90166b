package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nocontact/backend/platform/auth"
)

// collectedSpan is one span as an OTLP collector received it.
type collectedSpan struct {
	service      string
	name         string
	kind         tracepb.Span_SpanKind
	traceID      string
	spanID       string
	parentSpanID string
}

func (s collectedSpan) String() string {
	return fmt.Sprintf("%s %q (%s)", s.service, s.name, strings.TrimPrefix(s.kind.String(), "SPAN_KIND_"))
}

// otlpCollector is a minimal OTLP/HTTP trace receiver: what a real
// collector or Jaeger would get from the services' exporters, over HTTP
// with protobuf bodies, as OTEL_EXPORTER_OTLP_* tell them to send it.
type otlpCollector struct {
	mu    sync.Mutex
	spans []collectedSpan
}

// otlpBody reads an OTLP/HTTP export's body, gunzipped when the exporter
// compressed it.
func otlpBody(r *http.Request) ([]byte, error) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		body = zr
	}
	return io.ReadAll(body)
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	data, err := otlpBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, collectedSpan{
					service:      service,
					name:         sp.GetName(),
					kind:         sp.GetKind(),
					traceID:      hex.EncodeToString(sp.GetTraceId()),
					spanID:       hex.EncodeToString(sp.GetSpanId()),
					parentSpanID: hex.EncodeToString(sp.GetParentSpanId()),
				})
			}
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (c *otlpCollector) all() []collectedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]collectedSpan(nil), c.spans...)
}

// TestOneTraceFromGatewayThroughPlansAndNATSToNotify turns tracing on with
// the standard OTEL_* variables only, logs a slip through the HTTP edge and
// follows it: the gateway's request, the plans RPC, the event's publish
// (sent later by the outbox relay) and notify's handling of it must be one
// trace, each span the child of the one before. The health checks the
// suite answers all along must not be in any trace.
func TestOneTraceFromGatewayThroughPlansAndNATSToNotify(t *testing.T) {
	col := &otlpCollector{}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close) // after the suite's cleanup: its last spans still arrive
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100") // ms: export promptly

	s := startSuite(t)
	client := token(t, "client-traced", auth.RoleClient)
	start := time.Now().Add(-2 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "Europe/Paris", "startTime": start})
	id := plan["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})
	// The slip, sent with a trace context of the caller's own, which the
	// public edge must not adopt.
	const foreignTrace = "0af7651916cd43dd8448eb211c80319c"
	body := `{"direction": "OUTBOUND", "channel": "TEXT", "occurredAt": "` + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339) + `"}`
	req, _ := http.NewRequest("POST", s.base+"/v1/plans/"+id+"/contacts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+client)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+foreignTrace+"-b7ad6b7169203331-01")
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("record contact: %d", resp.StatusCode)
	}
	eventually(t, 10*time.Second, func() string {
		if len(notificationsByKind(t, s, client)["NOTIFICATION_KIND_SLIP_RECORDED"]) == 0 {
			return "no slip notification"
		}
		return ""
	})

	const route = "POST /v1/plans/{plan_id}/contacts"
	var chain []collectedSpan
	eventually(t, 10*time.Second, func() string {
		var msg string
		chain, msg = traceOfRoute(col.all(), route)
		return msg
	})

	// chain runs from notify's handling up to the gateway's request.
	var (
		sawPublish, sawPlansRPC bool
		last                    = chain[len(chain)-1]
	)
	for _, sp := range chain {
		switch {
		case sp.service == "plans" && sp.kind == tracepb.Span_SPAN_KIND_PRODUCER && strings.HasPrefix(sp.name, "publish plans."):
			sawPublish = true
		case sp.service == "plans" && sp.kind == tracepb.Span_SPAN_KIND_SERVER && sp.name == "nocontact.plans.v1.PlansService/RecordContact":
			sawPlansRPC = true
		}
	}
	if !sawPublish || !sawPlansRPC || last.service != "gateway" || last.name != route || last.kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Fatalf("notify's span does not lead back through the plans publish and RPC to the gateway request; chain (child first):\n%s", describe(chain))
	}
	if last.traceID == foreignTrace {
		t.Fatal("the gateway adopted a trace id sent by the client")
	}

	for _, sp := range col.all() {
		if strings.HasPrefix(sp.name, "grpc.health.v1.Health/") || strings.HasPrefix(sp.name, "GET /healthz") {
			t.Fatalf("a health check was traced: %s", sp)
		}
	}
}

// traceOfRoute finds, among spans, notify's handling of a plans event whose
// parent chain reaches a gateway span named route, and returns that chain,
// child first; or a message saying what is missing.
func traceOfRoute(spans []collectedSpan, route string) ([]collectedSpan, string) {
	byID := map[string]collectedSpan{}
	for _, sp := range spans {
		byID[sp.traceID+"/"+sp.spanID] = sp
	}
	var best []collectedSpan
	for _, sp := range spans {
		if sp.service != "notify" || sp.kind != tracepb.Span_SPAN_KIND_CONSUMER || !strings.HasPrefix(sp.name, "process plans.") {
			continue
		}
		chain := []collectedSpan{sp}
		for cur := sp; cur.parentSpanID != "" && cur.parentSpanID != "0000000000000000"; {
			parent, ok := byID[cur.traceID+"/"+cur.parentSpanID]
			if !ok {
				break // not exported yet, or the chain is broken
			}
			chain = append(chain, parent)
			cur = parent
		}
		if root := chain[len(chain)-1]; root.service == "gateway" && root.name == route {
			return chain, ""
		}
		if len(chain) > len(best) {
			best = chain
		}
	}
	if best == nil {
		return nil, fmt.Sprintf("no notify consumer span among %d spans", len(spans))
	}
	var names []string
	for _, sp := range spans {
		if sp.service == "gateway" && sp.kind == tracepb.Span_SPAN_KIND_SERVER {
			names = append(names, sp.name)
		}
	}
	return nil, "no notify consumer span leads back to " + route + "; longest chain:\n" + describe(best) + "gateway requests traced: " + strings.Join(names, ", ")
}

func describe(chain []collectedSpan) string {
	var b bytes.Buffer
	for i, sp := range chain {
		fmt.Fprintf(&b, "  %d. %s\n", i, sp)
	}
	return b.String()
}
