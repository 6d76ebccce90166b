package app_test

// Tests of the journal use cases against the real components: embedded
// FerretDB (or MONGODB_URI), an embedded JetStream with the outbox relay,
// and the real gRPC client to a plans service that cannot answer.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"
	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/mongox"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/platform/outbox"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/journal/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/journal/internal/adapters/plansclient"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
	jevents "github.com/nocontact/backend/services/journal/internal/ports/events"
	"github.com/nocontact/backend/services/journal/internal/resources"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

var (
	client     = app.Caller{ID: "client-1", Role: auth.RoleClient, RequestID: "req-client"}
	counsellor = app.Caller{ID: "counsellor-1", Role: auth.RoleCounsellor, RequestID: "req-counsellor"}
	stranger   = app.Caller{ID: "counsellor-2", Role: auth.RoleCounsellor, RequestID: "req-stranger"}
	admin      = app.Caller{ID: "admin-1", Role: auth.RoleAdmin, RequestID: "req-admin"}
)

const (
	supportTimeout = 300 * time.Millisecond
	escalateAfter  = 30 * time.Minute
)

type fixture struct {
	db      *mongo.Database
	js      jetstream.JetStream
	clk     *clock.Fake
	relay   *outbox.Relay
	access  *app.Access
	team    *careTeam
	care    *mongodb.CareStore
	journal *app.Journal
	urges   *docstore.Store[journal.Urge]
	keys    *fieldcrypt.Keyring
	replica func() *app.Journal
}

// testKEK is the fixed key-encryption key of the tests (the base64 of 32
// bytes): never used anywhere real.
const testKEK = "dGVzdC1rZWstb2YtdGhlLWpvdXJuYWwtdGVzdHMtMzI="

