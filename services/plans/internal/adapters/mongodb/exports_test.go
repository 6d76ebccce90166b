package mongodb_test

import (
	"context"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/plans/internal/adapters/mongodb"
	"github.com/nocontact/backend/services/plans/internal/export"
)

// Parts arrive in any order and any number of times: each is recorded
// once, the first readiness kept, and the request is complete when all
// three are in, whatever came first. A part of another client's request
// changes nothing.
func TestExportPartsArriveInAnyOrder(t *testing.T) {
	ctx := context.Background()
	store := mongodb.NewExportStore(testenv.Mongo(t).Collection(mongodb.CollExports), nil)
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	r := export.New("ex-1", "client-1", now, 0)
	if err := store.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	mark := func(clientID, service string, at time.Time, n int32) bool {
		t.Helper()
		ok, err := store.MarkPartReady(ctx, "ex-1", clientID, service, export.Part{ReadyTime: at, Counts: map[string]int32{"records": n}})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if mark("client-2", export.Journal, now, 9) {
		t.Fatal("another client's readiness was recorded on the request")
	}
	if !mark("client-1", export.Notify, now.Add(time.Second), 1) || !mark("client-1", export.Journal, now.Add(2*time.Second), 2) {
		t.Fatal("a first readiness was not recorded")
	}
	if mark("client-1", export.Journal, now.Add(time.Minute), 99) {
		t.Fatal("a redelivered readiness was recorded again")
	}
	got, err := store.Get(ctx, "ex-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete() || got.State(now) != export.Running {
		t.Fatalf("two parts of three: complete=%v state=%v", got.Complete(), got.State(now))
	}
	if got.Parts[export.Journal].Counts["records"] != 2 || !got.Parts[export.Journal].ReadyTime.Equal(now.Add(2*time.Second)) {
		t.Fatalf("journal part = %+v, want the first readiness", got.Parts[export.Journal])
	}
	if !mark("client-1", export.Plans, now.Add(3*time.Second), 3) {
		t.Fatal("the last part was not recorded")
	}
	if got, _ = store.Get(ctx, "ex-1"); got.State(now) != export.Ready || len(got.Parts) != 3 {
		t.Fatalf("after every part: state %v, parts %v", got.State(now), got.Parts)
	}
	if got.State(r.ExpireTime) != export.Expired {
		t.Fatalf("at expire_time the export is %v", got.State(r.ExpireTime))
	}
}
