package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/events"
	"github.com/nocontact/backend/platform/natsx"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/journal"
	jevents "github.com/nocontact/backend/services/journal/internal/ports/events"
	"github.com/nocontact/backend/services/journal/internal/screening"
)

// path is one way a client's words reach the journal.
type path struct {
	name, sourceKind string
	write            func(t *testing.T, f *fixture, text string) (sourceID string, screen app.Screen)
}

var writePaths = []path{
	{"check-in note", "checkin", func(t *testing.T, f *fixture, text string) (string, app.Screen) {
		ci, s, err := f.journal.RecordCheckIn(context.Background(), client, client.ID, journal.CheckIn{Mood: 0, Note: text}, "US", app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		return ci.ID, s
	}},
	{"journal entry", "entry", func(t *testing.T, f *fixture, text string) (string, app.Screen) {
		e, s, err := f.journal.CreateEntry(context.Background(), client, client.ID, journal.Entry{Kind: journal.EntryFree, Title: "notes", Body: text}, "US", app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		return e.ID, s
	}},
	{"urge note", "urge", func(t *testing.T, f *fixture, text string) (string, app.Screen) {
		ans, err := f.journal.LogUrge(context.Background(), client, client.ID, journal.Urge{Intensity: 3, Note: text}, "US", app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		return ans.Urge.ID, ans.Screen
	}},
	{"slip reflection", "entry", func(t *testing.T, f *fixture, text string) (string, app.Screen) {
		e, s, err := f.journal.CreateEntry(context.Background(), client, client.ID, journal.Entry{Kind: journal.EntrySlipReflection, Body: text}, "US", app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		return e.ID, s
	}},
}

// flagView is what a counsellor sees of a flag, whatever raised it.
type flagView struct {
	reason, category, severity, status string
}

// Check-in notes, entries, urge notes and slip reflections all go through
// the one screener: the same words give, on every path, the same finding,
// crisis resources in the answer (the emergency number first when
// imminent), and the same flag (category, severity, status) once the risk
// consumer has handled the record's event; a LOW finding (the gentle check)
// shows resources and raises no flag.
func TestEveryPathUsesTheOneScreener(t *testing.T) {
	texts := []struct {
		text     string
		severity screening.Severity // what the screener must find, or the case proves nothing
	}{
		{"I am not suicidal, just tired", screening.SeverityLow},
		{"I keep thinking about ending it all", screening.SeverityModerate},
		{"I took the whole bottle of pills an hour ago", screening.SeverityImminent},
	}
	t0 := time.Date(2026, 5, 4, 22, 0, 0, 0, time.UTC)
	for _, tc := range texts {
		top := screening.Screen(tc.text).Top()
		if top.Severity != tc.severity {
			t.Fatalf("the screener finds %q %v, want %v: pick another text", tc.text, top.Severity, tc.severity)
		}
		seen := map[string]flagView{}
		for _, p := range writePaths {
			t.Run(fmt.Sprintf("%s/%s", tc.severity, p.name), func(t *testing.T) {
				f := newFixture(t, t0, "")
				id, screen := p.write(t, f, tc.text)
				if screen.Words.Category != top.Category || screen.Words.Severity != top.Severity {
					t.Errorf("answer's finding = %s/%s, want the screener's %s/%s", screen.Words.Category, screen.Words.Severity, top.Category, top.Severity)
				}
				if !slices.Contains(screen.Reasons, "crisis_language") || len(screen.Resources) < 2 || screen.Message == "" {
					t.Fatalf("answer = %+v, want crisis_language with resources and a message", screen)
				}
				if imminent := screen.Resources[0].Phone == "911"; imminent != (tc.severity == screening.SeverityImminent) {
					t.Errorf("answer leads with %+v; emergency number first = %v, want %v", screen.Resources[0], imminent, tc.severity == screening.SeverityImminent)
				}
				flags := f.openFlags(t)
				if tc.severity < screening.SeverityModerate {
					if len(flags) != 0 {
						t.Errorf("a %s finding raised %+v, want no flag", tc.severity, flags)
					}
					return
				}
				if len(flags) != 1 || flags[0].SourceKind != p.sourceKind || flags[0].SourceID != id {
					t.Fatalf("flags = %+v, want one for %s %s", flags, p.sourceKind, id)
				}
				fl := flags[0]
				got := flagView{fl.Reason, fl.Category, fl.Severity, fl.Status}
				want := flagView{"crisis_language", string(top.Category), top.Severity.String(), journal.FlagRaised}
				if tc.severity == screening.SeverityImminent {
					want.status = journal.FlagEscalated
				}
				if got != want {
					t.Errorf("flag = %+v, want %+v", got, want)
				}
				seen[p.name] = got
			})
		}
		for name, v := range seen {
			if first := seen[writePaths[0].name]; v != first {
				t.Errorf("%q: the %s path's flag %+v differs from the %s path's %+v", tc.text, name, v, writePaths[0].name, first)
			}
		}
	}
}

// An attempt under way escalates at once: the flag is ESCALATED when it is
// raised, with its escalation event (category and severity, no text) for
// the care team's notifications, and the escalation scan has nothing left
// to do; a moderate flag still waits for RISK_ESCALATE_AFTER.
func TestImminentFlagEscalatesAtOnce(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 23, 0, 0, 0, time.UTC)
	f := newFixture(t, t0, "")
	const text = "I have taken all my pills and I am waiting"
	if !screening.Screen(text).Imminent() {
		t.Fatalf("%q no longer screens as imminent: pick another text", text)
	}
	e, screen, err := f.journal.CreateEntry(context.Background(), client, client.ID, journal.Entry{Body: text}, "DE", app.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	if screen.Resources[0].Phone != "112" || screen.Resources[0].Name != "Emergency services" {
		t.Fatalf("imminent answer leads with %+v, want the emergency number 112 for DE", screen.Resources[0])
	}
	flags := f.openFlags(t)
	if len(flags) != 1 || flags[0].Status != journal.FlagEscalated || flags[0].EscalateTime == nil || !flags[0].EscalateTime.Equal(t0) ||
		flags[0].EscalateAt != nil || flags[0].Severity != "imminent" || flags[0].SourceID != e.ID {
		t.Fatalf("flags = %+v, want one imminent flag escalated at %v", flags, t0)
	}
	raised := f.published(t, "journal.risk.flag_raised")
	if len(raised) != 1 || raised[0].GetRiskFlagRaised().GetSeverity() != journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT ||
		raised[0].GetRiskFlagRaised().GetCategory() != journalv1.RiskCategory_RISK_CATEGORY_ATTEMPT {
		t.Fatalf("flag_raised events = %v, want one imminent attempt", raised)
	}
	updated := f.published(t, "journal.risk.flag_updated")
	if len(updated) != 1 || updated[0].GetRiskFlagUpdated().GetStatus() != journalv1.RiskFlagStatus_RISK_FLAG_STATUS_ESCALATED ||
		updated[0].GetRiskFlagUpdated().GetSeverity() != journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT {
		t.Fatalf("flag_updated events = %v, want one ESCALATED imminent", updated)
	}
	f.clk.Set(t0.Add(2 * escalateAfter))
	if n, err := f.journal.EscalateDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("escalation scan escalated %d, %v; want nothing left", n, err)
	}
}

// The safety step is never dropped. The check-in's low-mood read fails in
// the request: the call still answers OK with the resources its words call
// for. The risk consumer (natsx.Consume on the journal's own event, as the
// server runs it) meets a failing low-mood read and then a failing flag
// write, retries, and ends with exactly one crisis flag and one low-mood
// flag; handling the event once more changes nothing.
func TestSafetyStepSurvivesFailures(t *testing.T) {
	ctx := context.Background()
	zone := "Europe/Berlin"
	t0 := time.Date(2026, 5, 4, 20, 0, 0, 0, time.UTC)
	f := newFixture(t, t0, "")
	for d := 2; d >= 1; d-- {
		if _, _, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: -3, TimeZone: zone, OccurredAt: t0.AddDate(0, 0, -d)}, "DE", app.RequestKey{}); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	failedReads, writes := 0, 0
	errInjected := errors.New("injected: the store did not answer")
	f.journal.SetBeforeLowMood(func(phase string) error {
		mu.Lock()
		defer mu.Unlock()
		if phase == "answer" {
			return errInjected // every request's read fails
		}
		if failedReads == 0 {
			failedReads++
			return errInjected // and the consumer's first
		}
		return nil
	})
	f.journal.SetBeforeFlagWrite(func(string) error {
		mu.Lock()
		defer mu.Unlock()
		writes++
		if writes == 2 {
			return errInjected // the second flag of the first full pass
		}
		return nil
	})

	ci, screen, err := f.journal.RecordCheckIn(ctx, client, client.ID, journal.CheckIn{Mood: -3, Note: "I keep thinking about ending it all", TimeZone: zone}, "DE", app.RequestKey{})
	if err != nil {
		t.Fatalf("RecordCheckIn with a failing low-mood read = %v, want OK", err)
	}
	if !slices.Equal(screen.Reasons, []string{"crisis_language"}) || len(screen.Resources) < 2 || screen.Resources[0].CountryCode != "DE" {
		t.Fatalf("answer = %+v, want crisis_language with the DE lines", screen)
	}

	// The consumer as the server runs it, fast retries; a positive signal
	// per event handled.
	if _, err := f.relay.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 16)
	handle := jevents.RiskHandler(f.journal)
	spec := jevents.RiskSpec
	spec.RetryDelay = 5 * time.Millisecond
	cctx, cancel := context.WithCancel(ctx)
	stop, err := natsx.Consume(cctx, f.js, spec, func(ctx context.Context, msg jetstream.Msg) error {
		if err := handle(ctx, msg); err != nil {
			return err
		}
		env, err := events.Decode(msg.Data())
		if err != nil {
			return err
		}
		done <- env.GetCheckInRecorded().GetCheckInId()
		return nil
	}, quiet)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { stop(); cancel() }()
	deadline := time.After(20 * time.Second)
	for handled := false; !handled; {
		select {
		case id := <-done:
			handled = id == ci.ID
		case <-deadline:
			t.Fatal("the risk consumer never handled the crisis check-in")
		}
	}
	mu.Lock()
	if failedReads != 1 || writes < 3 {
		t.Errorf("failed reads %d, flag writes tried %d: the failures were not met (the test proves nothing)", failedReads, writes)
	}
	mu.Unlock()

	check := func(when string) {
		t.Helper()
		all, err := f.journal.ListRiskFlags(ctx, client, client.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, fl := range all {
			if fl.SourceID != ci.ID {
				t.Errorf("%s: flag %+v from another record", when, fl)
			}
			reasons = append(reasons, fl.Reason)
		}
		slices.Sort(reasons)
		if !slices.Equal(reasons, []string{"crisis_language", "low_mood_streak"}) {
			t.Fatalf("%s: flags %v, want one crisis_language and one low_mood_streak", when, reasons)
		}
	}
	check("after the retries")
	// A redelivery of every event (another durable reads them all again).
	f.settle(t)
	check("after a redelivery")
}

// The suite's one high-urge threshold: one below it is an ordinary urge,
// at it the answer has crisis resources and a HIGH_URGE flag follows
// (notify's counterpart: TestHighUrgeThresholdIsTheJournals).
func TestHighUrgeAtTheSharedThreshold(t *testing.T) {
	if screening.HighUrgeThreshold != events.HighUrgeIntensity {
		t.Fatalf("screening.HighUrgeThreshold %d differs from events.HighUrgeIntensity %d", screening.HighUrgeThreshold, events.HighUrgeIntensity)
	}
	for _, tc := range []struct {
		intensity int
		high      bool
	}{{events.HighUrgeIntensity - 1, false}, {events.HighUrgeIntensity, true}} {
		t.Run(fmt.Sprint(tc.intensity), func(t *testing.T) {
			f := newFixture(t, time.Date(2026, 5, 4, 21, 0, 0, 0, time.UTC), "")
			ans, err := f.journal.LogUrge(context.Background(), client, client.ID, journal.Urge{Intensity: tc.intensity}, "GB", app.RequestKey{})
			if err != nil {
				t.Fatal(err)
			}
			flags := f.openFlags(t)
			gotHigh := slices.Contains(ans.Screen.Reasons, "high_urge") && len(ans.Screen.Resources) > 0
			gotFlag := len(flags) == 1 && flags[0].Reason == "high_urge" && flags[0].Severity == "moderate"
			if gotHigh != tc.high || gotFlag != tc.high || (!tc.high && len(flags) != 0) {
				t.Fatalf("intensity %d: answer %+v, flags %+v; want high = %v", tc.intensity, ans.Screen, flags, tc.high)
			}
		})
	}
}