func newKeyring(t testing.TB, db *mongo.Database, clk clock.Clock) *fieldcrypt.Keyring {
	t.Helper()
	keks, err := fieldcrypt.Config{KEK: testKEK}.KEKs(false)
	if err != nil {
		t.Fatal(err)
	}
	k, err := fieldcrypt.New(db, keks, fieldcrypt.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newFixture wires the journal app as server.Run does, over a fresh
// database and JetStream, with plans at plansAddr ("" = a closed port).
func newFixture(t *testing.T, start time.Time, plansAddr string) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.Mongo(t)
	if err := mongox.EnsureIndexes(ctx, db, mongodb.Indexes()); err != nil {
		t.Fatal(err)
	}
	_, js := testenv.NATS(t)
	for name, subjects := range map[string][]string{"JOURNAL": {"journal.>"}, "PLANS": {"plans.>"}} {
		if _, err := natsx.EnsureStream(ctx, js, name, subjects); err != nil {
			t.Fatal(err)
		}
	}
	if plansAddr == "" {
		plansAddr = closedAddr(t)
	}
	conn, err := grpcclient.Dial(plansAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	clk := clock.NewFake(start)
	coll := db.Collection
	relay := outbox.NewRelay(js, quiet, outbox.Options{Interval: time.Hour},
		coll(mongodb.CollCheckIns), coll(mongodb.CollEntries), coll(mongodb.CollUrges), coll(mongodb.CollFlags), coll(mongodb.CollAccess))
	team := &careTeam{scopes: map[[2]string][]string{}}
	access := app.NewAccess(team, docstore.New[app.AccessRecord](coll(mongodb.CollAccess), nil), clk)
	keys := newKeyring(t, db, clk)
	urges := mongodb.Sealed(docstore.New[journal.Urge](coll(mongodb.CollUrges), nil), keys)
	care := mongodb.NewCareStore(db, keys)
	// newReplica is another replica of the service over the same database.
	newReplica := func() *app.Journal {
		return app.NewJournal(app.Stores{
			CheckIns: mongodb.Sealed(docstore.New[journal.CheckIn](coll(mongodb.CollCheckIns), nil), keys),
			Entries:  mongodb.Sealed(docstore.New[journal.Entry](coll(mongodb.CollEntries), nil), keys),
			Urges:    mongodb.Sealed(docstore.New[journal.Urge](coll(mongodb.CollUrges), nil), keys),
			Flags:    docstore.New[journal.RiskFlag](coll(mongodb.CollFlags), nil),
			Care:     care,
		}, access, plansclient.New(conn), clk, quiet, app.Options{SupportTimeout: supportTimeout, EscalateAfter: escalateAfter})
	}
	return &fixture{db: db, js: js, clk: clk, relay: relay, access: access, team: team, care: care, journal: newReplica(), urges: urges, keys: keys, replica: newReplica}
}

// closedAddr is a loopback address nothing listens on: plans is down.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// silentAddr accepts connections and never says a word: plans hangs.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// published flushes the outbox and returns every event on the JOURNAL
// stream matching subject.
func (f *fixture) published(t *testing.T, subject string) []*eventsv1.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := f.js.OrderedConsumer(ctx, "JOURNAL", jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*eventsv1.Envelope
	for i := uint64(0); i < info.NumPending; i++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		env := &eventsv1.Envelope{}
		if err := proto.Unmarshal(msg.Data(), env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

// settle flushes the outbox and hands every journal record event not yet
// handled to the risk consumer's handler, as the consumer does: the flags
// the records call for are then stored.
func (f *fixture) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := f.js.CreateOrUpdateConsumer(ctx, "JOURNAL", jetstream.ConsumerConfig{
		Durable: "test-risk", AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: jevents.RiskSpec.FilterSubjects,
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	handle := jevents.RiskHandler(f.journal)
	for i := uint64(0); i < info.NumPending; i++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := handle(ctx, msg); err != nil {
			t.Fatalf("risk handler on %s: %v", msg.Subject(), err)
		}
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
	}
}

// openFlags settles the risk consumer, then lists the client's open flags.
func (f *fixture) openFlags(t *testing.T) []journal.RiskFlag {
	t.Helper()
	f.settle(t)
	flags, err := f.journal.ListRiskFlags(context.Background(), client, client.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	return flags
}

func (f *fixture) flag(t *testing.T, id string) journal.RiskFlag {
	t.Helper()
	f.settle(t)
	all, err := f.journal.ListRiskFlags(context.Background(), client, client.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range all {
		if fl.ID == id {
			return fl
		}
	}
	t.Fatalf("flag %s not found among %d", id, len(all))
	return journal.RiskFlag{}
}

// careTeam stands in for the plans service's answer (app.CareAuthority):
// which scopes each (client, counsellor) pair may see now. The real answer,
// over gRPC from plans, is tested end to end in devstack.
type careTeam struct {
	mu     sync.Mutex
	scopes map[[2]string][]string
	err    error
	// batches counts AllowedAll calls: one CheckCareAccess call each.
	batches int
}

// AllowedAll answers as plans' CheckCareAccess does: for a counsellor,
// their active assignment and the client's consent; with asCareTeam (a
// client about themself), whether any counsellor of theirs may see it.
func (c *careTeam) AllowedAll(_ context.Context, callerID string, queries []app.CareQuery, asCareTeam bool) ([]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches++
	if c.err != nil {
		return nil, c.err
	}
	out := make([]bool, len(queries))
	for i, q := range queries {
		if !asCareTeam {
			out[i] = slices.Contains(c.scopes[[2]string{q.ClientID, callerID}], q.Scope)
			continue
		}
		for pair, scopes := range c.scopes {
			if pair[0] == q.ClientID && q.ClientID == callerID && slices.Contains(scopes, q.Scope) {
				out[i] = true
			}
		}
	}
	return out, nil
}

func (c *careTeam) batchCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches
}

func (c *careTeam) Allowed(_ context.Context, clientID, counsellorID, scope string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false, c.err
	}
	return slices.Contains(c.scopes[[2]string{clientID, counsellorID}], scope), nil
}

func (c *careTeam) set(clientID, counsellorID string, scopes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes[[2]string{clientID, counsellorID}] = scopes
}

// careTeam gives counsellor an active assignment and the scopes.
func (f *fixture) careTeam(t *testing.T, scopes ...string) {
	t.Helper()
	f.team.set(client.ID, counsellor.ID, scopes...)
}

func isNotFound(err error) bool { return errors.Is(err, apperr.KindNotFound) }

// An urge is the hardest moment: the answer comes at once, with a coping
// step and (for a strong urge) crisis resources, even when plans is down or
// hangs; only the plan's part is missing.
func TestLogUrgeAnswersAtOnceWhenPlansCannot(t *testing.T) {
	plansDown := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"nothing listens", closedAddr},
		{"plans accepts but never answers", silentAddr},
	}
	intensities := []struct {
		intensity     int
		wantResources bool
	}{
		{10, true},
		{5, false},
	}
	t0 := time.Date(2026, 5, 4, 21, 0, 0, 0, time.UTC)
	for _, pd := range plansDown {
		for _, in := range intensities {
			t.Run(fmt.Sprintf("%s/intensity %d", pd.name, in.intensity), func(t *testing.T) {
				ctx := context.Background()
				f := newFixture(t, t0, pd.addr(t))
				start := time.Now()
				ans, err := f.journal.LogUrge(ctx, client, client.ID, journal.Urge{Intensity: in.intensity, Trigger: "their_social_media", TimeZone: "Europe/London"}, "GB", app.RequestKey{})
				elapsed := time.Since(start)
				t.Logf("LogUrge answered in %v", elapsed)
				if err != nil {
					t.Fatalf("LogUrge: %v", err)
				}
				if elapsed >= 2*time.Second {
					t.Fatalf("LogUrge took %v with plans unreachable; the support call is bounded by %v", elapsed, supportTimeout)
				}
				if !ans.PlanUnavailable || ans.Support.HasPlan || len(ans.Support.Reasons) != 0 {
					t.Fatalf("answer without plans: unavailable=%v support=%+v", ans.PlanUnavailable, ans.Support)
				}
				if ans.Step.ID == "" || ans.Step.Text == "" {
					t.Fatalf("no coping step in the answer: %+v", ans.Step)
				}
				if got := len(ans.Screen.Resources) > 0; got != in.wantResources {
					t.Fatalf("crisis resources shown = %v (%d), want %v", got, len(ans.Screen.Resources), in.wantResources)
				}
				flags := f.openFlags(t)
				if in.wantResources {
					if !slices.Contains(ans.Screen.Reasons, "high_urge") || ans.Screen.Message == "" {
						t.Errorf("screen = %+v, want high_urge with a message", ans.Screen)
					}
					if !slices.ContainsFunc(ans.Screen.Resources, func(r resources.Resource) bool { return r.CountryCode == "GB" }) {
						t.Errorf("resources for GB lack a GB line: %+v", ans.Screen.Resources)
					}
					if len(flags) != 1 || flags[0].Reason != "high_urge" || flags[0].SourceID != ans.Urge.ID {
						t.Errorf("flags = %+v, want one high_urge flag for this urge", flags)
					}
				} else if len(flags) != 0 || len(ans.Screen.Reasons) != 0 {
					t.Errorf("intensity %d raised %+v / %+v", in.intensity, flags, ans.Screen.Reasons)
				}
				stored, _, err := f.urges.Get(ctx, ans.Urge.ID)
				if err != nil || stored.Intensity != in.intensity || stored.ClientID != client.ID || stored.LocalDate != "2026-05-04" {
					t.Fatalf("stored urge = %+v, %v", stored, err)
				}
			})
		}
	}
}

const crisisNote = "honestly I want to die tonight"

// Crisis words in a check-in raise one flag for the care team; the client
// gets resources every time, but a second crisis check-in the same day does
// not flood the care team with a second open flag.
func TestCrisisCheckInRaisesOneOpenFlag(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0, "")

	ci, screen, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: -1, Note: crisisNote, TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(screen.Reasons, []string{"crisis_language"}) || len(screen.Resources) == 0 || screen.Message == "" {
		t.Fatalf("screen = %+v, want crisis_language with resources and a message", screen)
	}
	flags := f.openFlags(t)
	if len(flags) != 1 || flags[0].Reason != "crisis_language" || flags[0].Status != journal.FlagRaised ||
		flags[0].SourceKind != "checkin" || flags[0].SourceID != ci.ID {
		t.Fatalf("flags = %+v, want one raised crisis_language flag for the check-in", flags)
	}

	f.clk.Advance(3 * time.Hour)
	_, again, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: -2, Note: "I still want to die", TimeZone: "Europe/Berlin"}, "DE", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Resources) == 0 {
		t.Fatal("the second crisis check-in got no resources")
	}
	// The same reason from another source (an entry) counts too.
	if _, _, err := f.journal.CreateEntry(ctx, client, client.ID, journal.Entry{Body: "some days I want to die"}, "DE", app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	if flags := f.openFlags(t); len(flags) != 1 {
		t.Fatalf("open flags after three crisis texts the same day = %d, want 1: %+v", len(flags), flags)
	}
	if n := len(f.published(t, "journal.risk.flag_raised")); n != 1 {
		t.Fatalf("journal.risk.flag_raised events = %d, want 1", n)
	}
	// Events carry ids and scores, never the client's words.
	for _, e := range f.published(t, "journal.>") {
		data, _ := proto.Marshal(e)
		if strings.Contains(string(data), "want to die") {
			t.Fatalf("event %s carries the client's text", e.GetType())
		}
	}
}

