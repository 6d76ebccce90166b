package inbox_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/services/notify/internal/inbox"
	"github.com/nocontact/backend/services/notify/internal/message"
)

// at parses an RFC 3339 instant (with its offset, so every expectation
// reads as the user's wall clock).
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

// DeliverAt answers when the user sees a notification: urgent ones at once,
// whatever quiet hours and the cap say; others after the wall-clock quiet
// window (which may cross midnight and DST changes), and on the next local
// day once the day's cap is used.
func TestDeliverAt(t *testing.T) {
	berlinQuiet := inbox.Preferences{TimeZone: "Europe/Berlin", QuietStart: "22:00", QuietEnd: "07:00"}
	berlinCap2 := inbox.Preferences{TimeZone: "Europe/Berlin", DailyCap: 2}
	berlinBoth := inbox.Preferences{TimeZone: "Europe/Berlin", QuietStart: "22:00", QuietEnd: "07:00", DailyCap: 2}
	nyBoth := inbox.Preferences{TimeZone: "America/New_York", QuietStart: "23:00", QuietEnd: "06:30", DailyCap: 1}
	afternoon := inbox.Preferences{TimeZone: "Europe/Berlin", QuietStart: "13:00", QuietEnd: "15:00"}
	tests := []struct {
		name      string
		prefs     inbox.Preferences
		urgent    bool
		now       string
		sentToday int
		want      string // "" means now
	}{
		// Urgent: never held.
		{"urgent in quiet hours", berlinQuiet, true, "2026-06-10T23:30:00+02:00", 0, ""},
		{"urgent with the cap used", berlinCap2, true, "2026-06-10T10:00:00+02:00", 5, ""},
		{"urgent with both", berlinBoth, true, "2026-06-10T03:00:00+02:00", 2, ""},

		// Nothing set: at once.
		{"defaults", inbox.Defaults("u", ""), false, "2026-06-10T23:30:00Z", 99, ""},
		{"no cap (0) counts nothing", inbox.Preferences{TimeZone: "Europe/Berlin"}, false, "2026-06-10T10:00:00+02:00", 50, ""},

		// Quiet hours across midnight.
		{"before quiet hours", berlinQuiet, false, "2026-06-10T21:59:00+02:00", 0, ""},
		{"quiet hours start", berlinQuiet, false, "2026-06-10T22:00:00+02:00", 0, "2026-06-11T07:00:00+02:00"},
		{"before midnight", berlinQuiet, false, "2026-06-10T23:30:00+02:00", 0, "2026-06-11T07:00:00+02:00"},
		{"after midnight", berlinQuiet, false, "2026-06-11T03:00:00+02:00", 0, "2026-06-11T07:00:00+02:00"},
		{"one minute before the end", berlinQuiet, false, "2026-06-11T06:59:00+02:00", 0, "2026-06-11T07:00:00+02:00"},
		{"quiet hours end (exclusive)", berlinQuiet, false, "2026-06-11T07:00:00+02:00", 0, ""},
		{"a daytime window", afternoon, false, "2026-06-10T14:10:00+02:00", 0, "2026-06-10T15:00:00+02:00"},
		{"outside a daytime window", afternoon, false, "2026-06-10T15:00:00+02:00", 0, ""},
		// The quiet night the clocks spring forward (CET to CEST) and fall back.
		{"spring-forward night", berlinQuiet, false, "2026-03-28T23:30:00+01:00", 0, "2026-03-29T07:00:00+02:00"},
		{"fall-back night", berlinQuiet, false, "2026-10-24T23:30:00+02:00", 0, "2026-10-25T07:00:00+01:00"},

		// The daily cap.
		{"under the cap", berlinCap2, false, "2026-06-10T10:00:00+02:00", 1, ""},
		{"cap reached: next local day", berlinCap2, false, "2026-06-10T10:00:00+02:00", 2, "2026-06-11T00:00:00+02:00"},
		{"over the cap: next local day", berlinCap2, false, "2026-06-10T23:59:00+02:00", 7, "2026-06-11T00:00:00+02:00"},
		{"cap: local day, not UTC day", berlinCap2, false, "2026-06-10T00:30:00+02:00", 2, "2026-06-11T00:00:00+02:00"},

		// Cap and quiet hours together: the next day starts in quiet hours.
		{"cap during the day, then quiet hours", berlinBoth, false, "2026-06-10T10:00:00+02:00", 2, "2026-06-11T07:00:00+02:00"},
		{"cap and quiet hours, before midnight", berlinBoth, false, "2026-06-10T23:00:00+02:00", 2, "2026-06-11T07:00:00+02:00"},
		{"under the cap, in quiet hours", berlinBoth, false, "2026-06-10T23:00:00+02:00", 1, "2026-06-11T07:00:00+02:00"},
		{"cap and quiet hours across the US change", nyBoth, false, "2026-03-07T12:00:00-05:00", 1, "2026-03-08T06:30:00-04:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := at(t, tc.now)
			want := now
			if tc.want != "" {
				want = at(t, tc.want)
			}
			got := inbox.DeliverAt(tc.prefs, tc.urgent, now, tc.sentToday)
			if !got.Equal(want) {
				t.Fatalf("DeliverAt(%s, urgent=%v, sent=%d) = %s, want %s",
					tc.now, tc.urgent, tc.sentToday, got.In(tc.prefs.Location()).Format(time.RFC3339), want.Format(time.RFC3339))
			}
		})
	}
}

