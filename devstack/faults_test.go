package main

// Fault-injection tests (docs/reliability.md): each stops, cuts or kills a
// part of the running suite at a chosen point and asserts that nothing is
// lost and nothing doubled, waiting on positive signals only. Skipped with
// -short; `make faults` runs exactly these (TestFault*).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
)

func skipFaultsIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection: skipped with -short (make faults runs it)")
	}
}

// skipSlowFaultUnlessAsked skips a fault test that takes half a minute or
// more (an AckWait to wait out, a 300-event burst) unless
// NOCONTACT_FAULTS_SLOW=1, which `make faults` sets: `make test` keeps
// the fast ones only.
func skipSlowFaultUnlessAsked(t *testing.T) {
	t.Helper()
	skipFaultsIfShort(t)
	if os.Getenv("NOCONTACT_FAULTS_SLOW") != "1" {
		t.Skip("slow fault test: set NOCONTACT_FAULTS_SLOW=1 (make faults does)")
	}
}

// errInjected is what a fault hook answers in place of the step it stops.
var errInjected = errors.New("fault injected")

// notificationKeys counts the stored notifications of the given plans by
// (event, recipient, kind) and by milestone day: what exactly-once means
// to the people who receive them.
func notificationKeys(t *testing.T, s *suite, planIDs ...string) (perKey map[string]int, perDay map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := s.stack.Mongo.Database("notify").Collection("notifications").Find(ctx,
		bson.D{{Key: "plan_id", Value: bson.D{{Key: "$in", Value: planIDs}}}, {Key: "kind", Value: "milestone_reached"}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		EventID string `bson:"event_id"`
		UserID  string `bson:"user_id"`
		Kind    string `bson:"kind"`
		PlanID  string `bson:"plan_id"`
		Day     int    `bson:"milestone_day"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	perKey, perDay = map[string]int{}, map[string]int{}
	for _, d := range docs {
		perKey[d.EventID+"|"+d.UserID+"|"+d.Kind]++
		perDay[fmt.Sprintf("%s/%d", d.PlanID, d.Day)]++
	}
	return perKey, perDay
}

// assertMilestonesOnce asserts that each plan (started 8 days ago, active)
// has exactly one milestone event per day 1, 3 and 7 on the PLANS stream
// and exactly one notification for each.
func assertMilestonesOnce(t *testing.T, s *suite, planIDs ...string) {
	t.Helper()
	for _, id := range planIDs {
		if events := countMilestoneEvents(t, s.nats, id); fmt.Sprint(events) != "map[1:1 3:1 7:1]" {
			t.Fatalf("plan %s: milestone events on the stream = %v, want one each for 1, 3 and 7", id, events)
		}
	}
	perKey, perDay := notificationKeys(t, s, planIDs...)
	for k, n := range perKey {
		if n != 1 {
			t.Errorf("notification %s stored %d times", k, n)
		}
	}
	var bad []string
	for _, id := range planIDs {
		for _, day := range []int{1, 3, 7} {
			if n := perDay[fmt.Sprintf("%s/%d", id, day)]; n != 1 {
				bad = append(bad, fmt.Sprintf("%s day %d: %d", id, day, n))
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Fatalf("milestone notifications not exactly one each (%d of %d wrong): %s", len(bad), 3*len(planIDs), strings.Join(bad[:min(len(bad), 10)], "; "))
	}
	if len(perKey) != 3*len(planIDs) {
		t.Fatalf("%d distinct milestone notifications, want %d", len(perKey), 3*len(planIDs))
	}
}

// startedPlan creates and activates a plan that started 8 days ago for
// client: milestones 1, 3 and 7 are due at once.
func startedPlan(t *testing.T, s *suite, client string) string {
	t.Helper()
	start := time.Now().Add(-8 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "Europe/Berlin", "startTime": start})
	id := plan["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})
	return id
}

// Fault 1: plans stops between the database write and the publish. While
// a hook refuses every plans publish, the plan's milestones are recorded
// with their events in the outbox; the suite stops with them unpublished.
// Restarted on the same data, each event is published exactly once and
// notify stores exactly one notification per milestone. The same with the
// stop between JetStream's ack and the mark-sent write: the restart
// republishes, and the duplicate window and notify's unique ids absorb it.
func TestFaultPlansStopBeforePublish(t *testing.T) {
	skipFaultsIfShort(t)
	for _, stage := range []struct {
		name  string
		stage outbox.Stage
	}{{"before publish", outbox.BeforePublish}, {"before mark sent", outbox.BeforeMarkSent}} {
		t.Run(strings.ReplaceAll(stage.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			first := startSuiteIn(t, dir)
			var mu sync.Mutex
			stopped := map[string]bool{} // event ids the hook stopped
			restore := outbox.SetFaultHook(func(_ context.Context, st outbox.Stage, m outbox.Message) error {
				if st != stage.stage || m.Subject != "plans.milestone.reached" {
					return nil
				}
				mu.Lock()
				stopped[m.ID] = true
				mu.Unlock()
				return errInjected
			})
			defer restore()
			client := token(t, "client-fault1", auth.RoleClient)
			id := startedPlan(t, first, client)
			// The positive signal: the three milestone events are stored in
			// the plan's outbox, and the relay reached the fault point with
			// the first of them (it stops a document at its first failure;
			// for the second stage JetStream has acknowledged that one).
			eventually(t, 20*time.Second, func() string {
				var doc struct {
					Outbox map[string]outbox.Message `bson:"outbox"`
				}
				if err := first.stack.Mongo.Database("plans").Collection("plans").FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
					t.Fatal(err)
				}
				pending := 0
				for _, m := range doc.Outbox {
					if m.Subject == "plans.milestone.reached" {
						pending++
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if pending < 3 || len(stopped) == 0 {
					return fmt.Sprintf("%d of 3 milestone events pending in the outbox, %d stopped at the fault point", pending, len(stopped))
				}
				return ""
			})
			first.stop()
			restore()

			second := startSuiteIn(t, dir)
			// A delivery to the first suite's notify still in flight when it
			// stopped is lost with its connection and comes back after the
			// consumer's AckWait (seen once after the merge with main: "0
			// pending, 1 waiting for an ack" after 20 s); notify's
			// idempotency absorbs it. So wait longer than that.
			second.waitScans(time.Now())
			second.waitPublished("plans", "plans", "care_assignments", "consents")
			second.waitConsumedWithin("PLANS", "notify-plans", natsx.DefaultAckWait+20*time.Second)
			assertMilestonesOnce(t, second, id)
		})
	}
}

// restartableNATS is an embedded nats-server (file store) the test owns, so
// that it can stop and start it again on the same port and store.
type restartableNATS struct {
	t    *testing.T
	dir  string
	port int
	srv  *server.Server
}

func startRestartableNATS(t *testing.T) *restartableNATS {
	t.Helper()
	n := &restartableNATS{t: t, dir: t.TempDir(), port: embedded.RandomPort}
	n.start()
	n.port = n.srv.Addr().(*net.TCPAddr).Port
	// Registered before the suite's cleanup, so it runs after it.
	t.Cleanup(func() {
		if n.srv != nil {
			n.srv.Shutdown()
			n.srv.WaitForShutdown()
		}
	})
	return n
}

func (n *restartableNATS) start() {
	n.t.Helper()
	srv, err := embedded.StartNATS(embedded.NATSOptions{Port: n.port, StoreDir: n.dir})
	if err != nil {
		n.t.Fatal(err)
	}
	n.srv = srv
}

func (n *restartableNATS) url() string { return n.srv.ClientURL() }

// restart stops the server (every client connection drops) and starts it
// again on the same port and store.
func (n *restartableNATS) restart() {
	n.t.Helper()
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.start()
}

// burstPlans creates n started plans, spread over clients, from a few
// goroutines; after the first `signalAfter` it closes midway. It returns
// the plan ids.
func burstPlans(t *testing.T, s *suite, n, signalAfter int, midway chan<- struct{}) []string {
	t.Helper()
	var (
		mu   sync.Mutex
		ids  []string
		once sync.Once
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				client := token(t, fmt.Sprintf("client-burst-%d", i%10), auth.RoleClient)
				id := startedPlan(t, s, client)
				mu.Lock()
				ids = append(ids, id)
				done := len(ids)
				mu.Unlock()
				if done == signalAfter && midway != nil {
					once.Do(func() { close(midway) })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids
}

// Fault 2: nats-server (file store) restarted in the middle of a burst of
// plans whose milestones are due: the outbox relays retry until it is back,
// notify's consumers resume, and every milestone event of the burst gives
// exactly one event on the stream and one notification.
func TestFaultNATSRestartMidBurst(t *testing.T) {
	skipFaultsIfShort(t)
	ns := startRestartableNATS(t)
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) {
		st.NATSURL = ns.url()
		st.RateLimitPerSecond, st.RateLimitBurst = "1000", "1000"
	})
	plans := envInt(t, "NOCONTACT_FAULT_PLANS", 12)
	midway := make(chan struct{})
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		<-midway
		// Mid-burst for the consumers too: some notifications of the
		// burst are stored already.
		ns.restart()
	}()
	began := time.Now()
	ids := burstPlans(t, s, plans, plans/3, midway)
	<-restarted
	t.Logf("burst of %d plans created in %v", plans, time.Since(began))
	// An ack sent while the server was down is lost: that message comes
	// back after the consumer's AckWait (natsx.DefaultAckWait, 30 s) and
	// notify's idempotency absorbs it. So wait longer than that.
	s.waitScans(time.Now())
	s.waitPublished("plans", "plans", "care_assignments", "consents")
	s.waitConsumedWithin("PLANS", "notify-plans", natsx.DefaultAckWait+20*time.Second)
	t.Logf("settled after %v", time.Since(began))
	assertMilestonesOnce(t, s, ids...)
}

// envInt is an integer setting of the fault tests (a burst size), def when
// the variable is unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// gatewayDeadline is the gateway's backend timeout (BACKEND_TIMEOUT): a
// call answered later than that was not answered within its deadline.
const gatewayDeadline = 10 * time.Second

// cutProxy is a TCP proxy in front of the database that a test can cut
// (every connection closed, new ones closed at once) and restore.
type cutProxy struct {
	lis     net.Listener
	backend string
	mu      sync.Mutex
	cut     bool
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

func startCutProxy(t *testing.T, backend string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis, backend: backend, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = lis.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) Addr() string { return p.lis.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[b] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(b, c)
		go pipe(c, b)
	}
}

// Cut closes every proxied connection and refuses new ones until Restore.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore lets connections through again.
func (p *cutProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Fault 4: the database unreachable for a while (a proxy in front of
// FerretDB cut, then restored). Meanwhile a read and a write answer 503
// (gRPC Unavailable) within the gateway's deadline, never 500, and the
// gateway's /healthz reports the services not ready; after the restore
// the events held in the outbox are published, once each, and notified.
func TestFaultDatabaseUnreachable(t *testing.T) {
	skipFaultsIfShort(t)
	databaseUnreachable(t, 0)
}

// outageHold is how long TestFaultDatabaseUnreachableHeld holds the cut.
const outageHold = 20 * time.Second

// Fault 4b: the same with the cut held for 20 s (by the test's clock)
// while the calls keep coming: every one answers 503 within its deadline
// and /healthz stays non-200 all along; then the outbox drains.
func TestFaultDatabaseUnreachableHeld(t *testing.T) {
	skipSlowFaultUnlessAsked(t)
	databaseUnreachable(t, outageHold)
}

// databaseUnreachable cuts the database, asserts what callers see (for at
// least hold, polling), restores it and asserts that the held events
// leave once.
func databaseUnreachable(t *testing.T, hold time.Duration) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Skip("runs against the embedded FerretDB only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uri, stopFerret, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: t.TempDir(), Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopFerret)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startCutProxy(t, u.Host)
	u.Host = proxy.Addr()
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) { st.MongoURI = u.String() })

	// Events stored but held back from the relay until the cut.
	var held sync.Map
	restore := outbox.SetFaultHook(func(_ context.Context, st outbox.Stage, m outbox.Message) error {
		if st == outbox.BeforePublish && m.Subject == "plans.milestone.reached" {
			held.Store(m.ID, true)
			return errInjected
		}
		return nil
	})
	defer restore()
	client := token(t, "client-db", auth.RoleClient)
	id := startedPlan(t, s, client)
	eventually(t, 20*time.Second, func() string {
		n := 0
		held.Range(func(any, any) bool { n++; return true })
		if n == 0 {
			return "no milestone event reached the relay"
		}
		return ""
	})

	proxy.Cut()
	restore()
	// Readiness: the services' database checks fail, the gateway says so.
	eventually(t, 30*time.Second, func() string {
		resp, err := s.http.Get(s.base + "/healthz")
		if err != nil {
			return err.Error()
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return "/healthz still 200 with the database cut"
		}
		return ""
	})
	cutAt := time.Now()
	calls, slowest := 0, time.Duration(0)
	for round := 0; round == 0 || time.Since(cutAt) < hold; round++ {
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/plans/" + id},
			{"POST", "/v1/plans/" + id + ":pause"},
			{"GET", "/v1/clients/client-db/entries"},
		} {
			began := time.Now()
			code, out := s.call(c.method, c.path, client, map[string]any{})
			took := time.Since(began)
			calls++
			slowest = max(slowest, took)
			if code != http.StatusServiceUnavailable || took >= gatewayDeadline {
				t.Errorf("%s %s %v into the cut = %d %v after %v, want 503 within %v", c.method, c.path, began.Sub(cutAt).Round(time.Millisecond), code, out, took, gatewayDeadline)
			}
			if round == 0 {
				t.Logf("%s %s with the database cut: %d after %v", c.method, c.path, code, took)
			}
		}
		if hold > 0 {
			resp, err := s.http.Get(s.base + "/healthz")
			if err != nil {
				t.Fatalf("/healthz %v into the cut: %v", time.Since(cutAt), err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("/healthz 200 %v into the cut, want not ready", time.Since(cutAt).Round(time.Millisecond))
			}
		}
	}
	t.Logf("cut held %v: %d calls, each 503, the slowest in %v", time.Since(cutAt).Round(time.Millisecond), calls, slowest.Round(time.Millisecond))

	proxy.Restore()
	s.waitHealthy()
	s.settle()
	assertMilestonesOnce(t, s, id)
}