// Very low mood on three consecutive local days (in the client's zone, not
// UTC) raises a low_mood_streak flag.
func TestLowMoodStreakFollowsLocalDays(t *testing.T) {
	const zone = "America/Los_Angeles" // UTC-7 in April
	utc := func(day, hour, minute int) time.Time { return time.Date(2026, 4, day, hour, minute, 0, 0, time.UTC) }
	type checkIn struct {
		at   time.Time
		mood int
	}
	cases := []struct {
		name     string
		checkIns []checkIn
		want     bool // a flag after the last check-in (never before it)
	}{
		{"-3 on three consecutive days", []checkIn{{utc(1, 18, 0), -3}, {utc(2, 18, 0), -3}, {utc(3, 18, 0), -3}}, true},
		{"a better day in between", []checkIn{{utc(1, 18, 0), -3}, {utc(2, 18, 0), -1}, {utc(3, 18, 0), -3}}, false},
		{"only two days", []checkIn{{utc(1, 18, 0), -3}, {utc(2, 18, 0), -3}}, false},
		// UTC dates Apr 1, 2, 3 but local dates Apr 1, 1, 2.
		{"three UTC dates, two local days", []checkIn{{utc(1, 23, 0), -3}, {utc(2, 6, 30), -3}, {utc(3, 1, 0), -3}}, false},
		// UTC dates 2, 2, 3 but local dates Apr 1, 2, 3.
		{"two UTC dates, three local days", []checkIn{{utc(2, 6, 50), -3}, {utc(2, 19, 0), -3}, {utc(3, 7, 10), -3}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, tc.checkIns[0].at, "")
			for i, c := range tc.checkIns {
				f.clk.Set(c.at)
				_, screen, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: c.mood, TimeZone: zone}, "US", app.RequestKey{})
				if err != nil {
					t.Fatal(err)
				}
				last := i == len(tc.checkIns)-1
				want := last && tc.want
				if got := slices.Contains(screen.Reasons, "low_mood_streak"); got != want {
					t.Fatalf("check-in %d: low_mood_streak in screen = %v, want %v", i+1, got, want)
				}
			}
			flags := f.openFlags(t)
			got := len(flags) == 1 && flags[0].Reason == "low_mood_streak"
			if got != tc.want || len(flags) > 1 {
				t.Fatalf("flags = %+v, want a low_mood_streak flag: %v", flags, tc.want)
			}
		})
	}
}

