package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// After a short workload every component's own /metrics port shows it:
// RPCs counted per method, outbox events published by plans and journal,
// events consumed by notify and plans (and how far behind each consumer
// is), the schedulers' last runs, requests at the gateway, and which build
// every binary runs.
func TestMetricsAfterAWorkload(t *testing.T) {
	// One replica: the series below are read from one metrics endpoint
	// per service.
	s := startSuiteWith(t, t.TempDir(), atReplicas(1))
	st := s.stack
	for name, addr := range map[string]string{"plans": st.PlansMetricsAddr, "journal": st.JournalMetricsAddr, "notify": st.NotifyMetricsAddr, "gateway": st.GatewayMetricsAddr} {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("%s metrics address = %q, want a loopback port", name, addr)
		}
	}

	client := token(t, "client-m", auth.RoleClient)
	start := time.Now().Add(-8 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "Europe/Berlin", "startTime": start})
	id := plan["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+"/contacts", client, map[string]any{
		"direction": "INBOUND", "channel": "TEXT", "response": "NONE", "occurredAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
	})
	urge := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-m/urges", client, map[string]any{"intensity": 6, "trigger": "nighttime"})
	// Resolved CONTACTED, the urge reaches plans through JOURNAL (a slip).
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-m/urges/"+urge["urge"].(map[string]any)["id"].(string)+":resolve", client, map[string]any{"outcome": "CONTACTED"})

	type want struct {
		component, addr, metric string
		labels                  map[string]string
	}
	wants := []want{
		{"plans", st.PlansMetricsAddr, "nocontact_grpc_server_handled_total", map[string]string{"method": "/nocontact.plans.v1.PlansService/CreatePlan", "code": "OK", "service": "plans"}},
		{"plans", st.PlansMetricsAddr, "nocontact_grpc_server_handling_seconds_count", map[string]string{"method": "/nocontact.plans.v1.PlansService/RecordContact"}},
		{"journal", st.JournalMetricsAddr, "nocontact_grpc_server_handled_total", map[string]string{"method": "/nocontact.journal.v1.JournalService/LogUrge", "code": "OK", "service": "journal"}},
		{"plans", st.PlansMetricsAddr, "nocontact_outbox_published_total", nil},
		{"journal", st.JournalMetricsAddr, "nocontact_outbox_published_total", nil},
		{"notify", st.NotifyMetricsAddr, "nocontact_consumer_handled_total", map[string]string{"consumer": "notify-plans", "outcome": "ok", "service": "notify"}},
		{"plans", st.PlansMetricsAddr, "nocontact_consumer_handled_total", map[string]string{"consumer": "plans-journal", "outcome": "ok"}},
		{"gateway", st.GatewayMetricsAddr, "nocontact_http_requests_total", map[string]string{"route_class": "/v1/plans", "code": "200", "service": "gateway"}},
		// The schedulers run at start and then every interval (the
		// devstack scans milestones every second).
		{"plans", st.PlansMetricsAddr, "nocontact_scheduler_last_run_timestamp_seconds", map[string]string{"scheduler": "milestones", "service": "plans"}},
		{"notify", st.NotifyMetricsAddr, "nocontact_scheduler_last_run_timestamp_seconds", map[string]string{"scheduler": "release"}},
		{"notify", st.NotifyMetricsAddr, "nocontact_scheduler_last_run_timestamp_seconds", map[string]string{"scheduler": "reminders"}},
	}
	for name, addr := range map[string]string{"plans": st.PlansMetricsAddr, "journal": st.JournalMetricsAddr, "notify": st.NotifyMetricsAddr, "gateway": st.GatewayMetricsAddr} {
		wants = append(wants, want{name, addr, "nocontact_build_info", map[string]string{"service": name}})
	}
	eventually(t, 10*time.Second, func() string {
		for _, w := range wants {
			if v := metricValue(t, scrape(t, w.addr), w.metric, w.labels); v <= 0 {
				return fmt.Sprintf("%s: %s%v = %v, want > 0", w.component, w.metric, w.labels, v)
			}
		}
		return ""
	})

	// Consumer lag is asked of JetStream at each scrape; with the workload
	// handled both gauges exist (their values may well be 0).
	eventually(t, 10*time.Second, func() string {
		for _, c := range []struct{ addr, consumer string }{{st.NotifyMetricsAddr, "notify-plans"}, {st.NotifyMetricsAddr, "notify-journal"}, {st.PlansMetricsAddr, "plans-journal"}} {
			e := scrape(t, c.addr)
			for _, name := range []string{"nocontact_consumer_pending_messages", "nocontact_consumer_ack_pending_messages"} {
				if !e.hasSeries(name, map[string]string{"consumer": c.consumer}) {
					return fmt.Sprintf("%s: no %s for %s", c.addr, name, c.consumer)
				}
			}
		}
		return ""
	})
	// A scheduler's last run is a recent Unix time, not the start of the epoch.
	if v := metricValue(t, scrape(t, st.PlansMetricsAddr), "nocontact_scheduler_last_run_timestamp_seconds", map[string]string{"scheduler": "milestones"}); time.Since(time.Unix(int64(v), 0)).Abs() > time.Hour {
		t.Errorf("plans milestone scheduler last ran at %v", time.Unix(int64(v), 0))
	}

	// The series that must exist from the start, and the runtime collectors.
	plans := scrape(t, st.PlansMetricsAddr)
	for _, svc := range []struct{ name, addr string }{{"plans", st.PlansMetricsAddr}, {"journal", st.JournalMetricsAddr}, {"notify", st.NotifyMetricsAddr}} {
		e := scrape(t, svc.addr)
		for _, name := range []string{"nocontact_outbox_backlog", "nocontact_outbox_oldest_pending_seconds", "go_goroutines", "process_cpu_seconds_total"} {
			if !e.has(name) {
				t.Errorf("%s exposes no %s", svc.name, name)
			}
		}
	}
	if v := metricValue(t, plans, "nocontact_consumer_dead_letters_total", map[string]string{"consumer": "plans-journal"}); v != 0 {
		t.Errorf("plans dead-lettered %v messages of a healthy workload", v)
	}
	// Ids never become label values.
	gateway := scrape(t, st.GatewayMetricsAddr)
	for _, smp := range gateway.samples {
		for _, v := range smp.labels {
			if strings.Contains(v, id) || strings.Contains(v, "client-m") {
				t.Errorf("a gateway series carries an id: %s%v", smp.name, smp.labels)
			}
		}
	}
}

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type exposition struct{ samples []sample }

