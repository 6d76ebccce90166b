package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"google.golang.org/protobuf/proto"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/outbox"
	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
)

// sigtermGrace is what the process has after SIGTERM before the
// orchestrator kills it: the pods' terminationGracePeriodSeconds (30 s)
// less their preStop sleep (5 s), deploy/k8s/base/*/deployment.yaml. The
// services' own budget inside it is SHUTDOWN_TIMEOUT (15 s) for the drain
// plus 5 s for the final outbox flush.
const sigtermGrace = 25 * time.Second

// loadDeadline is each request's deadline in the SIGTERM test: the
// gateway's backend timeout.
const loadDeadline = 10 * time.Second

// startOwnFerret starts an embedded FerretDB the test owns (so that it
// outlives a child suite) and a client of it.
func startOwnFerret(t *testing.T) (string, *mongo.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	uri, stop, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: t.TempDir(), Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	db, err := mongox.Connect(ctx, uri, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Disconnect(context.Background()) })
	return uri, db
}

// loadResult is one request of the load, as the caller saw it.
type loadResult struct {
	what           string
	began, ended   time.Time
	code           int    // 0: no HTTP answer
	err            error  // the transport error when code is 0
	id             string // the created plan's or entry's id
	body           string
	afterFault     bool // the answer came after the fault (SIGTERM sent, a replica stopped)
	beforeFault    bool // the request was sent before it
	refusedConnErr bool // a connection-level refusal (refused, reset, closed before any answer)
}

// isConnRefusal reports whether err means the server never took the
// request: the connection was refused, reset, or closed before any byte
// of an answer (every request has a connection of its own here).
func isConnRefusal(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}

// Fault 6: SIGTERM under load. The suite runs in a child process; eight
// callers create plans, read them back and write journal entries through
// the gateway without pause, each request with a 10 s deadline. Mid-load
// the child gets SIGTERM. Every request the suite accepted is answered as
// usual (no 5xx, no deadline exceeded); the only failures allowed are
// connections refused once SIGTERM was sent (the listener closed). The
// process exits cleanly (status 0: nothing had to be cut) within its grace.
// Started again on the same data, every event the accepted writes stored
// is published exactly once and nothing is left in the outboxes.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	skipFaultsIfShort(t)
	ns := startRestartableNATS(t)
	uri, db := startOwnFerret(t)
	dir := t.TempDir()
	child, addr := startChildAt(t, dir, ns.url(), uri)
	base := "http://" + addr
	ld := startLoad(t, base, "client-term")
	// Mid-load: every caller has had answers, and they keep going.
	ld.waitWarm(30)
	// A dashboard's live feed is open too: it has no deadline, so the
	// shutdown must end it rather than wait for it.
	feedEnded := openLiveFeed(t, base, token(t, "client-term-0", auth.RoleClient))
	now := ld.mark()
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(sigtermGrace):
		_ = child.Process.Kill()
		<-exited
		t.Fatalf("the suite did not exit within %v of SIGTERM", sigtermGrace)
	}
	took := time.Since(now)
	ld.wait()
	if exitErr != nil {
		t.Errorf("the suite exited with %v after SIGTERM, want status 0 (a clean drain, nothing cut)", exitErr)
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	select {
	case <-feedEnded:
	default:
		t.Error("the live feed was still open after the suite exited")
	}

	// Every request: answered 200, or refused at the door after SIGTERM.
	var (
		ok, refused, drained int
		bad                  []string
		plans, entries       []string
	)
	for _, r := range ld.all() {
		switch {
		case r.code == http.StatusOK:
			ok++
			if r.beforeFault && r.afterFault {
				drained++ // in flight when the signal came, answered
			}
			switch r.what {
			case "create plan":
				plans = append(plans, r.id)
			case "create entry":
				entries = append(entries, r.id)
			}
		case r.code == 0 && r.refusedConnErr && r.afterFault:
			refused++
		default:
			bad = append(bad, fmt.Sprintf("%s at %v from SIGTERM: %d %v %.200s", r.what, r.began.Sub(now).Round(time.Millisecond), r.code, r.err, r.body))
		}
	}
	t.Logf("%d requests: %d answered (%d of them in flight at SIGTERM), %d refused after it; %d plans, %d entries created", len(ld.all()), ok, drained, refused, len(plans), len(entries))
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Fatalf("%d accepted requests failed across SIGTERM:\n%s", len(bad), strings.Join(bad[:min(len(bad), 20)], "\n"))
	}
	if drained == 0 {
		t.Fatal("no request was in flight when SIGTERM came: the drain was not exercised")
	}

	// Started again on the same data: what the accepted writes stored is
	// published, once.
	startChildAt(t, dir, ns.url(), uri)
	eventually(t, 60*time.Second, func() string {
		for db_, colls := range map[string][]string{
			"plans":   {"plans", "care_assignments", "consents"},
			"journal": {"checkins", "entries", "urges", "risk_flags", "access_records"},
		} {
			for _, c := range colls {
				n, err := db.Database(db_).Collection(c).CountDocuments(context.Background(), bson.D{{Key: outbox.FieldPending, Value: true}})
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					return fmt.Sprintf("%d documents in %s.%s still hold unpublished events after the restart", n, db_, c)
				}
			}
		}
		return ""
	})
	js := jetStream(t, ns.url())
	planEvents := streamEvents(t, js, "PLANS", "plans.plan.created", func(e *eventsv1.Envelope) string { return e.GetPlanCreated().GetPlanId() })
	entryEvents := streamEvents(t, js, "JOURNAL", "journal.entry.created", func(e *eventsv1.Envelope) string { return e.GetEntryCreated().GetEntryId() })
	assertOnceEach(t, "plans.plan.created", plans, planEvents)
	assertOnceEach(t, "journal.entry.created", entries, entryEvents)
}

