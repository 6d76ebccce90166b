package journal_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/services/journal/internal/journal"
)

var now = time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// fields returns the violated field names of a validation error (nil when
// err is nil) and fails the test when err is another kind of error.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *journal.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *journal.ValidationError", err)
	}
	if !errors.Is(err, journal.ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
	}
	out := make([]string, len(ve.Violations))
	for i, v := range ve.Violations {
		out[i] = v.Field
		if v.Description == "" {
			t.Errorf("violation of %s has no description", v.Field)
		}
	}
	slices.Sort(out)
	return out
}

func sameFields(got, want []string) bool {
	want = slices.Clone(want)
	slices.Sort(want)
	return slices.Equal(got, want)
}

func TestNewCheckIn_Validation(t *testing.T) {
	cases := []struct {
		name   string
		mut    func(c *journal.CheckIn)
		fields []string // nil: valid
	}{
		{"mood -3", func(c *journal.CheckIn) { c.Mood = -3 }, nil},
		{"mood +3", func(c *journal.CheckIn) { c.Mood = 3 }, nil},
		{"mood -4", func(c *journal.CheckIn) { c.Mood = -4 }, []string{"check_in.mood"}},
		{"mood +4", func(c *journal.CheckIn) { c.Mood = 4 }, []string{"check_in.mood"}},
		{"difficulty not said", func(c *journal.CheckIn) { c.Difficulty = 0 }, nil},
		{"difficulty 5", func(c *journal.CheckIn) { c.Difficulty = 5 }, nil},
		{"difficulty 6", func(c *journal.CheckIn) { c.Difficulty = 6 }, []string{"check_in.difficulty"}},
		{"difficulty -1", func(c *journal.CheckIn) { c.Difficulty = -1 }, []string{"check_in.difficulty"}},
		{"sleep 0 h", func(c *journal.CheckIn) { c.SleepHours = ptr(0.0) }, nil},
		{"sleep 24 h", func(c *journal.CheckIn) { c.SleepHours = ptr(24.0) }, nil},
		{"sleep 24.5 h", func(c *journal.CheckIn) { c.SleepHours = ptr(24.5) }, []string{"check_in.sleep_hours"}},
		{"sleep -1 h", func(c *journal.CheckIn) { c.SleepHours = ptr(-1.0) }, []string{"check_in.sleep_hours"}},
		{"back-filled exactly 7 days", func(c *journal.CheckIn) { c.OccurredAt = now.Add(-7 * 24 * time.Hour) }, nil},
		{"back-filled 7 days and a minute", func(c *journal.CheckIn) { c.OccurredAt = now.Add(-7*24*time.Hour - time.Minute) }, []string{"check_in.occurred_at"}},
		{"2 min ahead (clock skew)", func(c *journal.CheckIn) { c.OccurredAt = now.Add(2 * time.Minute) }, nil},
		{"2 min 1 s ahead", func(c *journal.CheckIn) { c.OccurredAt = now.Add(2*time.Minute + time.Second) }, []string{"check_in.occurred_at"}},
		{"tomorrow", func(c *journal.CheckIn) { c.OccurredAt = now.Add(24 * time.Hour) }, []string{"check_in.occurred_at"}},
		{"unknown zone", func(c *journal.CheckIn) { c.TimeZone = "Mars/Olympus_Mons" }, []string{"check_in.time_zone"}},
		{"Local zone", func(c *journal.CheckIn) { c.TimeZone = "Local" }, []string{"check_in.time_zone"}},
		{"unknown kind", func(c *journal.CheckIn) { c.Kind = "weekly" }, []string{"check_in.kind"}},
		{"note of 2001 characters", func(c *journal.CheckIn) { c.Note = strings.Repeat("é", 2001) }, []string{"check_in.note"}},
		{"every violation at once", func(c *journal.CheckIn) {
			c.Mood, c.Difficulty, c.SleepHours = 7, 9, ptr(30.0)
			c.OccurredAt, c.TimeZone = now.Add(-30*24*time.Hour), "Nowhere/Special"
		}, []string{"check_in.mood", "check_in.difficulty", "check_in.sleep_hours", "check_in.occurred_at", "check_in.time_zone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := journal.CheckIn{ID: "c1", ClientID: "client-1", Mood: 1, Difficulty: 2, TimeZone: "Europe/Berlin"}
			tc.mut(&in)
			ci, err := journal.NewCheckIn(in, now)
			if got := fields(t, err); !sameFields(got, tc.fields) {
				t.Fatalf("violations = %v, want %v", got, tc.fields)
			}
			if err != nil && ci.ID != "" {
				t.Errorf("an invalid check-in was returned: %+v", ci)
			}
		})
	}
}

