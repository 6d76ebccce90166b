package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// eventually retries check until it returns "" or the deadline passes.
func eventually(t testing.TB, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A hard moment, as the client lives it: an urge answered at once with
// their own reasons, their people and a step to take; resolved as
// CONTACTED, it becomes a slip on the plan within seconds.
func TestUrgeAnswersAtOnceAndContactBecomesASlip(t *testing.T) {
	s := startSuite(t)
	client := token(t, "client-u", auth.RoleClient)
	start := time.Now().Add(-5 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{
		"timeZone": "Europe/Berlin", "startTime": start,
		"reasons":         []string{"I want to sleep through the night"},
		"supportContacts": []map[string]any{{"name": "Sam", "relationship": "sister", "contact": "+49 151 0000000"}},
	})
	id := plan["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})

	ans := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-u/urges", client, map[string]any{"intensity": 6, "trigger": "nighttime"})
	reasons, _ := ans["reasons"].([]any)
	contacts, _ := ans["supportContacts"].([]any)
	step, _ := ans["copingStep"].(map[string]any)
	if len(reasons) != 1 || len(contacts) != 1 || step["text"] == "" || ans["planUnavailable"] != false {
		t.Fatalf("urge answer = %v, want the client's reason, contact and a coping step", ans)
	}
	if crisis, _ := ans["crisisResources"].([]any); len(crisis) != 0 {
		t.Fatalf("a moderate urge answered with crisis resources: %v", crisis)
	}
	high := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-u/urges", client, map[string]any{"intensity": 10})
	if crisis, _ := high["crisisResources"].([]any); len(crisis) == 0 {
		t.Fatalf("an urge of 10 answered without crisis resources: %v", high)
	}

	urge := ans["urge"].(map[string]any)
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-u/urges/"+urge["id"].(string)+":resolve", client, map[string]any{"outcome": "CONTACTED"})
	eventually(t, 10*time.Second, func() string {
		p := s.mustCall(http.StatusOK, "GET", "/v1/plans/"+id+"/progress", client, nil)
		if attempts, _ := p["attempts"].([]any); len(attempts) != 2 || p["currentStreakDays"] != float64(0) {
			return "the CONTACTED urge did not become a slip on the plan"
		}
		return ""
	})
	// Another client's urge is not theirs to resolve.
	other := token(t, "client-v", auth.RoleClient)
	s.mustCall(http.StatusNotFound, "POST", "/v1/clients/client-u/urges/"+urge["id"].(string)+":resolve", other, map[string]any{"outcome": "RESISTED"})
	s.mustCall(http.StatusBadRequest, "POST", "/v1/clients/client-u/urges", client, map[string]any{"intensity": 11})
}

func TestCrisisScreeningAndTheCareTeam(t *testing.T) {
	s := startSuite(t)
	client := token(t, "client-j", auth.RoleClient)
	counsellor := token(t, "counsellor-j", auth.RoleCounsellor)
	admin := token(t, "admin-j", auth.RoleAdmin)

	calm := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/checkins", client, map[string]any{
		"mood": 1, "difficulty": 3, "selfCare": []string{"nature"}, "triggers": []string{"music"}, "timeZone": "America/New_York",
		"note": "I could kill for a coffee this morning",
	})
	if crisis, _ := calm["crisisResources"].([]any); len(crisis) != 0 {
		t.Fatalf("a figure of speech screened as a crisis: %v", calm)
	}
	crisis := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/checkins?countryCode=US", client, map[string]any{
		"mood": -3, "timeZone": "America/New_York", "note": "Honestly I don't want to be alive anymore",
	})
	if res, _ := crisis["crisisResources"].([]any); len(res) == 0 {
		t.Fatalf("crisis language answered without crisis resources: %v", crisis)
	}
	s.mustCall(http.StatusBadRequest, "POST", "/v1/clients/client-j/checkins", client, map[string]any{"mood": 5})

	private := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/entries", client, map[string]any{"kind": "UNSENT_LETTER", "body": "Dear you, I am letting go."})
	shared := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/entries", client, map[string]any{"kind": "FREE", "body": "A better day: I went for a long walk."})
	privateID := private["entry"].(map[string]any)["id"].(string)
	sharedID := shared["entry"].(map[string]any)["id"].(string)
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/entries/"+sharedID+":share", client, map[string]any{})

	// Without an assignment nothing is visible.
	s.mustCall(http.StatusNotFound, "GET", "/v1/clients/client-j/insights?days=7", counsellor, nil)
	s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", admin, map[string]any{"clientId": "client-j", "counsellorId": "counsellor-j"})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/consents", client, map[string]any{"scope": "SHARED_JOURNAL"})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/consents", client, map[string]any{"scope": "MOOD_INSIGHTS"})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/consents", client, map[string]any{"scope": "RISK_ALERTS"})

	// The journal learns of the assignment and consent from the plans events.
	eventually(t, 10*time.Second, func() string {
		if code, _ := s.call("GET", "/v1/clients/client-j/insights?days=7", counsellor, nil); code != http.StatusOK {
			return "the counsellor never got the insights after consent"
		}
		return ""
	})
	list := s.mustCall(http.StatusOK, "GET", "/v1/clients/client-j/entries", counsellor, nil)
	if entries, _ := list["entries"].([]any); len(entries) != 1 || entries[0].(map[string]any)["id"] != sharedID {
		t.Fatalf("the counsellor sees entries %v, want only the shared one", list)
	}
	s.mustCall(http.StatusNotFound, "GET", "/v1/clients/client-j/entries/"+privateID, counsellor, nil)
	s.mustCall(http.StatusOK, "GET", "/v1/clients/client-j/entries/"+sharedID, counsellor, nil)

	// The flag is raised by the journal's risk consumer from the check-in's
	// event: wait for it.
	var flags map[string]any
	var fl []any
	eventually(t, 20*time.Second, func() string {
		flags = s.mustCall(http.StatusOK, "GET", "/v1/clients/client-j/risk-flags", counsellor, nil)
		if fl, _ = flags["riskFlags"].([]any); len(fl) == 0 {
			return "no risk flag raised yet"
		}
		return ""
	})
	if len(fl) != 1 || fl[0].(map[string]any)["reason"] != "RISK_REASON_CRISIS_LANGUAGE" {
		t.Fatalf("risk flags = %v, want one crisis-language flag", flags)
	}
	flagID := fl[0].(map[string]any)["id"].(string)
	ack := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/risk-flags/"+flagID+":acknowledge", counsellor, map[string]any{})
	if ack["status"] != "RISK_FLAG_STATUS_ACKNOWLEDGED" || ack["acknowledgedBy"] != "counsellor-j" {
		t.Fatalf("acknowledged flag = %v", ack)
	}

	// Unsharing and revoking take effect within seconds.
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-j/entries/"+sharedID+":unshare", client, map[string]any{})
	s.mustCall(http.StatusNotFound, "GET", "/v1/clients/client-j/entries/"+sharedID, counsellor, nil)
	s.mustCall(http.StatusOK, "DELETE", "/v1/clients/client-j/consents/MOOD_INSIGHTS", client, nil)
	eventually(t, 10*time.Second, func() string {
		if code, _ := s.call("GET", "/v1/clients/client-j/insights?days=7", counsellor, nil); code != http.StatusNotFound {
			return "revoking the mood scope did not stop the counsellor's insights"
		}
		return ""
	})

	// Every counsellor read of the journal is in the client's access log.
	eventually(t, 10*time.Second, func() string {
		log := s.mustCall(http.StatusOK, "GET", "/v1/clients/client-j/access-log?pageSize=100", client, nil)
		entries, _ := log["entries"].([]any)
		for _, e := range entries {
			em := e.(map[string]any)
			if em["actorId"] == "counsellor-j" && em["action"] == "GetInsights" && em["outcome"] == "ACCESS_OUTCOME_ALLOWED" {
				return ""
			}
		}
		return "the counsellor's insight reads are not in the client's access log"
	})
}

func TestPrompts(t *testing.T) {
	s := startSuite(t)
	client := token(t, "client-p", auth.RoleClient)
	all := s.mustCall(http.StatusOK, "GET", "/v1/prompts", client, nil)
	if prompts, _ := all["prompts"].([]any); len(prompts) < 40 {
		t.Fatalf("%d prompts, want at least 40", len(prompts))
	}
	today := s.mustCall(http.StatusOK, "GET", "/v1/clients/client-p/prompt-of-the-day", client, nil)
	if p, _ := today["prompt"].(map[string]any); p["text"] == "" {
		t.Fatalf("prompt of the day = %v", today)
	}
}
