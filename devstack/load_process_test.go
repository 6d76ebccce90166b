package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/outbox"
)

// TestLoadIdleCPU measures the idle devstack's CPU (issue 15 wants it
// near 0 %): the devstack in a process of its own, as `go run ./devstack`
// runs it (its defaults: milestone scan every 1 s, notify's release and
// reminder passes every 1 s, webhooks every 500 ms, ...), its CPU time
// over NOCONTACT_LOAD_IDLE_WINDOW (1 min) read from /proc/<pid>/stat
// while a CPU profile of the same window is taken, three times: empty,
// with the demo data (`go run ./devstack seed`) and with
// NOCONTACT_LOAD_SEED_COUNSELLORS (10) demo counsellors' data. Each window
// starts once the suite is quiet (outboxes empty, every consumer through
// its stream). Reported, not asserted: the issue gives no figure.
func TestLoadIdleCPU(t *testing.T) {
	skipLoadUnlessAsked(t)
	window := envDuration(t, "NOCONTACT_LOAD_IDLE_WINDOW", time.Minute)
	counsellors := envInt(t, "NOCONTACT_LOAD_SEED_COUNSELLORS", 10)
	out := loadOut(t)
	t.Logf("start: %s", uptime())
	c := startLoadChild(t)
	measure := func(name string) {
		t.Helper()
		waitQuiet(t, c.mongo, c.natsURL, 5*time.Minute)
		path := filepath.Join(out, "idle-cpu-"+name+".pprof")
		before := c.commands()
		cpu, wall := c.profileCPU(window, path)
		after := c.commands()
		st := c.stats()
		t.Logf("idle, %s: CPU %v in %v = %.2f %% of one core; RSS %s, live heap %s, %d goroutines; %s",
			name, cpu, wall.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(), mib(c.rss()), mib(int64(st.HeapLive)), st.Goroutines, uptime())
		t.Logf("idle, %s: %s", name, commandsBetween(before, after, 25))
		pprofTop(t, path, 30)
	}
	measure("empty")
	start := time.Now()
	if _, err := Seed(context.Background(), SeedConfig{BaseURL: c.base, Secret: testSecret}); err != nil {
		t.Fatal(err)
	}
	t.Logf("demo data seeded in %v", time.Since(start).Round(time.Millisecond))
	measure("demo")
	start = time.Now()
	for i := 1; i < counsellors; i++ {
		if _, err := Seed(context.Background(), SeedConfig{BaseURL: c.base, Secret: testSecret, CounsellorID: fmt.Sprintf("counsellor-load-%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d more counsellors' demo data (%d clients in all) seeded in %v", counsellors-1, 12*counsellors, time.Since(start).Round(time.Millisecond))
	measure(fmt.Sprintf("seed-x%d", counsellors))
	c.stop()
}

// TestLoadMemorySoak records the devstack's resident memory idle and
// under a steady load, and asserts no growth over the soak (issue 15: no
// growth over 10 minutes). The devstack runs in a process of its own with
// the demo data; the load is NOCONTACT_LOAD_SOAK_RATE (10) requests a
// second through the gateway for NOCONTACT_LOAD_SOAK (1 min; the recorded
// run is 10m), a mix that does not grow the data: a plan's progress, the
// inbox, the counsellor's roster, a preferences write (the same values),
// a live feed opened and closed. RSS, the live heap and the goroutines are
// sampled every NOCONTACT_LOAD_SOAK_SAMPLE (a sixtieth of the soak, at
// least 1 s). No growth means: the median RSS of the last third of the
// samples under load is at most NOCONTACT_LOAD_SOAK_TOLERANCE (0.10, i.e.
// 10 %) above the median of the first third, the first fifth of the soak
// left out as warm-up (caches, pools, FerretDB's SQLite pages filling).
func TestLoadMemorySoak(t *testing.T) {
	skipLoadUnlessAsked(t)
	soak := envDuration(t, "NOCONTACT_LOAD_SOAK", time.Minute)
	every := envDuration(t, "NOCONTACT_LOAD_SOAK_SAMPLE", max(soak/60, time.Second))
	rate := envFloat(t, "NOCONTACT_LOAD_SOAK_RATE", 10)
	tolerance := envFloat(t, "NOCONTACT_LOAD_SOAK_TOLERANCE", 0.10)
	t.Logf("start: %s", uptime())
	c := startLoadChild(t, "NOCONTACT_RATE_LIMIT_PER_SECOND=100000", "NOCONTACT_RATE_LIMIT_BURST=100000")
	res, err := Seed(context.Background(), SeedConfig{BaseURL: c.base, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	waitQuiet(t, c.mongo, c.natsURL, 5*time.Minute)
	ld := &soakLoad{c: c, counsellor: res.Token, plans: map[string]string{}}
	for _, id := range res.Clients {
		tok := token(t, id, auth.RoleClient)
		ld.clients = append(ld.clients, soakClient{id: id, tok: tok})
		var plans struct {
			Plans []struct {
				ID string `json:"id"`
			} `json:"plans"`
		}
		ld.get(t, "/v1/plans?clientId="+url.QueryEscape(id), tok, &plans)
		if len(plans.Plans) == 0 {
			t.Fatalf("client %s has no plan", id)
		}
		ld.plans[id] = plans.Plans[0].ID
	}
	idle := c.stats()
	idleRSS := c.rss()
	t.Logf("idle with the demo data: RSS %s, live heap %s, %d goroutines; %s", mib(idleRSS), mib(int64(idle.HeapLive)), idle.Goroutines, uptime())

	type sample struct {
		at         time.Duration
		rss        int64
		heap       uint64
		goroutines int
	}
	var samples []sample
	ctx, cancel := context.WithTimeout(context.Background(), soak)
	defer cancel()
	start := time.Now()
	done := ld.run(ctx, rate)
	tick := time.NewTicker(every)
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-tick.C:
			st := c.stats()
			samples = append(samples, sample{time.Since(start), c.rss(), st.HeapLive, st.Goroutines})
		}
	}
	tick.Stop()
	<-done
	after := c.stats()
	afterRSS := c.rss()

	var b strings.Builder
	for _, s := range samples {
		fmt.Fprintf(&b, "  %8v  RSS %s  live heap %s  %d goroutines\n", s.at.Round(time.Second), mib(s.rss), mib(int64(s.heap)), s.goroutines)
	}
	t.Logf("samples under load:\n%s", b.String())
	t.Logf("load: %s", ld.report())
	t.Logf("right after the soak: RSS %s, live heap %s, %d goroutines; %s; %s", mib(afterRSS), mib(int64(after.HeapLive)), after.Goroutines, outboxBacklog(t, c), uptime())

	warm := samples[len(samples)/5:]
	if len(warm) < 6 {
		t.Fatalf("%d samples after the warm-up: too few to judge a trend (a longer NOCONTACT_LOAD_SOAK or a shorter NOCONTACT_LOAD_SOAK_SAMPLE)", len(warm))
	}
	third := len(warm) / 3
	medianOf := func(ss []sample, f func(sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rssOf := func(s sample) float64 { return float64(s.rss) }
	heapOf := func(s sample) float64 { return float64(s.heap) }
	firstRSS, lastRSS := medianOf(warm[:third], rssOf), medianOf(warm[len(warm)-third:], rssOf)
	firstHeap, lastHeap := medianOf(warm[:third], heapOf), medianOf(warm[len(warm)-third:], heapOf)
	growth := lastRSS/firstRSS - 1
	t.Logf("RSS median %s in the first third after warm-up, %s in the last: %+.1f %% (tolerance %.0f %%); live heap %s → %s (%+.1f %%); goroutines %d → %d",
		mib(int64(firstRSS)), mib(int64(lastRSS)), 100*growth, 100*tolerance, mib(int64(firstHeap)), mib(int64(lastHeap)), 100*(lastHeap/firstHeap-1), warm[0].goroutines, samples[len(samples)-1].goroutines)
	if growth > tolerance {
		t.Errorf("RSS grew %.1f %% over the soak, more than %.0f %%", 100*growth, 100*tolerance)
	}
	if ld.failed() > 0 {
		t.Errorf("%d requests of the soak failed: %s", ld.failed(), ld.report())
	}
	c.stop()
}

type soakClient struct{ id, tok string }

// soakLoad is the soak's steady mix, sent at a constant rate by a bounded
// pool (a request that finds every worker busy is counted as skipped, so
// a slow suite is not buried under a queue).
type soakLoad struct {
	c          *loadChild
	counsellor string
	clients    []soakClient
	plans      map[string]string

	mu      sync.Mutex
	took    map[string][]time.Duration
	codes   map[string]int
	skipped int
}

func (ld *soakLoad) get(t *testing.T, path, tok string, out any) {
	t.Helper()
	s := &suite{t: t, base: ld.c.base, http: ld.c.http}
	code, body := s.call("GET", path, tok, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %v", path, code, body)
	}
	raw, _ := json.Marshal(body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
}

func (ld *soakLoad) run(ctx context.Context, rate float64) <-chan struct{} {
	ld.took, ld.codes = map[string][]time.Duration{}, map[string]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				ld.one(ctx, i)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				close(jobs)
				wg.Wait()
				return
			case <-tick.C:
				select {
				case jobs <- i:
				default:
					ld.mu.Lock()
					ld.skipped++
					ld.mu.Unlock()
				}
			}
		}
	}()
	return done
}

// one sends the i-th request of the mix.
func (ld *soakLoad) one(ctx context.Context, i int) {
	cl := ld.clients[i%len(ld.clients)]
	var op, method, path, tok, body string
	switch i % 5 {
	case 0:
		op, method, path, tok = "progress", "GET", "/v1/plans/"+ld.plans[cl.id]+"/progress", cl.tok
	case 1:
		op, method, path, tok = "inbox", "GET", "/v1/notifications?pageSize=20", cl.tok
	case 2:
		op, method, path, tok = "roster", "GET", "/v1/dashboard/roster", ld.counsellor
	case 3:
		op, method, path, tok, body = "preferences", "PATCH", "/v1/users/"+cl.id+"/notification-preferences", cl.tok, `{"timeZone": "Europe/Berlin"}`
	case 4:
		op, method, path, tok = "live feed", "GET", "/v1/notifications:stream", cl.tok
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, ld.c.base+path, rd)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	resp, err := ld.c.http.Do(req)
	code := "error"
	if err == nil {
		code = fmt.Sprint(resp.StatusCode)
		if op != "live feed" { // a feed is opened (headers) and closed
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		cancel()
		_ = resp.Body.Close()
	}
	took := time.Since(start)
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ld.codes[op+" "+code]++
	if code == "200" {
		ld.took[op] = append(ld.took[op], took)
	}
}

func (ld *soakLoad) failed() int {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	n := 0
	for k, v := range ld.codes {
		if !strings.HasSuffix(k, " 200") {
			n += v
		}
	}
	return n
}

func (ld *soakLoad) report() string {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var b strings.Builder
	ops := make([]string, 0, len(ld.took))
	for op := range ld.took {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	total := 0
	for _, n := range ld.codes {
		total += n
	}
	fmt.Fprintf(&b, "%d requests, %d skipped (every worker busy); answers %v", total, ld.skipped, ld.codes)
	for _, op := range ops {
		fmt.Fprintf(&b, "; %s %s", op, summarize(ld.took[op]))
	}
	return b.String()
}

// outboxBacklog says how many documents of each database still hold an
// unpublished event (the roster's reads are audited: each writes access
// records whose events the journal's and plans' relays publish).
func outboxBacklog(t *testing.T, c *loadChild) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var parts []string
	for _, name := range []string{"plans", "journal", "notify"} {
		colls, err := c.mongo.Database(name).ListCollectionNames(ctx, bson.D{})
		if err != nil {
			return err.Error()
		}
		for _, coll := range colls {
			n, err := c.mongo.Database(name).Collection(coll).CountDocuments(ctx, bson.D{{Key: outbox.FieldPending, Value: true}})
			if err != nil {
				return err.Error()
			}
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%s.%s %d", name, coll, n))
			}
		}
	}
	if len(parts) == 0 {
		return "no event waiting in any outbox"
	}
	return "events waiting in outboxes: " + strings.Join(parts, ", ")
}