// load is eight callers through the gateway without pause, each in a
// loop: create a plan, read it, write a journal entry; a connection per
// request (a request either reaches the server on a connection it
// accepted, or gets no connection at all) and a 10 s deadline each. A
// caller stops at its first answer other than 200 (after a SIGTERM: its
// first refusal), or at stop.
type load struct {
	t        *testing.T
	base     string
	hc       *http.Client
	faultAt  atomic.Pointer[time.Time]
	stopped  chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	results  []loadResult
	// warm counts the requests answered 200 before the fault.
	warm atomic.Int64
}

const loadCallers = 8

func startLoad(t *testing.T, base, clientPrefix string) *load {
	t.Helper()
	ld := &load{t: t, base: base, hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, stopped: make(chan struct{})}
	planID := func(out map[string]any) string { id, _ := out["id"].(string); return id }
	entryID := func(out map[string]any) string {
		e, _ := out["entry"].(map[string]any)
		id, _ := e["id"].(string)
		return id
	}
	start := time.Now().Add(-2 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for c := range loadCallers {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			client := fmt.Sprintf("%s-%d", clientPrefix, c)
			tok := token(t, client, auth.RoleClient)
			for i := 0; ; i++ {
				r := ld.do("create plan", "POST", "/v1/plans", tok, map[string]any{"timeZone": "Europe/Berlin", "startTime": start}, planID)
				if !ld.record(r) {
					return
				}
				if !ld.record(ld.do("get plan", "GET", "/v1/plans/"+r.id, tok, nil, nil)) {
					return
				}
				if !ld.record(ld.do("create entry", "POST", "/v1/clients/"+client+"/entries", tok, map[string]any{"kind": "FREE", "body": fmt.Sprintf("A steady day, number %d.", i)}, entryID)) {
					return
				}
			}
		}()
	}
	t.Cleanup(func() { ld.stop(); ld.wait(); ld.hc.CloseIdleConnections() })
	return ld
}

// record keeps r and says whether the caller goes on.
func (ld *load) record(r loadResult) bool {
	ld.mu.Lock()
	ld.results = append(ld.results, r)
	ld.mu.Unlock()
	if r.code == http.StatusOK && r.beforeFault && !r.afterFault {
		ld.warm.Add(1)
	}
	select {
	case <-ld.stopped:
		return false
	default:
	}
	return r.code == http.StatusOK
}

// waitWarm waits until perCaller requests per caller were answered before
// the fault: the load is steady.
func (ld *load) waitWarm(perCaller int64) {
	ld.t.Helper()
	eventually(ld.t, 60*time.Second, func() string {
		if n := ld.warm.Load(); n < perCaller*loadCallers {
			return fmt.Sprintf("%d requests answered before the fault, want %d", n, perCaller*loadCallers)
		}
		return ""
	})
}

// mark records the moment of the fault and returns it.
func (ld *load) mark() time.Time {
	now := time.Now()
	ld.faultAt.Store(&now)
	return now
}

func (ld *load) stop() { ld.stopOnce.Do(func() { close(ld.stopped) }) }

func (ld *load) wait() { ld.wg.Wait() }

func (ld *load) all() []loadResult {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return append([]loadResult(nil), ld.results...)
}

