package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/embedded"
	"github.com/nocontact/backend/platform/mongox"
	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
)

// childEnv makes the test binary run the suite as a child process (see
// runFaultChild) instead of the tests, so that a test can kill it with
// SIGKILL: no drain, no ack, no deferred write.
const childEnv = "NOCONTACT_FAULT_CHILD"

// runFaultChild runs the suite on the NATS and MongoDB given in the
// environment, prints "READY <http addr>" and runs until a signal.
func runFaultChild() int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	s := Settings{
		HTTPAddr: "127.0.0.1:0", PlansGRPCAddr: "127.0.0.1:0", JournalGRPCAddr: "127.0.0.1:0", NotifyGRPCAddr: "127.0.0.1:0",
		DataDir: os.Getenv(childEnv), JWTSecret: config.Secret(testSecret),
		NATSURL: os.Getenv("NATS_URL"), MongoURI: os.Getenv("MONGODB_URI"),
		LogFormat: "text", LogLevel: "error", MilestoneScanInterval: "200ms", MetricsAddr: "off",
		RateLimitPerSecond: "1000", RateLimitBurst: "1000",
	}
	st, err := Start(ctx, s, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), clock.Real())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("READY %s\n", st.HTTPAddr)
	if err := st.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild starts the suite in a child process and waits for READY.
func startChild(t *testing.T, dir, natsURL, mongoURI string) *exec.Cmd {
	t.Helper()
	cmd, _ := startChildAt(t, dir, natsURL, mongoURI)
	return cmd
}

// startChildAt is startChild that also returns the gateway's address.
func startChildAt(t *testing.T, dir, natsURL, mongoURI string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, "NATS_URL="+natsURL, "MONGODB_URI="+mongoURI)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		t.Fatalf("child suite did not start: %q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "READY "))
}

