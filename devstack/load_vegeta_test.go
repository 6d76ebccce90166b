package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// TestLoadKeyedReads measures issue 15's keyed-read goal (200 req/s,
// p99 < 100 ms, at 10,000 plans) through the gateway with vegeta, the
// load generator pinned in tools/vegeta: a constant NOCONTACT_LOAD_RATE
// (200) requests a second for NOCONTACT_LOAD_VEGETA_DURATION (15 s),
// half GET /v1/plans/{id} and half GET /v1/plans/{id}/progress, each plan
// read by its own client, at each plan count of NOCONTACT_LOAD_PLANS
// ("100,500"; the 10,000 takes far longer than minutes to make
// through the API on the embedded FerretDB, see docs/performance.md).
// The plans are active, started 40 days ago (milestones 1 to 30 reached),
// made through the API (a copy of a stored plan under another id does not
// decrypt: its sealed fields are bound to the document). vegeta runs with at most 200 workers and a 10 s timeout per
// request, so an overloaded suite shows as latency and timeouts rather
// than an unbounded queue.
func TestLoadKeyedReads(t *testing.T) {
	skipLoadUnlessAsked(t)
	rate := envInt(t, "NOCONTACT_LOAD_RATE", 200)
	duration := envDuration(t, "NOCONTACT_LOAD_VEGETA_DURATION", 15*time.Second)
	var counts []int
	for _, f := range strings.Split(envString("NOCONTACT_LOAD_PLANS", "100,500"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("NOCONTACT_LOAD_PLANS=%q: want plan counts separated by commas", f)
		}
		counts = append(counts, n)
	}
	vegeta := buildVegeta(t)
	t.Logf("start: %s", uptime())
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) {
		st.RateLimitPerSecond, st.RateLimitBurst = "100000", "100000"
		// The scheduler has nothing to do in this test's plans once their
		// milestones are recorded; it need not scan them during the reads.
		st.MilestoneScanInterval = "1m"
	})
	kr := &keyedReads{s: s}
	for _, n := range counts {
		t.Run(fmt.Sprintf("plans=%d", n), func(t *testing.T) {
			kr.grow(t, n)
			kr.attack(t, vegeta, n, rate, duration)
		})
	}
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// buildVegeta builds the pinned vegeta (tools/vegeta, outside go.work).
func buildVegeta(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool to build vegeta with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "vegeta")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/tsenart/vegeta/v12")
	cmd.Dir = filepath.Join(repoRoot(t), "tools", "vegeta")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build vegeta: %v\n%s", err, out)
	}
	return bin
}

type keyedReads struct {
	s     *suite
	plans []string // plan i is owned by keyedOwner(i)
}

func keyedOwner(i int) string { return fmt.Sprintf("load-kr-%05d", i) }

// grow makes plans through the API, four callers at a time, until
// there are n.
func (kr *keyedReads) grow(t *testing.T, n int) {
	t.Helper()
	if len(kr.plans) >= n {
		return
	}
	start := time.Now()
	from := len(kr.plans)
	made := make([]string, n-from)
	ids := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	r := &benchRoster{s: kr.s}
	for range 4 {
		wg.Go(func() {
			for i := range ids {
				id, err := kr.plan(t, r, i)
				if err != nil {
					errs <- err
					continue
				}
				made[i-from] = id
			}
		})
	}
	for i := from; i < n; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("set-up: %v", err)
	}
	kr.plans = append(kr.plans, made...)
	kr.s.waitPublished("plans", "plans")
	kr.s.waitConsumedWithin("PLANS", "notify-plans", 5*time.Minute)
	t.Logf("%d plans in all (%d made in %v)", len(kr.plans), n-from, time.Since(start).Round(time.Millisecond))
}

// plan makes client i's plan: active, started 40 days ago (milestones 1
// to 30 reached, as a month-old plan stores them), target 90 days.
func (kr *keyedReads) plan(t *testing.T, r *benchRoster, i int) (string, error) {
	tok := token(t, keyedOwner(i), auth.RoleClient)
	start := time.Now().Add(-40 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan, err := r.post("/v1/plans", tok, map[string]any{"timeZone": "Europe/Berlin", "startTime": start, "targetDays": 90})
	if err != nil {
		return "", err
	}
	id, _ := plan["id"].(string)
	if _, err := r.post("/v1/plans/"+id+":activate", tok, map[string]any{}); err != nil {
		return "", err
	}
	return id, nil
}

// vegetaReport is the part of `vegeta report -type=json` used here.
type vegetaReport struct {
	Latencies struct {
		P50  time.Duration `json:"50th"`
		P99  time.Duration `json:"99th"`
		Max  time.Duration `json:"max"`
		Mean time.Duration `json:"mean"`
	} `json:"latencies"`
	Requests    int            `json:"requests"`
	Rate        float64        `json:"rate"`
	Throughput  float64        `json:"throughput"`
	Success     float64        `json:"success"`
	StatusCodes map[string]int `json:"status_codes"`
	Errors      []string       `json:"errors"`
}

// attack runs vegeta at rate for duration over the first n plans.
func (kr *keyedReads) attack(t *testing.T, vegeta string, n, rate int, duration time.Duration) {
	t.Helper()
	dir := t.TempDir()
	var targets strings.Builder
	for i := range n {
		tok := token(t, keyedOwner(i), auth.RoleClient)
		for _, path := range []string{"/v1/plans/" + kr.plans[i], "/v1/plans/" + kr.plans[i] + "/progress"} {
			fmt.Fprintf(&targets, "GET %s%s\nAuthorization: Bearer %s\n\n", kr.s.base, path, tok)
		}
	}
	targetsFile := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(targetsFile, []byte(targets.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results.bin")
	before := uptime()
	attack := exec.Command(vegeta, "attack", "-targets", targetsFile, "-rate", fmt.Sprintf("%d/1s", rate), "-duration", duration.String(),
		"-timeout", "10s", "-workers", "10", "-max-workers", "200", "-output", results)
	if out, err := attack.CombinedOutput(); err != nil {
		t.Fatalf("vegeta attack: %v\n%s", err, out)
	}
	after := uptime()
	out, err := exec.Command(vegeta, "report", "-type", "json", results).Output()
	if err != nil {
		t.Fatalf("vegeta report: %v", err)
	}
	var rep vegetaReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("vegeta report: %v\n%s", err, out)
	}
	text, _ := exec.Command(vegeta, "report", results).Output()
	errs := rep.Errors
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Sprintf("... %d more", len(rep.Errors)-5))
	}
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	t.Logf("plans=%d, GET plan and progress at %d/s for %v: %d requests, throughput %.1f/s, success %.2f %%, p50 %v, p99 %v, max %v, codes %v, errors %v; %s before, %s after\n%s",
		n, rate, duration, rep.Requests, rep.Throughput, 100*rep.Success, r(rep.Latencies.P50), r(rep.Latencies.P99), r(rep.Latencies.Max), rep.StatusCodes, errs, before, after, text)
	if rep.Success < 1 || rep.Latencies.P99 >= 100*time.Millisecond {
		t.Errorf("keyed reads at %d plans: success %.2f %%, p99 %v; the goal is every request answered at %d/s with p99 under 100 ms",
			n, 100*rep.Success, r(rep.Latencies.P99), rate)
	}
}