func (ld *load) do(what, method, path, tok string, body any, idOf func(map[string]any) string) loadResult {
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), loadDeadline)
	defer cancel()
	r := loadResult{what: what, began: time.Now()}
	r.beforeFault = ld.faultAt.Load() == nil
	req, err := http.NewRequestWithContext(ctx, method, ld.base+path, bytes.NewReader(b))
	if err != nil {
		ld.t.Error(err)
		return r
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ld.hc.Do(req)
	r.ended = time.Now()
	r.afterFault = ld.faultAt.Load() != nil
	if err != nil {
		r.err = err
		r.refusedConnErr = isConnRefusal(err)
		return r
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	r.ended = time.Now()
	r.afterFault = ld.faultAt.Load() != nil
	r.code = resp.StatusCode
	if err != nil {
		// An answer begun and cut off is a failure, not a refusal.
		r.err = err
		return r
	}
	r.body = string(raw)
	if r.code == http.StatusOK && idOf != nil {
		out := map[string]any{}
		if err := json.Unmarshal(raw, &out); err == nil {
			r.id = idOf(out)
		}
	}
	return r
}

// openLiveFeed opens the caller's live feed through the gateway and
// returns a channel closed when its response body ends.
func openLiveFeed(t *testing.T, base, tok string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/notifications:stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live feed: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	return ended
}

// streamEvents reads every message of subject on stream and counts them
// by the id key picks from the envelope; an event id seen twice counts
// under "dup:<event id>".
func streamEvents(t *testing.T, js jetstream.JetStream, stream, subject string, key func(*eventsv1.Envelope) string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, ids := map[string]int{}, map[string]bool{}
	for i := range int(info.NumPending) {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("read %s event %d of %d: %v", subject, i+1, info.NumPending, err)
		}
		var env eventsv1.Envelope
		if err := proto.Unmarshal(msg.Data(), &env); err != nil {
			t.Fatalf("decode %s event: %v", subject, err)
		}
		if ids[env.GetEventId()] {
			got["dup:"+env.GetEventId()]++
		}
		ids[env.GetEventId()] = true
		got[key(&env)]++
	}
	return got
}

// assertOnceEach asserts exactly one event per id in want, and no event
// id twice.
func assertOnceEach(t *testing.T, subject string, want []string, got map[string]int) {
	t.Helper()
	var bad []string
	for _, id := range want {
		if got[id] != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d", id, got[id]))
		}
	}
	for k, n := range got {
		if strings.HasPrefix(k, "dup:") {
			bad = append(bad, fmt.Sprintf("event %s published %d more times", strings.TrimPrefix(k, "dup:"), n))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Fatalf("%s events not exactly one per accepted write (%d of %d wrong): %s", subject, len(bad), len(want), strings.Join(bad[:min(len(bad), 10)], "; "))
	}
}

// Fault 6b: a rolling restart's half: two replicas of each service, the
// same load through the gateway, and plans-1 and journal-1 stopped
// mid-load as their SIGTERM would stop them (Stack.StopReplica). The
// gateway stays, so no request may fail at all: the other replicas take
// the calls while the stopped ones drain theirs. Every accepted write's
// event is published exactly once.
func TestFaultReplicaStoppedUnderLoad(t *testing.T) {
	skipFaultsIfShort(t)
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) {
		st.Replicas = 2
		st.RateLimitPerSecond, st.RateLimitBurst = "1000", "1000"
	})
	ld := startLoad(t, s.base, "client-roll")
	ld.waitWarm(10)
	stopAt := ld.mark()
	for _, r := range []string{"plans-1", "journal-1"} {
		if !s.stack.StopReplica(r) {
			t.Fatalf("no replica %s", r)
		}
	}
	stopped := time.Since(stopAt)
	// The load goes on after the stop: as many answers again.
	eventually(t, 60*time.Second, func() string {
		n := 0
		for _, r := range ld.all() {
			if !r.beforeFault && r.code == http.StatusOK {
				n++
			}
		}
		if n < 10*loadCallers {
			return fmt.Sprintf("%d requests answered after the stop, want %d", n, 10*loadCallers)
		}
		return ""
	})
	ld.stop()
	ld.wait()

	var bad, plans, entries []string
	drained := 0
	for _, r := range ld.all() {
		if r.code != http.StatusOK {
			bad = append(bad, fmt.Sprintf("%s at %v from the stop: %d %v %.200s", r.what, r.began.Sub(stopAt).Round(time.Millisecond), r.code, r.err, r.body))
			continue
		}
		if r.beforeFault && r.afterFault {
			drained++
		}
		switch r.what {
		case "create plan":
			plans = append(plans, r.id)
		case "create entry":
			entries = append(entries, r.id)
		}
	}
	t.Logf("replicas stopped in %v; %d requests, %d in flight at the stop; %d plans, %d entries", stopped.Round(time.Millisecond), len(ld.all()), drained, len(plans), len(entries))
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Fatalf("%d requests failed with one replica of each stopped:\n%s", len(bad), strings.Join(bad[:min(len(bad), 20)], "\n"))
	}
	s.waitPublished("plans", "plans", "care_assignments", "consents")
	s.waitPublished("journal", "checkins", "entries", "urges", "risk_flags", "access_records")
	js := jetStream(t, s.nats)
	assertOnceEach(t, "plans.plan.created", plans, streamEvents(t, js, "PLANS", "plans.plan.created", func(e *eventsv1.Envelope) string { return e.GetPlanCreated().GetPlanId() }))
	assertOnceEach(t, "journal.entry.created", entries, streamEvents(t, js, "JOURNAL", "journal.entry.created", func(e *eventsv1.Envelope) string { return e.GetEntryCreated().GetEntryId() }))
}