// A raised flag nobody acknowledges escalates after EscalateAfter, once;
// an acknowledged one never does.
func TestRiskFlagEscalation(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	raise := func(t *testing.T, f *fixture) journal.RiskFlag {
		t.Helper()
		if _, _, err := f.journal.RecordCheckIn(context.Background(), client, client.ID, journal.CheckIn{Mood: -2, Note: crisisNote}, "", app.RequestKey{}); err != nil {
			t.Fatal(err)
		}
		flags := f.openFlags(t)
		if len(flags) != 1 {
			t.Fatalf("flags = %+v, want 1", flags)
		}
		return flags[0]
	}
	escalate := func(t *testing.T, f *fixture) int {
		t.Helper()
		n, err := f.journal.EscalateDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("unacknowledged escalates once after 30 min", func(t *testing.T) {
		f := newFixture(t, t0, "")
		fl := raise(t, f)
		f.clk.Set(t0.Add(escalateAfter - time.Second))
		if n := escalate(t, f); n != 0 {
			t.Fatalf("escalated %d flags before %v", n, escalateAfter)
		}
		if got := f.flag(t, fl.ID); got.Status != journal.FlagRaised {
			t.Fatalf("status before %v = %s", escalateAfter, got.Status)
		}
		f.clk.Set(t0.Add(escalateAfter))
		if n := escalate(t, f); n != 1 {
			t.Fatalf("escalated %d flags at %v, want 1", n, escalateAfter)
		}
		got := f.flag(t, fl.ID)
		if got.Status != journal.FlagEscalated || got.EscalateTime == nil || !got.EscalateTime.Equal(t0.Add(escalateAfter)) {
			t.Fatalf("flag after escalation = %+v", got)
		}
		if n := escalate(t, f); n != 0 {
			t.Fatalf("a second scan escalated %d flags", n)
		}
		f.clk.Advance(3 * time.Hour)
		if n := escalate(t, f); n != 0 {
			t.Fatalf("a later scan escalated %d flags", n)
		}
		updates := f.published(t, "journal.risk.flag_updated")
		if len(updates) != 1 || updates[0].GetRiskFlagUpdated().GetStatus() != journalv1.RiskFlagStatus_RISK_FLAG_STATUS_ESCALATED {
			t.Fatalf("flag_updated events = %v, want one ESCALATED", updates)
		}
	})

	t.Run("acknowledged never escalates", func(t *testing.T) {
		ctx := context.Background()
		f := newFixture(t, t0, "")
		f.careTeam(t, app.ScopeRiskAlerts)
		fl := raise(t, f)
		f.clk.Advance(10 * time.Minute)
		acked, err := f.journal.ChangeFlag(ctx, counsellor, client.ID, fl.ID, false, false)
		if err != nil || acked.Status != journal.FlagAcknowledged || acked.AcknowledgedBy != counsellor.ID {
			t.Fatalf("acknowledge = %+v, %v", acked, err)
		}
		for _, d := range []time.Duration{escalateAfter, 3 * time.Hour, 48 * time.Hour} {
			f.clk.Set(t0.Add(d))
			if n := escalate(t, f); n != 0 {
				t.Fatalf("an acknowledged flag escalated at +%v", d)
			}
		}
		if got := f.flag(t, fl.ID); got.Status != journal.FlagAcknowledged {
			t.Fatalf("status = %s, want acknowledged", got.Status)
		}
	})
}

// A counsellor with the journal scope sees the entries the client shared,
// nothing else; every access by someone other than the client, allowed or
// refused, is stored with a journal.access.recorded event for the client's
// access log.
func TestCounsellorSeesOnlySharedEntriesAndEveryAccessIsRecorded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), "")
	f.careTeam(t, app.ScopeSharedJournal)
	create := func(kind, body string) journal.Entry {
		e, _, err := f.journal.CreateEntry(ctx, client, client.ID, journal.Entry{Kind: kind, Body: body}, "", app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	private := create(journal.EntryFree, "only mine")
	letter := create(journal.EntryUnsentLetter, "dear you")
	shared := create(journal.EntryGratitude, "grateful for my sister")
	if _, err := f.journal.SetShared(ctx, client, client.ID, shared.ID, true); err != nil {
		t.Fatal(err)
	}

	type access struct {
		actor, action string
		allowed       bool
	}
	var want []access
	expect := func(c app.Caller, action string, allowed bool) { want = append(want, access{c.ID, action, allowed}) }

	list, _, err := f.journal.ListEntries(ctx, counsellor, client.ID, 10, "")
	if err != nil || len(list) != 1 || list[0].ID != shared.ID {
		t.Fatalf("counsellor list = %d entries, %v; want only the shared one", len(list), err)
	}
	expect(counsellor, "ListEntries", true)
	if got, err := f.journal.GetEntry(ctx, counsellor, client.ID, shared.ID); err != nil || got.Body != shared.Body {
		t.Fatalf("counsellor get shared = %+v, %v", got, err)
	}
	expect(counsellor, "GetEntry", true)
	for _, e := range []journal.Entry{private, letter} {
		if _, err := f.journal.GetEntry(ctx, counsellor, client.ID, e.ID); !isNotFound(err) {
			t.Fatalf("counsellor get %s entry = %v, want NotFound", e.Kind, err)
		}
		expect(counsellor, "GetEntry", false) // a private entry answers NotFound, and is logged as refused
	}
	// Others are refused (and recorded as refused).
	if _, _, err := f.journal.ListEntries(ctx, stranger, client.ID, 10, ""); !isNotFound(err) {
		t.Fatalf("unassigned counsellor = %v, want NotFound", err)
	}
	expect(stranger, "ListEntries", false)
	if _, _, err := f.journal.ListEntries(ctx, admin, client.ID, 10, ""); !isNotFound(err) {
		t.Fatalf("admin reading journal content = %v, want NotFound", err)
	}
	expect(admin, "ListEntries", false)
	// The counsellor has no mood scope.
	if _, _, _, err := f.journal.ListCheckIns(ctx, counsellor, client.ID, 10, ""); !isNotFound(err) {
		t.Fatalf("counsellor check-ins without the mood scope = %v, want NotFound", err)
	}
	expect(counsellor, "ListCheckIns", false)

	// Unsharing takes the entry away at once.
	if _, err := f.journal.SetShared(ctx, client, client.ID, shared.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.journal.GetEntry(ctx, counsellor, client.ID, shared.ID); !isNotFound(err) {
		t.Fatalf("counsellor get unshared = %v, want NotFound", err)
	}
	expect(counsellor, "GetEntry", false)
	// Revoking consent too.
	f.team.set(client.ID, counsellor.ID)
	if _, _, err := f.journal.ListEntries(ctx, counsellor, client.ID, 10, ""); !isNotFound(err) {
		t.Fatalf("counsellor after revocation = %v, want NotFound", err)
	}
	expect(counsellor, "ListEntries", false)

	// The client's own reads are not access by someone else.
	if own, _, err := f.journal.ListEntries(ctx, client, client.ID, 10, ""); err != nil || len(own) != 3 {
		t.Fatalf("client list = %d, %v; want all 3", len(own), err)
	}

	var got []access
	for _, e := range f.published(t, "journal.access.recorded") {
		a := e.GetAccessRecorded()
		if e.GetClientId() != client.ID || a.GetActorRole() == "" {
			t.Errorf("access event lacks its client or role: %v", e)
		}
		got = append(got, access{a.GetActorId(), a.GetAction(), a.GetAllowed()})
	}
	key := func(a, b access) int {
		return strings.Compare(a.actor+a.action+boolStr(a.allowed), b.actor+b.action+boolStr(b.allowed))
	}
	slices.SortFunc(got, key)
	slices.SortFunc(want, key)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("journal.access.recorded events =\n%v\nwant\n%v", got, want)
	}
	if n, err := f.db.Collection(mongodb.CollAccess).CountDocuments(ctx, bson.D{{Key: "client_id", Value: client.ID}}); err != nil || int(n) != len(want) {
		t.Fatalf("access records stored = %d, %v; want %d", n, err, len(want))
	}
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Once the care team has resolved a flag, a new crisis the same day is a
// new signal: it raises a new flag.
func TestCrisisAfterAResolvedFlagRaisesANewOne(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, t0, "")
	f.careTeam(t, app.ScopeRiskAlerts)
	crisis := func() {
		t.Helper()
		if _, _, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: -2, Note: crisisNote}, "", app.RequestKey{}); err != nil {
			t.Fatal(err)
		}
	}
	crisis()
	first := f.openFlags(t)
	if len(first) != 1 {
		t.Fatalf("open flags = %d, want 1", len(first))
	}
	f.clk.Advance(time.Hour)
	if _, err := f.journal.ChangeFlag(ctx, counsellor, client.ID, first[0].ID, true, false); err != nil {
		t.Fatal(err)
	}
	if n := len(f.openFlags(t)); n != 0 {
		t.Fatalf("open flags after resolving = %d, want 0", n)
	}
	for i := range 2 {
		f.clk.Advance(2 * time.Hour)
		crisis()
		open := f.openFlags(t)
		if len(open) != 1 || open[0].ID == first[0].ID || open[0].Status != journal.FlagRaised {
			t.Fatalf("crisis %d after the resolved flag: open flags = %+v, want one new raised flag", i+1, open)
		}
	}
	if n := len(f.published(t, "journal.risk.flag_raised")); n != 2 {
		t.Fatalf("journal.risk.flag_raised events = %d, want 2", n)
	}
}