// A check-in keeps the local calendar date of the moment it describes, in
// the client's zone: near midnight that is not the UTC date.
func TestNewCheckIn_LocalDate(t *testing.T) {
	cases := []struct {
		name       string
		zone       string
		occurredAt time.Time // zero: now
		wantZone   string
		wantDate   string
	}{
		{"no zone means UTC", "", time.Time{}, "UTC", "2026-03-10"},
		{"Berlin, same date as UTC", "Europe/Berlin", time.Time{}, "Europe/Berlin", "2026-03-11"},
		{"Auckland is already tomorrow", "Pacific/Auckland", time.Time{}, "Pacific/Auckland", "2026-03-11"},
		{"Los Angeles at 03:00 UTC is still yesterday", "America/Los_Angeles", time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC), "America/Los_Angeles", "2026-03-09"},
		{"back-filled three days, local date of that day", "Asia/Tokyo", now.Add(-3 * 24 * time.Hour), "Asia/Tokyo", "2026-03-08"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ci, err := journal.NewCheckIn(journal.CheckIn{ID: "c1", TimeZone: tc.zone, OccurredAt: tc.occurredAt, Note: "  fine  "}, now)
			if err != nil {
				t.Fatal(err)
			}
			if ci.TimeZone != tc.wantZone || ci.LocalDate != tc.wantDate {
				t.Fatalf("zone, local date = %s, %s; want %s, %s", ci.TimeZone, ci.LocalDate, tc.wantZone, tc.wantDate)
			}
			want := tc.occurredAt
			if want.IsZero() {
				want = now
			}
			if !ci.OccurredAt.Equal(want) || ci.OccurredAt.Location() != time.UTC {
				t.Errorf("occurred at = %v, want %v in UTC", ci.OccurredAt, want)
			}
			if ci.Kind != "daily" || ci.Note != "fine" || !ci.CreateTime.Equal(now) {
				t.Errorf("kind %q note %q create %v: want daily, trimmed note, now", ci.Kind, ci.Note, ci.CreateTime)
			}
		})
	}
}

func TestNewEntry_Validation(t *testing.T) {
	known := func(id string) bool { return id == "prompt-needs" }
	cases := []struct {
		name   string
		in     journal.Entry
		fields []string
	}{
		{"free writing", journal.Entry{Body: "today was long"}, nil},
		{"body only spaces", journal.Entry{Body: "  \n\t "}, []string{"entry.body"}},
		{"no body", journal.Entry{}, []string{"entry.body"}},
		{"body of 20000 characters (multi-byte)", journal.Entry{Body: strings.Repeat("é", journal.MaxBodyRunes)}, nil},
		{"body of 20001 characters", journal.Entry{Body: strings.Repeat("é", journal.MaxBodyRunes+1)}, []string{"entry.body"}},
		{"prompt entry with a known prompt", journal.Entry{Kind: journal.EntryPrompt, PromptID: "prompt-needs", Body: "x"}, nil},
		{"prompt entry without a prompt", journal.Entry{Kind: journal.EntryPrompt, Body: "x"}, []string{"entry.prompt_id"}},
		{"prompt entry with an unknown prompt", journal.Entry{Kind: journal.EntryPrompt, PromptID: "nope", Body: "x"}, []string{"entry.prompt_id"}},
		{"prompt id on a free entry", journal.Entry{Kind: journal.EntryFree, PromptID: "prompt-needs", Body: "x"}, []string{"entry.prompt_id"}},
		{"prompt id on an unsent letter", journal.Entry{Kind: journal.EntryUnsentLetter, PromptID: "prompt-needs", Body: "x"}, []string{"entry.prompt_id"}},
		{"unknown kind", journal.Entry{Kind: "poem", Body: "x"}, []string{"entry.kind"}},
		{"mood before -4", journal.Entry{Body: "x", MoodBefore: ptr(-4)}, []string{"entry.mood_before"}},
		{"mood after 3", journal.Entry{Body: "x", MoodAfter: ptr(3)}, nil},
		{"Local zone", journal.Entry{Body: "x", TimeZone: "Local"}, []string{"entry.time_zone"}},
		{"every violation at once", journal.Entry{Kind: journal.EntryPrompt, PromptID: "nope", MoodAfter: ptr(9), TimeZone: "Bad/Zone"},
			[]string{"entry.body", "entry.prompt_id", "entry.mood_after", "entry.time_zone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := journal.NewEntry(tc.in, known, now)
			if got := fields(t, err); !sameFields(got, tc.fields) {
				t.Fatalf("violations = %v, want %v", got, tc.fields)
			}
			if err == nil && (e.Kind == "" || e.CreateTime.IsZero() || e.LocalDate == "") {
				t.Errorf("valid entry lacks defaults: %+v", e)
			}
		})
	}
}

