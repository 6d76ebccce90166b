package care

import (
	"errors"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	active := NewAssignment("cl1", "co1", "admin1", true, now)
	pending := NewAssignment("cl1", "co1", "co1", false, now)
	ended := NewAssignment("cl1", "co1", "admin1", true, now)
	if err := ended.End(now); err != nil {
		t.Fatal(err)
	}
	withProgress := &Consents{ClientID: "cl1"}
	withProgress.Grant(ScopePlanProgress, now)
	revoked := &Consents{ClientID: "cl1"}
	revoked.Grant(ScopePlanProgress, now)
	revoked.Revoke(ScopePlanProgress, now)

	cases := []struct {
		name       string
		caller     string
		role       auth.Role
		client     string
		scope      Scope
		assignment *Assignment
		consents   *Consents
		admin      bool
		want       Decision
	}{
		{"client reads own", "cl1", auth.RoleClient, "cl1", ScopePlanProgress, nil, nil, false, AllowOwner},
		{"client reads another", "cl2", auth.RoleClient, "cl1", ScopePlanProgress, nil, nil, false, Deny},
		{"empty caller never owns", "", auth.RoleClient, "", ScopePlanProgress, nil, nil, false, Deny},
		{"counsellor with assignment and consent", "co1", auth.RoleCounsellor, "cl1", ScopePlanProgress, &active, withProgress, false, AllowCareTeam},
		{"counsellor without consent", "co1", auth.RoleCounsellor, "cl1", ScopePlanProgress, &active, &Consents{}, false, Deny},
		{"counsellor after revocation", "co1", auth.RoleCounsellor, "cl1", ScopePlanProgress, &active, revoked, false, Deny},
		{"counsellor consent for another scope", "co1", auth.RoleCounsellor, "cl1", ScopeMoodInsights, &active, withProgress, false, Deny},
		{"counsellor pending assignment", "co1", auth.RoleCounsellor, "cl1", ScopePlanProgress, &pending, withProgress, false, Deny},
		{"counsellor ended assignment", "co1", auth.RoleCounsellor, "cl1", ScopePlanProgress, &ended, withProgress, false, Deny},
		{"other counsellor's assignment", "co2", auth.RoleCounsellor, "cl1", ScopePlanProgress, &active, withProgress, false, Deny},
		{"counsellor without assignment", "co1", auth.RoleCounsellor, "cl1", ScopePlanProgress, nil, withProgress, false, Deny},
		{"admin where allowed", "ad", auth.RoleAdmin, "cl1", ScopePlanProgress, nil, nil, true, AllowAdmin},
		{"admin where not allowed", "ad", auth.RoleAdmin, "cl1", ScopeSharedJournal, nil, nil, false, Deny},
		{"unknown role", "cl1", auth.Role("root"), "cl1", ScopePlanProgress, nil, nil, true, Deny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.caller, tc.role, tc.client, tc.scope, tc.assignment, tc.consents, tc.admin)
			if got != tc.want {
				t.Fatalf("Decide = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAssignmentLifecycle(t *testing.T) {
	a := NewAssignment("cl1", "co1", "co1", false, now)
	if a.Status != StatusPending {
		t.Fatalf("a counsellor's request starts %s, want pending", a.Status)
	}
	if err := a.Accept(now); err != nil {
		t.Fatalf("accept pending: %v", err)
	}
	if err := a.Accept(now); !errors.Is(err, ErrIllegal) {
		t.Fatalf("accepting twice: %v, want ErrIllegal", err)
	}
	if err := a.End(now); err != nil {
		t.Fatalf("end: %v", err)
	}
	if err := a.End(now); !errors.Is(err, ErrIllegal) {
		t.Fatalf("ending twice: %v, want ErrIllegal", err)
	}
	if !a.Reopen("admin1", true, now.Add(time.Hour)) || a.Status != StatusActive {
		t.Fatalf("an admin re-assigning an ended pair: status %s, want active", a.Status)
	}
	if a.Reopen("admin1", true, now) {
		t.Fatal("re-assigning an active pair must change nothing")
	}
	if a.ID != AssignmentID("cl1", "co1") || AssignmentID("cl1", "co1") == AssignmentID("co1", "cl1") {
		t.Fatal("assignment ids must be per ordered pair and stable")
	}
}

func TestConsentsGrantRevoke(t *testing.T) {
	var c Consents
	if !c.Grant(ScopeRiskAlerts, now) || c.Grant(ScopeRiskAlerts, now) {
		t.Fatal("granting reports a change once")
	}
	if !c.Has(ScopeRiskAlerts) || c.Has(ScopePlanProgress) {
		t.Fatal("only the granted scope is held")
	}
	if !c.Revoke(ScopeRiskAlerts, now) || c.Revoke(ScopeRiskAlerts, now) || c.Has(ScopeRiskAlerts) {
		t.Fatal("revoking removes the scope and reports a change once")
	}
	if got := c.Granted(); len(got) != 0 {
		t.Fatalf("granted after revoke = %v", got)
	}
}