// The care team's access is plans' answer at the moment of the read: when
// plans cannot answer, a counsellor's read is refused as Unavailable (it is
// never served on a guess), while the client's own reads need no answer
// from plans at all.
func TestCounsellorReadsFailClosedWhenPlansCannotAnswer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), "")
	conn, err := grpcclient.Dial(closedAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	down := app.NewAccess(plansclient.New(conn), docstore.New[app.AccessRecord](f.db.Collection(mongodb.CollAccess), nil), f.clk)
	j := app.NewJournal(app.Stores{
		CheckIns: mongodb.Sealed(docstore.New[journal.CheckIn](f.db.Collection(mongodb.CollCheckIns), nil), f.keys),
		Entries:  mongodb.Sealed(docstore.New[journal.Entry](f.db.Collection(mongodb.CollEntries), nil), f.keys),
		Urges:    f.urges,
		Flags:    docstore.New[journal.RiskFlag](f.db.Collection(mongodb.CollFlags), nil),
	}, down, plansclient.New(conn), f.clk, quiet, app.Options{SupportTimeout: supportTimeout, EscalateAfter: escalateAfter})
	e, _, err := j.CreateEntry(ctx, client, client.ID, journal.Entry{Body: "shared with my counsellor"}, "", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.SetShared(ctx, client, client.ID, e.ID, true); err != nil {
		t.Fatal(err)
	}
	if list, _, err := j.ListEntries(ctx, client, client.ID, 10, ""); err != nil || len(list) != 1 {
		t.Fatalf("client's own list with plans down = %d entries, %v; want 1", len(list), err)
	}
	_, _, err = j.ListEntries(ctx, counsellor, client.ID, 10, "")
	if !errors.Is(err, apperr.KindUnavailable) {
		t.Fatalf("counsellor's list with plans down = %v, want Unavailable", err)
	}
	if _, err := j.GetEntry(ctx, counsellor, client.ID, e.ID); !errors.Is(err, apperr.KindUnavailable) {
		t.Fatalf("counsellor's get with plans down = %v, want Unavailable", err)
	}
}