// Sharing is a separate, deliberate act: whatever the request says, an
// entry starts private, unsent letters included.
func TestNewEntry_AlwaysStartsPrivate(t *testing.T) {
	shareTime := now.Add(-time.Hour)
	for _, kind := range []string{journal.EntryFree, journal.EntryUnsentLetter, journal.EntryGratitude, journal.EntrySlipReflection} {
		e, err := journal.NewEntry(journal.Entry{Kind: kind, Body: " dear you ", Shared: true, ShareTime: &shareTime, TimeZone: "Pacific/Auckland"},
			func(string) bool { return false }, now)
		if err != nil {
			t.Fatal(err)
		}
		if e.Shared || e.ShareTime != nil {
			t.Errorf("%s entry created shared (%v, %v), want private", kind, e.Shared, e.ShareTime)
		}
		if e.Body != "dear you" || e.LocalDate != "2026-03-11" {
			t.Errorf("%s entry body %q date %s, want trimmed body and the Auckland date", kind, e.Body, e.LocalDate)
		}
	}
}

func TestEntry_ShareUnshareReportChangesOnce(t *testing.T) {
	e, err := journal.NewEntry(journal.Entry{Body: "x"}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if e.Unshare() {
		t.Fatal("unsharing a private entry reported a change")
	}
	at := now.Add(time.Minute)
	if !e.Share(at) || !e.Shared || e.ShareTime == nil || !e.ShareTime.Equal(at) {
		t.Fatalf("first share: shared=%v time=%v", e.Shared, e.ShareTime)
	}
	if e.Share(at.Add(time.Hour)) || !e.ShareTime.Equal(at) {
		t.Fatalf("second share reported a change or moved the share time to %v", e.ShareTime)
	}
	if !e.Unshare() || e.Shared || e.ShareTime != nil {
		t.Fatalf("unshare: shared=%v time=%v", e.Shared, e.ShareTime)
	}
	if e.Unshare() {
		t.Fatal("second unshare reported a change")
	}
}

func TestNewUrge(t *testing.T) {
	cases := []struct {
		intensity int
		fields    []string
	}{
		{-1, []string{"urge.intensity"}}, {0, nil}, {5, nil}, {10, nil}, {11, []string{"urge.intensity"}},
	}
	for _, tc := range cases {
		resolved := now
		u, err := journal.NewUrge(journal.Urge{Intensity: tc.intensity, TimeZone: "America/Los_Angeles", Outcome: journal.OutcomeContacted, ResolveTime: &resolved}, now)
		if got := fields(t, err); !sameFields(got, tc.fields) {
			t.Errorf("intensity %d: violations = %v, want %v", tc.intensity, got, tc.fields)
		}
		if err == nil && (u.Outcome != "" || u.ResolveTime != nil || u.LocalDate != "2026-03-10") {
			t.Errorf("intensity %d: new urge = %+v, want unresolved on the Los Angeles date", tc.intensity, u)
		}
	}
	_, err := journal.NewUrge(journal.Urge{Intensity: 12, TimeZone: "Local", Note: strings.Repeat("a", 2001)}, now)
	if got := fields(t, err); !sameFields(got, []string{"urge.intensity", "urge.time_zone", "urge.note"}) {
		t.Errorf("every violation at once = %v", got)
	}
}

func TestUrge_Resolve(t *testing.T) {
	newUrge := func(t *testing.T) journal.Urge {
		u, err := journal.NewUrge(journal.Urge{Intensity: 7}, now)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	t.Run("bad outcome is invalid", func(t *testing.T) {
		u := newUrge(t)
		for _, o := range []string{"", "gave in", "RESISTED"} {
			if err := u.Resolve(o, now); !errors.Is(err, journal.ErrInvalid) {
				t.Errorf("Resolve(%q) = %v, want ErrInvalid", o, err)
			}
		}
		if u.Outcome != "" || u.ResolveTime != nil {
			t.Fatalf("a refused outcome changed the urge: %+v", u)
		}
	})
	for _, first := range []string{journal.OutcomeResisted, journal.OutcomeContacted} {
		other := journal.OutcomeContacted
		if first == other {
			other = journal.OutcomeResisted
		}
		t.Run(first, func(t *testing.T) {
			u := newUrge(t)
			at := now.Add(10 * time.Minute)
			if err := u.Resolve(first, at); err != nil || u.Outcome != first || !u.ResolveTime.Equal(at) {
				t.Fatalf("Resolve = %v; outcome %q at %v", err, u.Outcome, u.ResolveTime)
			}
			if err := u.Resolve(first, at.Add(time.Hour)); err != nil || !u.ResolveTime.Equal(at) {
				t.Fatalf("the same outcome again = %v (time %v), want a no-op", err, u.ResolveTime)
			}
			if err := u.Resolve(other, at.Add(time.Hour)); !errors.Is(err, journal.ErrIllegalTransition) {
				t.Fatalf("another outcome = %v, want ErrIllegalTransition", err)
			}
			if u.Outcome != first || !u.ResolveTime.Equal(at) {
				t.Fatalf("a refused change changed the urge: %q at %v", u.Outcome, u.ResolveTime)
			}
		})
	}
}

func flag(status string, escalateAt *time.Time) journal.RiskFlag {
	return journal.RiskFlag{ID: "rf-1", ClientID: "client-1", Reason: "crisis_language", Status: status, RaiseTime: now, EscalateAt: escalateAt}
}

func TestRiskFlag_Acknowledge(t *testing.T) {
	due := now.Add(30 * time.Minute)
	cases := []struct {
		from    string
		changed bool
		illegal bool
	}{
		{journal.FlagRaised, true, false},
		{journal.FlagEscalated, true, false},
		{journal.FlagAcknowledged, false, false},
		{journal.FlagResolved, false, true},
		{journal.FlagDismissed, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.from, func(t *testing.T) {
			f := flag(tc.from, &due)
			at := now.Add(5 * time.Minute)
			changed, err := f.Acknowledge("counsellor-1", at)
			if changed != tc.changed || errors.Is(err, journal.ErrIllegalTransition) != tc.illegal || (err != nil && !tc.illegal) {
				t.Fatalf("Acknowledge from %s = %v, %v; want changed=%v illegal=%v", tc.from, changed, err, tc.changed, tc.illegal)
			}
			if tc.changed {
				if f.Status != journal.FlagAcknowledged || f.AcknowledgedBy != "counsellor-1" || !f.AckTime.Equal(at) || f.EscalateAt != nil {
					t.Fatalf("acknowledged flag = %+v", f)
				}
				if !f.Open() {
					t.Fatal("an acknowledged flag is no longer open")
				}
			} else if f.Status != tc.from {
				t.Fatalf("status moved from %s to %s", tc.from, f.Status)
			}
		})
	}
}

func TestRiskFlag_Close(t *testing.T) {
	due := now.Add(30 * time.Minute)
	for _, from := range []string{journal.FlagRaised, journal.FlagEscalated, journal.FlagAcknowledged, journal.FlagResolved, journal.FlagDismissed} {
		for _, dismiss := range []bool{false, true} {
			f := flag(from, &due)
			changed, err := f.Close(dismiss, now)
			open := from != journal.FlagResolved && from != journal.FlagDismissed
			if !open {
				if changed || !errors.Is(err, journal.ErrIllegalTransition) || f.Status != from {
					t.Errorf("Close(%v) of a %s flag = %v, %v (status %s); want ErrIllegalTransition, unchanged", dismiss, from, changed, err, f.Status)
				}
				continue
			}
			want := journal.FlagResolved
			if dismiss {
				want = journal.FlagDismissed
			}
			if !changed || err != nil || f.Status != want || f.CloseTime == nil || f.EscalateAt != nil || f.Open() {
				t.Errorf("Close(%v) of a %s flag = %v, %v; flag %+v, want %s and closed", dismiss, from, changed, err, f, want)
			}
		}
	}
}

func TestRiskFlag_Escalate(t *testing.T) {
	due := now.Add(30 * time.Minute)
	cases := []struct {
		name       string
		status     string
		escalateAt *time.Time
		at         time.Time
		want       bool
	}{
		{"raised, before due", journal.FlagRaised, &due, due.Add(-time.Second), false},
		{"raised, exactly due", journal.FlagRaised, &due, due, true},
		{"raised, overdue", journal.FlagRaised, &due, due.Add(time.Hour), true},
		{"raised, no escalation time", journal.FlagRaised, nil, due.Add(time.Hour), false},
		{"already escalated", journal.FlagEscalated, &due, due.Add(time.Hour), false},
		{"acknowledged", journal.FlagAcknowledged, &due, due.Add(time.Hour), false},
		{"resolved", journal.FlagResolved, &due, due.Add(time.Hour), false},
		{"dismissed", journal.FlagDismissed, &due, due.Add(time.Hour), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := flag(tc.status, tc.escalateAt)
			if got := f.Escalate(tc.at); got != tc.want {
				t.Fatalf("Escalate = %v, want %v", got, tc.want)
			}
			if tc.want {
				if f.Status != journal.FlagEscalated || !f.EscalateTime.Equal(tc.at) || f.EscalateAt != nil {
					t.Fatalf("escalated flag = %+v", f)
				}
				if f.Escalate(tc.at.Add(time.Hour)) {
					t.Fatal("a flag escalated twice")
				}
			} else if f.Status != tc.status {
				t.Fatalf("status moved from %s to %s", tc.status, f.Status)
			}
		})
	}
}
