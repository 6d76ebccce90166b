package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// BenchmarkRosterThroughTheSuite times GET /v1/dashboard/roster through the
// real suite (gateway, plans, journal and notify on the embedded FerretDB
// and NATS, or MONGODB_URI) for a counsellor with 10, 50 and 200 clients,
// each with an active plan, three check-ins over three local days and
// consents (every fifth client granted PLAN_PROGRESS only). The suite starts
// once; the roster grows from one sub-benchmark to the next, so the 200
// clients are created once. Besides ns/op it reports the p50 and p99 of the
// single rosters and the dashboard's calls to each service per roster
// (nocontact_dashboard_backend_calls_total), which must stay 1.
//
//	go test -run '^$' -bench BenchmarkRosterThroughTheSuite -benchtime=30x ./devstack/
func BenchmarkRosterThroughTheSuite(b *testing.B) {
	s := startSuiteWith(b, b.TempDir(), func(st *Settings) {
		// The set-up makes thousands of calls, many as the admin.
		st.RateLimitPerSecond = "100000"
		st.RateLimitBurst = "100000"
		// The milestone scheduler need not scan five times a second
		// (the tests' setting) while the roster is timed.
		st.MilestoneScanInterval = "1m"
	})
	// FerretDB serves one command at a time: under load a set-up call
	// or a roster of 200 may wait longer than the tests' 10 s.
	s.http.Timeout = time.Minute
	r := &benchRoster{s: s,
		counsellor: token(b, "counsellor-bench", auth.RoleCounsellor),
		admin:      token(b, "admin-bench", auth.RoleAdmin),
	}
	for _, n := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			r.grow(b, n)
			r.measure(b, n)
		})
	}
}

type benchRoster struct {
	s                 *suite
	counsellor, admin string
	clients           int // created so far, ids bench-client-0000 on
}

var benchZones = []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"}

// grow creates clients until the counsellor has n, four at a time.
func (r *benchRoster) grow(b *testing.B, n int) {
	b.Helper()
	if r.clients >= n {
		return
	}
	start := time.Now()
	ids := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range ids {
				if err := r.client(b, i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := r.clients; i < n; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("set-up: %v", err)
	}
	b.Logf("created clients %d..%d in %v", r.clients, n-1, time.Since(start).Round(time.Millisecond))
	r.clients = n
}

// client sets up client i through the public API.
func (r *benchRoster) client(b *testing.B, i int) error {
	id := fmt.Sprintf("bench-client-%04d", i)
	tok := token(b, id, auth.RoleClient)
	tz := benchZones[i%len(benchZones)]
	now := time.Now().UTC()
	plan, err := r.post("/v1/plans", tok, map[string]any{"timeZone": tz, "startTime": now.Add(-time.Duration(3+i%40) * 24 * time.Hour).Format(time.RFC3339)})
	if err != nil {
		return err
	}
	if _, err := r.post("/v1/plans/"+plan["id"].(string)+":activate", tok, map[string]any{}); err != nil {
		return err
	}
	for d := 2; d >= 0; d-- {
		if _, err := r.post("/v1/clients/"+id+"/checkins", tok, map[string]any{
			"mood": (i+d)%7 - 3, "timeZone": tz, "occurredAt": now.Add(-time.Duration(d)*24*time.Hour - time.Minute).Format(time.RFC3339),
		}); err != nil {
			return err
		}
	}
	if _, err := r.post("/v1/care-assignments", r.admin, map[string]any{"clientId": id, "counsellorId": "counsellor-bench"}); err != nil {
		return err
	}
	scopes := []string{"PLAN_PROGRESS", "MOOD_INSIGHTS", "RISK_ALERTS", "SHARED_JOURNAL"}
	if i%5 == 4 {
		scopes = scopes[:1]
	}
	for _, sc := range scopes {
		if _, err := r.post("/v1/clients/"+id+"/consents", tok, map[string]any{"scope": sc}); err != nil {
			return err
		}
	}
	return nil
}

func (r *benchRoster) post(path, tok string, body any) (map[string]any, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, r.s.base+path, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s = %d %s", path, resp.StatusCode, out)
	}
	m := map[string]any{}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	return m, nil
}

// roster reads the roster once and returns the rows and unavailable.
func (r *benchRoster) roster(b *testing.B) (rows int, unavailable []any) {
	req, err := http.NewRequest(http.MethodGet, r.s.base+"/v1/dashboard/roster", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.counsellor)
	resp, err := r.s.http.Do(req)
	if err != nil {
		b.Fatalf("roster: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("roster = %d %s", resp.StatusCode, raw)
	}
	var out struct {
		Rows        []json.RawMessage `json:"rows"`
		Unavailable []any             `json:"unavailable"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		b.Fatalf("roster is not JSON: %v", err)
	}
	return len(out.Rows), out.Unavailable
}

func (r *benchRoster) measure(b *testing.B, n int) {
	// One roster outside the timing: connections warm, and the answer
	// checked once.
	rows, unavailable := r.roster(b)
	if len(unavailable) > 0 {
		// Notify's batch RPC may be missing, or a service slower than
		// its deadline: measured as the dashboard answers then.
		b.Logf("the roster answers unavailable=%v: measured without them", unavailable)
	}
	if rows != n && len(unavailable) == 0 {
		b.Fatalf("the roster lists %d clients, want %d", rows, n)
	}
	b.ReportMetric(float64(rows), "rows")
	metrics := r.s.stack.GatewayMetricsAddr
	before := scrape(b, metrics)
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		r.roster(b)
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	after := scrape(b, metrics)

	slices.Sort(took)
	b.ReportMetric(float64(percentile(took, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(took, 99).Microseconds())/1000, "p99-ms")
	for _, backend := range []string{"plans", "journal", "notify"} {
		calls := metricValue(b, after, "nocontact_dashboard_backend_calls_total", map[string]string{"backend": backend}) -
			metricValue(b, before, "nocontact_dashboard_backend_calls_total", map[string]string{"backend": backend})
		perRoster := calls / float64(b.N)
		b.ReportMetric(perRoster, backend+"-calls/op")
		if perRoster != 1 {
			b.Errorf("a roster of %d clients made %v calls to %s, want 1", n, perRoster, backend)
		}
	}
}

// percentile is the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