// Validate names the proto fields of what is wrong, so the API answers
// with field violations a form can show next to the right input.
func TestPreferencesValidateNamesTheFields(t *testing.T) {
	valid := inbox.Preferences{
		UserID: "u", TimeZone: "Europe/Berlin", QuietStart: "22:00", QuietEnd: "07:00",
		CheckInReminderTime: "20:00", PromptOfTheDayTime: "08:30", DailyCap: 100,
	}
	with := func(f func(*inbox.Preferences)) inbox.Preferences {
		p := valid
		f(&p)
		return p
	}
	tests := []struct {
		name  string
		prefs inbox.Preferences
		want  []string
	}{
		{"valid", valid, nil},
		{"defaults", inbox.Defaults("u", ""), nil},
		{"nothing optional set", inbox.Preferences{TimeZone: "America/New_York"}, nil},
		{"unknown zone", with(func(p *inbox.Preferences) { p.TimeZone = "Mars/Olympus_Mons" }), []string{"preferences.time_zone"}},
		{"Local is not a zone", with(func(p *inbox.Preferences) { p.TimeZone = "Local" }), []string{"preferences.time_zone"}},
		{"hour 24", with(func(p *inbox.Preferences) { p.QuietStart = "24:00" }), []string{"preferences.quiet_start"}},
		{"single-digit hour", with(func(p *inbox.Preferences) { p.QuietEnd = "7:00" }), []string{"preferences.quiet_end"}},
		{"minute 60", with(func(p *inbox.Preferences) { p.CheckInReminderTime = "20:60" }), []string{"preferences.check_in_reminder_time"}},
		{"not a time", with(func(p *inbox.Preferences) { p.PromptOfTheDayTime = "noon" }), []string{"preferences.prompt_of_the_day_time"}},
		{"start without end", with(func(p *inbox.Preferences) { p.QuietEnd = "" }), []string{"preferences.quiet_end"}},
		{"end without start", with(func(p *inbox.Preferences) { p.QuietStart = "" }), []string{"preferences.quiet_end"}},
		{"negative cap", with(func(p *inbox.Preferences) { p.DailyCap = -1 }), []string{"preferences.daily_cap"}},
		{"cap over 100", with(func(p *inbox.Preferences) { p.DailyCap = 101 }), []string{"preferences.daily_cap"}},
		{"everything wrong at once", inbox.Preferences{
			TimeZone: "Nowhere/Else", QuietStart: "25:00", QuietEnd: "x", CheckInReminderTime: "8", PromptOfTheDayTime: "08:3", DailyCap: 1000,
		}, []string{
			"preferences.check_in_reminder_time", "preferences.daily_cap", "preferences.prompt_of_the_day_time",
			"preferences.quiet_end", "preferences.quiet_start", "preferences.time_zone",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range tc.prefs.Validate() {
				field, desc, ok := strings.Cut(v, ": ")
				if !ok || desc == "" {
					t.Errorf("violation %q is not \"field: description\"", v)
				}
				if !slices.Contains(got, field) {
					got = append(got, field)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Validate() fields = %v, want %v (violations: %q)", got, tc.want, tc.prefs.Validate())
			}
		})
	}
}

// One notification per (event, recipient, kind): the id is the same every
// time it is computed and differs when any of the three differs.
func TestIDIsStablePerEventRecipientAndKind(t *testing.T) {
	base := inbox.ID("ev-1", "client-1", message.MilestoneReached)
	if again := inbox.ID("ev-1", "client-1", message.MilestoneReached); again != base {
		t.Fatalf("ID changed between calls: %s then %s", base, again)
	}
	if !regexp.MustCompile(`^nt-[0-9a-f]{32}$`).MatchString(base) {
		t.Fatalf("ID = %q, want nt- and 32 hex digits", base)
	}
	if strings.Contains(base, "client-1") || strings.Contains(base, "ev-1") {
		t.Fatalf("ID %q shows the user or event id", base)
	}
	others := map[string]string{
		"other event":     inbox.ID("ev-2", "client-1", message.MilestoneReached),
		"other recipient": inbox.ID("ev-1", "counsellor-1", message.MilestoneReached),
		"other kind":      inbox.ID("ev-1", "client-1", message.PlanCompleted),
		// The parts are separated: moving characters between them is another id.
		"shifted parts": inbox.ID("ev-1c", "lient-1", message.MilestoneReached),
	}
	seen := map[string]string{base: "base"}
	for name, id := range others {
		if prev, dup := seen[id]; dup {
			t.Errorf("%s has the same id as %s: %s", name, prev, id)
		}
		seen[id] = name
	}
}