func (e exposition) has(name string) bool {
	return e.hasSeries(name, nil)
}

// hasSeries reports whether a sample of name carries labels, whatever its
// value.
func (e exposition) hasSeries(name string, labels map[string]string) bool {
next:
	for _, s := range e.samples {
		if s.name != name {
			continue
		}
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		return true
	}
	return false
}

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrape reads addr's /metrics in the Prometheus text format.
func scrape(t testing.TB, addr string) exposition {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	defer c.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s = %d %s", addr, resp.StatusCode, body)
	}
	var out exposition
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		smp := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			j := strings.LastIndex(line, "}")
			if j < i {
				t.Fatalf("scrape %s: bad line %q", addr, line)
			}
			smp.name = line[:i]
			for _, m := range labelPair.FindAllStringSubmatch(line[i+1:j], -1) {
				smp.labels[m[1]] = m[2]
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			smp.name, rest, _ = strings.Cut(line, " ")
		}
		valueText, _, _ := strings.Cut(strings.TrimSpace(rest), " ") // an optional timestamp follows
		v, err := strconv.ParseFloat(valueText, 64)
		if err != nil {
			t.Fatalf("scrape %s: bad value in %q: %v", addr, line, err)
		}
		smp.value = v
		out.samples = append(out.samples, smp)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	return out
}

// metricValue sums the samples of name whose labels include labels.
func metricValue(t testing.TB, e exposition, name string, labels map[string]string) float64 {
	t.Helper()
	var sum float64
next:
	for _, s := range e.samples {
		if s.name != name {
			continue
		}
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
	}
	return sum
}
