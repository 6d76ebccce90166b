package outbox_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/outbox"
)

func TestAppendNumbersAfterPendingMessages(t *testing.T) {
	at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	box, err := outbox.Append(nil, outbox.Message{ID: "e1", Subject: "plans.a", CreateTime: at})
	if err != nil {
		t.Fatal(err)
	}
	box, err = outbox.Append(box,
		outbox.Message{ID: "e2", Subject: "plans.b"},
		outbox.Message{ID: "e3", Subject: "plans.c"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int64{"e1": 1, "e2": 2, "e3": 3} {
		if got := box[id].Seq; got != want {
			t.Errorf("seq of %s = %d, want %d", id, got, want)
		}
	}
	if box["e1"].ID != "e1" || !box["e1"].CreateTime.Equal(at) {
		t.Errorf("message fields not kept: %+v", box["e1"])
	}
}

func TestAppendRejectsIDsThatCannotBeKeys(t *testing.T) {
	pending := map[string]outbox.Message{"taken": {ID: "taken", Seq: 1}}
	for _, tc := range []struct {
		name string
		msgs []outbox.Message
	}{
		{"empty", []outbox.Message{{ID: ""}}},
		{"dot", []outbox.Message{{ID: "ms.1"}}},
		{"dollar", []outbox.Message{{ID: "$1"}}},
		{"already pending", []outbox.Message{{ID: "taken"}}},
		{"twice in one call", []outbox.Message{{ID: "x"}, {ID: "x"}}},
		{"one bad among good", []outbox.Message{{ID: "ok"}, {ID: "a.b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := outbox.Append(pending, tc.msgs...)
			if !errors.Is(err, outbox.ErrInvalidID) {
				t.Fatalf("err = %v, want ErrInvalidID", err)
			}
			if len(got) != 1 {
				t.Fatalf("outbox changed on error: %v", got)
			}
		})
	}
}

func TestFieldsAppendSetsPending(t *testing.T) {
	var f outbox.Fields
	if err := f.Append(outbox.Message{ID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if !f.Pending || len(f.Outbox) != 1 {
		t.Fatalf("after Append: %+v", f)
	}
	if err := f.Append(outbox.Message{ID: "bad.id"}); err == nil || len(f.Outbox) != 1 {
		t.Fatalf("bad id: err=%v outbox=%v", err, f.Outbox)
	}
}