// Fault 3: notify (with the rest of the suite: one process) killed with
// SIGKILL in the middle of a burst of milestone events, then started again:
// exactly one notification per (event, recipient, kind). The burst is
// NOCONTACT_FAULT_BURST events (default 300), published straight to the
// PLANS stream as the plans relay would.
func TestFaultNotifyKilledMidBurst(t *testing.T) {
	skipSlowFaultUnlessAsked(t)
	burst := envInt(t, "NOCONTACT_FAULT_BURST", 300)
	ns := startRestartableNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fdir := t.TempDir()
	uri, stopFerret, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: fdir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopFerret)
	db, err := mongox.Connect(ctx, uri, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Disconnect(context.Background()) })
	notes := db.Database("notify").Collection("notifications")
	count := func() int64 {
		n, err := notes.CountDocuments(ctx, bson.D{{Key: "kind", Value: "milestone_reached"}, {Key: "plan_id", Value: "plan-burst"}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	dir := t.TempDir()
	child := startChild(t, dir, ns.url(), uri)

	js := jetStream(t, ns.url())
	began := time.Now()
	publishMilestoneBurst(t, js, burst)
	// Mid-burst: notify has stored some of the burst's notifications
	// (and holds more in its hands).
	waitBurstHandled(t, js, burst, burst/5, burstWait(60*time.Second, burst), "before the kill")
	_ = child.Process.Signal(syscall.SIGKILL)
	_ = child.Wait()
	killedAt := count()
	t.Logf("killed with %d of %d notifications stored (%v)", killedAt, burst, time.Since(began))

	startChild(t, dir, ns.url(), uri)
	s := &suite{t: t, nats: ns.url()}
	// What the killed process held unacked comes back after AckWait.
	waitBurstHandled(t, js, burst, burst, burstWait(90*time.Second, burst), "after the restart")
	if n := count(); n < int64(burst) {
		t.Fatalf("%d of %d notifications stored after the restart, with every event acked", n, burst)
	}
	s.waitConsumed("PLANS", "notify-plans")
	t.Logf("all %d stored after %v", burst, time.Since(began))

	assertBurstOnce(t, notes, burst)
}

// burstWait scales a wait measured at the default burst of 300 events to
// a burst of n (NOCONTACT_FAULT_BURST), never below it: notify stores
// the notifications one at a time, so the time grows with the burst.
func burstWait(at300 time.Duration, n int) time.Duration {
	return max(at300, at300*time.Duration(n)/300)
}

func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// publishMilestoneBurst publishes n milestone events of plan "plan-burst"
// (days 1..n, 50 clients) to the PLANS stream, as the plans relay would:
// protobuf envelopes, Nats-Msg-Id = event id.
func publishMilestoneBurst(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	now := time.Now()
	for i := range n {
		id := fmt.Sprintf("evt-burst-%05d", i)
		env := &eventsv1.Envelope{
			EventId: id, Type: "plans.milestone.reached", OccurredAt: timestamppb.New(now),
			ClientId: fmt.Sprintf("client-burst-%d", i%50), LocalDate: now.UTC().Format("2006-01-02"), TimeZone: "UTC", Producer: "plans",
			Payload: &eventsv1.Envelope_MilestoneReached{MilestoneReached: &eventsv1.MilestoneReached{PlanId: "plan-burst", MilestoneId: id, Day: int32(i + 1)}},
		}
		data, err := proto.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = js.Publish(ctx, "plans.milestone.reached", data, jetstream.WithMsgID(id))
		cancel()
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

// assertBurstOnce asserts one notification per (event, recipient, kind)
// of the burst, n in all.
func assertBurstOnce(t *testing.T, notes *mongo.Collection, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := notes.Find(ctx, bson.D{{Key: "plan_id", Value: "plan-burst"}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		EventID string `bson:"event_id"`
		UserID  string `bson:"user_id"`
		Kind    string `bson:"kind"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range docs {
		seen[d.EventID+"|"+d.UserID+"|"+d.Kind]++
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("notification %s stored %d times", k, c)
		}
	}
	if len(seen) != n || len(docs) != n {
		t.Fatalf("%d notifications (%d distinct) for %d events, want one each", len(docs), len(seen), n)
	}
}

func countBurst(t *testing.T, notes *mongo.Collection) int64 {
	t.Helper()
	n, err := notes.CountDocuments(context.Background(), bson.D{{Key: "kind", Value: "milestone_reached"}, {Key: "plan_id", Value: "plan-burst"}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Fault 5: two replicas of each service; one notify replica stopped in the
// middle of a burst of milestone events (NOCONTACT_FAULT_BURST, default
// 300). The other replica takes over what was left: exactly one
// notification per (event, recipient, kind).
func TestFaultReplicaStoppedMidBurst(t *testing.T) {
	skipSlowFaultUnlessAsked(t)
	burst := envInt(t, "NOCONTACT_FAULT_BURST", 300)
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	notes := s.stack.Mongo.Database("notify").Collection("notifications")
	js := jetStream(t, s.nats)
	publishMilestoneBurst(t, js, burst)
	waitBurstHandled(t, js, burst, burst/5, burstWait(60*time.Second, burst), "before the stop")
	if !s.stack.StopReplica("notify-1") {
		t.Fatal("no replica notify-1")
	}
	t.Logf("notify-1 stopped with %d of %d notifications stored", countBurst(t, notes), burst)
	waitBurstHandled(t, js, burst, burst, burstWait(90*time.Second, burst), "with one replica")
	s.waitConsumed("PLANS", "notify-plans")
	assertBurstOnce(t, notes, burst)
}

// waitBurstHandled waits until notify's PLANS consumer has acked at least
// n of the burst's events (a message acked is a notification stored),
// asking JetStream, not the store: counting notifications in FerretDB
// scans the collection, and polling that ten times a second slows the
// very inserts being waited for as the collection grows.
func waitBurstHandled(t *testing.T, js jetstream.JetStream, burst, n int, within time.Duration, when string) {
	t.Helper()
	eventually(t, within, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, "PLANS", "notify-plans")
		if err != nil {
			return fmt.Sprintf("consumer notify-plans: %v", err)
		}
		i := c.CachedInfo()
		if acked := burst - int(i.NumPending) - i.NumAckPending; acked < n {
			return fmt.Sprintf("%d of %d events acked %s, want %d (%d pending, %d waiting for an ack, %d redelivered)", acked, burst, when, n, i.NumPending, i.NumAckPending, i.NumRedelivered)
		}
		return ""
	})
}
