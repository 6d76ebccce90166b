package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// revocationRounds is how many times each revocation is tried: once it has
// answered OK, not one read of the revoked data may be served after it.
const revocationRounds = 100

// revocationFixture is one client whose data lives in every service that
// holds client data (a plan, a shared journal entry, a counsellor's
// notification about a slip), and their counsellor.
type revocationFixture struct {
	s                         *suite
	client, counsellor, admin string
	clientID, planID          string
	slipNote                  string
}

func newRevocationFixture(t *testing.T, s *suite) *revocationFixture {
	t.Helper()
	f := &revocationFixture{s: s, clientID: "client-rv",
		client:     token(t, "client-rv", auth.RoleClient),
		counsellor: token(t, "counsellor-rv", auth.RoleCounsellor),
		admin:      token(t, "admin-rv", auth.RoleAdmin),
	}
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", f.client, map[string]any{"timeZone": "Europe/Berlin",
		"startTime": time.Now().Add(-72 * time.Hour).UTC().Format(time.RFC3339)})
	f.planID = plan["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+f.planID+":activate", f.client, map[string]any{})
	entry := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-rv/entries", f.client, map[string]any{"kind": "FREE", "body": "for my counsellor"})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-rv/entries/"+entry["entry"].(map[string]any)["id"].(string)+":share", f.client, map[string]any{})
	s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", f.admin, map[string]any{"clientId": "client-rv", "counsellorId": "counsellor-rv"})
	f.grant("PLAN_PROGRESS")
	f.grant("SHARED_JOURNAL")
	// A slip the counsellor hears about: wait until notify has made it
	// (its recipients come from the events, so it lags; reads never do).
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+f.planID+"/contacts", f.client, map[string]any{
		"direction": "OUTBOUND", "channel": "TEXT", "occurredAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)})
	eventually(t, 30*time.Second, func() string {
		if f.slipNote = f.findSlipNotification(); f.slipNote == "" {
			return "the counsellor has no notification of the slip yet"
		}
		return ""
	})
	return f
}

func (f *revocationFixture) grant(scope string) {
	f.s.mustCall(http.StatusOK, "POST", "/v1/clients/client-rv/consents", f.client, map[string]any{"scope": scope})
}

func (f *revocationFixture) revoke(scope string) {
	f.s.mustCall(http.StatusOK, "DELETE", "/v1/clients/client-rv/consents/"+scope, f.client, nil)
}

// served reads the client's data as the counsellor from each service and
// names what was served.
func (f *revocationFixture) served() []string {
	var out []string
	if code, _ := f.s.call("GET", "/v1/plans/"+f.planID+"/progress", f.counsellor, nil); code == http.StatusOK {
		out = append(out, "plans: progress")
	} else if code != http.StatusNotFound {
		f.s.t.Fatalf("plans progress answered %d", code)
	}
	code, entries := f.s.call("GET", "/v1/clients/client-rv/entries", f.counsellor, nil)
	switch {
	case code == http.StatusOK && len(asList(entries["entries"])) > 0:
		out = append(out, "journal: shared entry")
	case code != http.StatusOK && code != http.StatusNotFound:
		f.s.t.Fatalf("journal entries answered %d %v", code, entries)
	}
	if f.seesSlipNotification() {
		out = append(out, "notify: slip notification")
	}
	return out
}

// findSlipNotification is the id of the counsellor's notification of the
// client's slip ("" until notify has made it).
func (f *revocationFixture) findSlipNotification() string {
	out := f.s.mustCall(http.StatusOK, "GET", "/v1/notifications?pageSize=100", f.counsellor, nil)
	for _, n := range asList(out["notifications"]) {
		m, _ := n.(map[string]any)
		if m["kind"] == "NOTIFICATION_KIND_SLIP_RECORDED" && m["clientId"] == f.clientID {
			id, _ := m["id"].(string)
			return id
		}
	}
	return ""
}

// seesSlipNotification asks notify for the slip notification by id (mark
// read answers it, or 404 when the counsellor may not see it now): one
// call, however many notifications the rounds add in front of it.
func (f *revocationFixture) seesSlipNotification() bool {
	code, out := f.s.call("POST", "/v1/notifications/"+f.slipNote+":markRead", f.counsellor, map[string]any{})
	switch code {
	case http.StatusOK:
		return true
	case http.StatusNotFound:
		return false
	}
	f.s.t.Fatalf("mark read answered %d %v", code, out)
	return false
}

// roundsAtReplicas runs n replicas with the gateway's per-identity limit
// raised: the rounds are many calls by one client and one counsellor.
func roundsAtReplicas(n int) func(*Settings) {
	return func(s *Settings) {
		s.Replicas = n
		s.RateLimitPerSecond, s.RateLimitBurst = "1000", "1000"
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

// Once RevokeConsent has answered OK, no service serves that counsellor
// that client's data under that scope: 100 rounds of grant, read (served),
// revoke, read at once (nothing), on two replicas of every service, whose
// event projections are never waited for.
func TestRevocationHoldsAtOnceOnEveryService(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), roundsAtReplicas(2))
	f := newRevocationFixture(t, s)
	after := 0
	for round := range revocationRounds {
		f.grant("PLAN_PROGRESS")
		f.grant("SHARED_JOURNAL")
		if got := f.served(); len(got) != 3 {
			t.Fatalf("round %d: with consent the counsellor was served %v, want all three", round, got)
		}
		f.revoke("PLAN_PROGRESS")
		f.revoke("SHARED_JOURNAL")
		if got := f.served(); len(got) > 0 {
			after++
			t.Errorf("round %d: served after the revocation answered: %v", round, got)
		}
	}
	if after > 0 {
		t.Fatalf("%d of %d rounds served data after the revocation", after, revocationRounds)
	}
}

// The same for the end of an assignment: once EndCareAssignment has
// answered OK, nothing of the client's is served to that counsellor.
func TestEndOfAssignmentHoldsAtOnceOnEveryService(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), roundsAtReplicas(2))
	f := newRevocationFixture(t, s)
	after := 0
	for round := range revocationRounds {
		a := s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", f.admin, map[string]any{"clientId": "client-rv", "counsellorId": "counsellor-rv"})
		if a["status"] != "CARE_ASSIGNMENT_STATUS_ACTIVE" {
			t.Fatalf("round %d: assignment = %v, want active", round, a)
		}
		if got := f.served(); len(got) != 3 {
			t.Fatalf("round %d: assigned, the counsellor was served %v, want all three", round, got)
		}
		s.mustCall(http.StatusOK, "POST", fmt.Sprintf("/v1/care-assignments/%s:end", a["id"]), f.client, map[string]any{})
		if got := f.served(); len(got) > 0 {
			after++
			t.Errorf("round %d: served after the assignment ended: %v", round, got)
		}
	}
	if after > 0 {
		t.Fatalf("%d of %d rounds served data after the assignment ended", after, revocationRounds)
	}
}
