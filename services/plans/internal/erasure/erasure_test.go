package erasure

import (
	"testing"
	"time"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
)

func TestWhoMayAsk(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		caller auth.Caller
		ticket string
		ok     bool
	}{
		{"the client about themself", auth.Caller{ID: "c1", Role: auth.RoleClient}, "", true},
		{"a client about another", auth.Caller{ID: "c2", Role: auth.RoleClient}, "", false},
		{"an admin with the client's ticket", auth.Caller{ID: "a1", Role: auth.RoleAdmin}, "ZD-1", true},
		{"an admin without a ticket", auth.Caller{ID: "a1", Role: auth.RoleAdmin}, "", false},
		{"a counsellor, even with a ticket", auth.Caller{ID: "co", Role: auth.RoleCounsellor}, "ZD-1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.caller, "c1", tc.ticket, now)
			if tc.ok {
				if err != nil || r.ID != ID("c1") || r.RequestedBy != tc.caller.ID {
					t.Fatalf("New = %+v, %v", r, err)
				}
				return
			}
			if k, _ := apperr.KindOf(err); k != apperr.KindPermissionDenied {
				t.Fatalf("err = %v, want PermissionDenied", err)
			}
		})
	}
}

func TestCompleteOnlyWhenEveryServiceConfirmed(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := Request{Confirmed: map[string]time.Time{ServicePlans: t0, ServiceNotify: t0.Add(time.Minute)}}
	if r.Complete() || !r.CompleteTime().IsZero() {
		t.Fatal("complete without the journal")
	}
	r.Confirmed[ServiceJournal] = t0.Add(time.Hour)
	if !r.Complete() || !r.CompleteTime().Equal(t0.Add(time.Hour)) {
		t.Fatalf("complete = %v at %v", r.Complete(), r.CompleteTime())
	}
}

func TestIDsAreDeterministicAndEventSafe(t *testing.T) {
	if ID("a.b@x") != ID("a.b@x") || ID("a") == ID("b") {
		t.Fatal("ids are not one per client")
	}
	if ConfirmationID("a", ServiceJournal) == ConfirmationID("a", ServiceNotify) {
		t.Fatal("confirmations collide")
	}
}
