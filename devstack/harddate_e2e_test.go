package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/auth"
)

// zoneAfterNine is a fixed-offset IANA zone in which it is now between
// 10:00 and 21:59, so that tomorrow's hard date is due at once (its note
// fell due at 09:00 today) and the day does not end during the test.
func zoneAfterNine(t *testing.T) (string, *time.Location) {
	t.Helper()
	for off := -12; off <= 14; off++ {
		name := "Etc/GMT"
		switch {
		case off > 0:
			name += fmt.Sprintf("-%d", off) // POSIX sign: Etc/GMT-2 is UTC+2
		case off < 0:
			name += fmt.Sprintf("+%d", -off)
		}
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		if h := time.Now().In(loc).Hour(); h >= 10 && h <= 21 {
			return name, loc
		}
	}
	t.Fatal("no zone is between 10:00 and 22:00 now")
	return "", nil
}

// Through the gateway: an impossible hard date is a 400 naming the field;
// a plan whose hard date is tomorrow gives its client exactly one gentle
// note, which does not repeat the client's label.
func TestHardDateAheadThroughTheSuite(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	client := token(t, "client-hd", auth.RoleClient)
	tz, loc := zoneAfterNine(t)

	code, bad := s.call("POST", "/v1/plans", client, map[string]any{"timeZone": tz,
		"hardDates": []map[string]any{{"label": "no such day", "month": 2, "day": 30}}})
	if code != http.StatusBadRequest || !contains(fieldViolations(bad), "plan.hard_dates[0].day") {
		t.Fatalf("create with February 30 = %d %v, want 400 naming plan.hard_dates[0].day", code, bad)
	}

	const label = "the day we met"
	tomorrow := time.Now().In(loc).AddDate(0, 0, 1)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": tz,
		"hardDates": []map[string]any{{"label": label, "month": int(tomorrow.Month()), "day": tomorrow.Day()}}})
	id := plan["id"].(string)
	if hd, _ := plan["hardDates"].([]any); len(hd) != 1 || hd[0].(map[string]any)["label"] != label {
		t.Fatalf("created plan's hard dates = %v", plan["hardDates"])
	}
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})

	eventually(t, 10*time.Second, func() string {
		if len(notificationsByKind(t, s, client)["NOTIFICATION_KIND_HARD_DATE_AHEAD"]) == 0 {
			return "no hard-date note within 10 s"
		}
		return ""
	})
	s.settle() // a scan on every replica, the outbox empty, notify through it
	notes := notificationsByKind(t, s, client)["NOTIFICATION_KIND_HARD_DATE_AHEAD"]
	if len(notes) != 1 || notes[0]["planId"] != id || notes[0]["urgent"] == true {
		t.Fatalf("hard-date notes = %v, want one for plan %s", notes, id)
	}
	if text := fmt.Sprint(notes[0]["title"], notes[0]["body"]); strings.Contains(text, label) {
		t.Fatalf("the note repeats the client's label: %s", text)
	}

	// The list changes through the update mask, as in the README.
	updated := s.mustCall(http.StatusOK, "PATCH", "/v1/plans/"+id+"?updateMask=hard_dates", client, map[string]any{
		"hardDates": []map[string]any{{"label": "leap day", "month": 2, "day": 29}}})
	if hd, _ := updated["hardDates"].([]any); len(hd) != 1 || hd[0].(map[string]any)["label"] != "leap day" {
		t.Fatalf("updated plan's hard dates = %v", updated["hardDates"])
	}
	// The mask in the JSON spelling the body and the OpenAPI document use
	// works in the query too, beside other paths.
	updated = s.mustCall(http.StatusOK, "PATCH", "/v1/plans/"+id+"?updateMask=reasons,hardDates", client, map[string]any{
		"reasons":   []string{"my evenings back"},
		"hardDates": []map[string]any{{"label": "our song's day", "month": 6, "day": 1}}})
	if hd, _ := updated["hardDates"].([]any); len(hd) != 1 || hd[0].(map[string]any)["label"] != "our song's day" {
		t.Fatalf("hard dates after a camelCase mask = %v", updated["hardDates"])
	}
}
