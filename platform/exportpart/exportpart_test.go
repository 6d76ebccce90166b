package exportpart_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/docstore"
	"github.com/nocontact/backend/platform/exportpart"
	"github.com/nocontact/backend/platform/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var now = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func requested(exportID, clientID string, expire time.Time) *eventsv1.Envelope {
	return &eventsv1.Envelope{
		EventId: "ev-" + exportID, Type: exportpart.RequestedSubject, ClientId: clientID,
		Payload: &eventsv1.Envelope_ExportRequested{ExportRequested: &eventsv1.ExportRequested{ExportId: exportID, ExpireTime: timestamppb.New(expire)}},
	}
}

type fixture struct {
	parts  *docstore.Store[exportpart.Part]
	clk    *clock.Fake
	counts int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(now)}
	f.parts = docstore.New[exportpart.Part](testenv.Mongo(t).Collection(exportpart.Collection), nil)
	return f
}

func (f *fixture) builder() *exportpart.Builder {
	return exportpart.NewBuilder("journal", f.parts, f.clk, func(context.Context, string) (map[string]int32, error) {
		f.counts++
		return map[string]int32{"entries": 3}, nil
	})
}

// readyEvents are the ExportPartReady events stored with the parts (the
// outbox the relay publishes from), by export id.
func (f *fixture) readyEvents(t *testing.T) map[string]int {
	t.Helper()
	cur, err := f.parts.Collection().Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Outbox map[string]struct {
			Data []byte `bson:"data"`
		} `bson:"outbox"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range docs {
		for _, m := range d.Outbox {
			var env eventsv1.Envelope
			if err := proto.Unmarshal(m.Data, &env); err != nil {
				t.Fatal(err)
			}
			out[env.GetExportPartReady().GetExportId()]++
		}
	}
	return out
}

func TestARedeliveredRequestBuildsOnePart(t *testing.T) {
	f := newFixture(t)
	b := f.builder()
	env := requested("ex-1", "client-1", now.Add(7*24*time.Hour))
	for range 3 {
		if err := b.Handle(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.readyEvents(t); len(got) != 1 || got["ex-1"] != 1 {
		t.Fatalf("ExportPartReady events = %v, want one for ex-1", got)
	}
	if f.counts != 1 {
		t.Errorf("the part was counted %d times, want once (a redelivery finds it built)", f.counts)
	}
	p, _, err := f.parts.Get(context.Background(), "ex-1")
	if err != nil || p.ClientID != "client-1" || p.Counts["entries"] != 3 || p.Service != "journal" {
		t.Fatalf("part = %+v, %v", p, err)
	}
}

// Two replicas take the same request at once: both count, both insert;
// the unique _id lets one insert win and the other does nothing.
func TestTwoReplicasBuildingAtOnceBuildOnePart(t *testing.T) {
	f := newFixture(t)
	first, second := f.builder(), f.builder()
	env := requested("ex-2", "client-1", now.Add(time.Hour))
	var secondErr error
	first.SetBeforeCreate(func(string) { secondErr = second.Handle(context.Background(), env) })
	if err := first.Handle(context.Background(), env); err != nil {
		t.Fatalf("the replica that lost the insert: %v", err)
	}
	if secondErr != nil {
		t.Fatalf("the replica that won: %v", secondErr)
	}
	if f.counts != 2 {
		t.Fatalf("counted %d times: the hook did not interleave the two", f.counts)
	}
	if got := f.readyEvents(t); got["ex-2"] != 1 {
		t.Fatalf("ExportPartReady events = %v, want one", got)
	}
}

func TestAnExpiredRequestBuildsNothing(t *testing.T) {
	f := newFixture(t)
	if err := f.builder().Handle(context.Background(), requested("ex-3", "client-1", now)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.parts.Get(context.Background(), "ex-3"); !errors.Is(err, docstore.ErrNotFound) {
		t.Fatalf("an expired request built a part (%v)", err)
	}
}

func TestOnlyTheClientOpensTheirPart(t *testing.T) {
	f := newFixture(t)
	b := f.builder()
	if err := b.Handle(context.Background(), requested("ex-4", "client-1", now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		caller   auth.Caller
		clientID string
		exportID string
		want     apperr.Kind
	}{
		{"the client", auth.Caller{ID: "client-1", Role: auth.RoleClient}, "client-1", "ex-4", 0},
		{"their counsellor", auth.Caller{ID: "counsellor-1", Role: auth.RoleCounsellor}, "client-1", "ex-4", apperr.KindPermissionDenied},
		{"an admin", auth.Caller{ID: "admin-1", Role: auth.RoleAdmin}, "client-1", "ex-4", apperr.KindPermissionDenied},
		{"another client naming the client", auth.Caller{ID: "client-2", Role: auth.RoleClient}, "client-1", "ex-4", apperr.KindNotFound},
		{"another client naming themself", auth.Caller{ID: "client-2", Role: auth.RoleClient}, "client-2", "ex-4", apperr.KindNotFound},
		{"an export not built", auth.Caller{ID: "client-1", Role: auth.RoleClient}, "client-1", "ex-none", apperr.KindNotFound},
	}
	for _, c := range cases {
		_, err := b.Open(context.Background(), c.caller, c.clientID, c.exportID)
		k, _ := apperr.KindOf(err)
		if (c.want == 0 && err != nil) || (c.want != 0 && k != c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	f.clk.Advance(time.Hour)
	_, err := b.Open(context.Background(), auth.Caller{ID: "client-1", Role: auth.RoleClient}, "client-1", "ex-4")
	if k, _ := apperr.KindOf(err); k != apperr.KindFailedPrecondition {
		t.Errorf("an expired part: %v, want FailedPrecondition", err)
	}
}

// The expiry sweep deletes the parts past their expire time and the grace,
// and only those.
func TestExpiredPartsAreSwept(t *testing.T) {
	f := newFixture(t)
	b := f.builder()
	for id, expire := range map[string]time.Time{"ex-old": now.Add(-2 * time.Hour), "ex-grace": now.Add(-time.Minute), "ex-live": now.Add(time.Hour)} {
		// Built while still valid, then the clock is wherever it is.
		f.clk.Set(expire.Add(-time.Hour))
		if err := b.Handle(context.Background(), requested(id, "client-1", expire)); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.Set(now)
	kind := exportpart.RetentionKind(f.parts.Collection())
	if kind.Name != exportpart.ExpiredKind || kind.Period != exportpart.ExpiredGrace {
		t.Fatalf("kind = %s, %v", kind.Name, kind.Period)
	}
	n, err := kind.Sweep(context.Background(), now.Add(-kind.Period), 100)
	if err != nil || n != 1 {
		t.Fatalf("swept %d (%v), want the one past its grace", n, err)
	}
	for id, want := range map[string]bool{"ex-old": false, "ex-grace": true, "ex-live": true} {
		_, _, err := f.parts.Get(context.Background(), id)
		if got := err == nil; got != want {
			t.Errorf("%s kept = %v, want %v", id, got, want)
		}
	}
}
