package app_test

// The care team's views (the counsellor's roster rows and a client's
// detail page) against embedded FerretDB and JetStream, with the plans
// answer from careTeam.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/testenv"
	"github.com/nocontact/backend/services/journal/internal/app"
	"github.com/nocontact/backend/services/journal/internal/insights"
	"github.com/nocontact/backend/services/journal/internal/journal"
)

func clientCaller(id string) app.Caller {
	return app.Caller{ID: id, Role: auth.RoleClient, RequestID: "req-" + id}
}

// checkIn records a check-in of clientID now (the fake clock) in tz.
func (f *fixture) checkIn(t *testing.T, clientID, tz string, mood int, kind string, triggers ...string) {
	t.Helper()
	if _, _, err := f.journal.RecordCheckIn(context.Background(), clientCaller(clientID), clientID,
		journal.CheckIn{TimeZone: tz, Mood: mood, Kind: kind, Triggers: triggers, Note: "private words"}, "", app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) urge(t *testing.T, clientID string, intensity int, trigger string) {
	t.Helper()
	if _, err := f.journal.LogUrge(context.Background(), clientCaller(clientID), clientID,
		journal.Urge{Intensity: intensity, Trigger: trigger, TimeZone: "Europe/Berlin"}, "", app.RequestKey{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) summaries(t *testing.T, c app.Caller, ids ...string) map[string]app.CareSummary {
	t.Helper()
	list, err := f.journal.BatchSummaries(context.Background(), c, ids, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]app.CareSummary{}
	for _, s := range list {
		out[s.ClientID] = s
	}
	return out
}

// accessEvents is every journal.access.recorded event as
// "actor action client ALLOWED|DENIED".
func (f *fixture) accessEvents(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, e := range f.published(t, "journal.access.recorded") {
		a := e.GetAccessRecorded()
		out = append(out, fmt.Sprintf("%s %s %s %s", a.GetActorId(), a.GetAction(), e.GetClientId(), map[bool]string{true: "ALLOWED", false: "DENIED"}[a.GetAllowed()]))
	}
	slices.Sort(out)
	return out
}

// A counsellor sees each part of a row only under its consent scope.
func TestCareSummaryShowsOnlyTheConsentedScopes(t *testing.T) {
	f := newFixture(t, time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC), "")
	f.team.set("c-mood", counsellor.ID, app.ScopeMoodInsights)
	f.team.set("c-risk", counsellor.ID, app.ScopeRiskAlerts)
	f.team.set("c-plan", counsellor.ID, app.ScopePlanProgress)
	for _, id := range []string{"c-mood", "c-risk", "c-plan"} {
		f.checkIn(t, id, "Europe/Berlin", -1, "daily")
		f.urge(t, id, 10, "photos")
	}
	f.settle(t)

	got := f.summaries(t, counsellor, "c-mood", "c-risk", "c-plan")
	if s := got["c-mood"]; s.Mood == nil || s.Risk != nil || s.LastActivity != nil || s.Mood.LatestMood == nil || *s.Mood.LatestMood != -1 || s.Mood.Urges7d != 1 {
		t.Errorf("MOOD_INSIGHTS only: %+v (mood %+v), want mood and nothing else", s, s.Mood)
	}
	if s := got["c-risk"]; s.Risk == nil || s.Mood != nil || s.LastActivity != nil || s.Risk.Open != 1 || s.Risk.Unacknowledged != 1 {
		t.Errorf("RISK_ALERTS only: %+v (risk %+v), want one open flag and nothing else", s, s.Risk)
	}
	if s := got["c-plan"]; s.LastActivity == nil || s.Mood != nil || s.Risk != nil || !s.LastActivity.Equal(f.clk.Now().Truncate(time.Millisecond)) {
		t.Errorf("PLAN_PROGRESS only: %+v, want the last activity and nothing else", s)
	}
}

// Revoking a consent empties the row on the very next call, and the
// attempt is logged DENIED.
func TestCareSummaryRevocationHoldsAtOnce(t *testing.T) {
	f := newFixture(t, time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC), "")
	f.careTeam(t, app.ScopeMoodInsights)
	f.checkIn(t, client.ID, "UTC", 2, "daily")
	if got := f.summaries(t, counsellor, client.ID); got[client.ID].Mood == nil {
		t.Fatalf("before revocation: %+v, want mood", got)
	}
	f.team.set(client.ID, counsellor.ID)
	if got := f.summaries(t, counsellor, client.ID); len(got) != 0 {
		t.Fatalf("after revocation: %+v, want no row", got)
	}
	want := []string{
		"counsellor-1 BatchGetJournalSummaries client-1 ALLOWED",
		"counsellor-1 BatchGetJournalSummaries client-1 DENIED",
	}
	if got := f.accessEvents(t); !slices.Equal(got, want) {
		t.Fatalf("access records = %v, want %v", got, want)
	}
}

// A client of another counsellor is left out, with a DENIED record, and
// the whole batch asked plans once; an admin sees no health data.
func TestCareSummaryLeavesOutAnotherCounsellorsClient(t *testing.T) {
	f := newFixture(t, time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC), "")
	f.team.set("c-mine", counsellor.ID, app.ScopeMoodInsights, app.ScopeRiskAlerts, app.ScopePlanProgress)
	f.team.set("c-theirs", stranger.ID, app.ScopeMoodInsights, app.ScopeRiskAlerts, app.ScopePlanProgress)
	f.checkIn(t, "c-mine", "UTC", 1, "daily")
	f.checkIn(t, "c-theirs", "UTC", 1, "daily")

	got := f.summaries(t, counsellor, "c-theirs", "c-mine")
	if _, ok := got["c-theirs"]; ok || len(got) != 1 {
		t.Fatalf("rows = %v, want c-mine only", got)
	}
	if n := f.team.batchCalls(); n != 1 {
		t.Errorf("CheckCareAccess calls = %d, want 1", n)
	}
	if got := f.summaries(t, admin, "c-mine"); len(got) != 0 {
		t.Errorf("admin rows = %v, want none", got)
	}
	want := []string{
		"admin-1 BatchGetJournalSummaries c-mine DENIED",
		"counsellor-1 BatchGetJournalSummaries c-mine ALLOWED",
		"counsellor-1 BatchGetJournalSummaries c-theirs DENIED",
	}
	if got := f.accessEvents(t); !slices.Equal(got, want) {
		t.Fatalf("access records = %v, want %v", got, want)
	}
}

// Missed daily check-ins count local days up to yesterday, from the first
// check-in on, across a DST change and a time-zone move.
func TestMissedCheckInsInARowFollowLocalDays(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	la, _ := time.LoadLocation("America/Los_Angeles")
	type ci struct {
		at   time.Time
		tz   string
		kind string
	}
	cases := []struct {
		name string
		cis  []ci
		now  time.Time
		want int
	}{
		{
			// Clocks go back on 25 October 2026 in Berlin: 24, 25, 26, 27
			// are missed, each once, whatever the day's length.
			name: "across the DST change",
			cis:  []ci{{time.Date(2026, 10, 22, 21, 0, 0, 0, berlin), "Europe/Berlin", "daily"}, {time.Date(2026, 10, 23, 23, 30, 0, 0, berlin), "Europe/Berlin", "daily"}},
			now:  time.Date(2026, 10, 28, 0, 30, 0, 0, berlin), want: 4,
		},
		{
			name: "checked in yesterday",
			cis:  []ci{{time.Date(2026, 10, 27, 23, 59, 0, 0, berlin), "Europe/Berlin", "daily"}},
			now:  time.Date(2026, 10, 28, 0, 1, 0, 0, berlin), want: 0,
		},
		{
			// A momentary check-in is no daily one, but the count starts
			// at the first check-in of any kind.
			name: "momentary only, from the first",
			cis:  []ci{{time.Date(2026, 10, 25, 12, 0, 0, 0, berlin), "Europe/Berlin", "momentary"}},
			now:  time.Date(2026, 10, 28, 9, 0, 0, 0, berlin), want: 3,
		},
		{
			// The latest check-in is in Tokyo: today is Tokyo's 28th
			// (still the 27th in Los Angeles, where the last daily one,
			// on the 26th, was made).
			name: "after a move to Tokyo",
			cis: []ci{
				{time.Date(2026, 10, 26, 20, 0, 0, 0, la), "America/Los_Angeles", "daily"},
				{time.Date(2026, 10, 28, 8, 0, 0, 0, tokyo), "Asia/Tokyo", "momentary"},
			},
			now: time.Date(2026, 10, 28, 9, 0, 0, 0, tokyo), want: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cis[0].at, "")
			f.careTeam(t, app.ScopeMoodInsights)
			for _, c := range tc.cis {
				f.clk.Set(c.at)
				f.checkIn(t, client.ID, c.tz, 0, c.kind)
			}
			f.clk.Set(tc.now)
			s := f.summaries(t, counsellor, client.ID)[client.ID]
			if s.Mood == nil || s.Mood.MissedInARow != tc.want {
				t.Fatalf("mood = %+v, want %d missed in a row", s.Mood, tc.want)
			}
		})
	}
}

// The trend compares the later days of the week with the earlier ones.
func TestMoodTrendFallsAndRises(t *testing.T) {
	for _, tc := range []struct {
		name  string
		moods []int // one a day, the last today
		want  insights.Trend
	}{
		{"falling", []int{2, 2, 1, -1, -2, -2}, insights.TrendFalling},
		{"rising", []int{-2, -1, -1, 1, 2}, insights.TrendRising},
		{"steady", []int{1, 0, 1, 1}, insights.TrendSteady},
		{"one day is no trend", []int{-3}, insights.TrendUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			f := newFixture(t, start, "")
			f.careTeam(t, app.ScopeMoodInsights)
			for i, m := range tc.moods {
				f.clk.Set(start.AddDate(0, 0, i))
				f.checkIn(t, client.ID, "UTC", m, "daily")
			}
			s := f.summaries(t, counsellor, client.ID)[client.ID]
			if s.Mood == nil || s.Mood.Trend != tc.want {
				t.Fatalf("mood = %+v, want trend %v", s.Mood, tc.want)
			}
		})
	}
}

// The detail shows shared entries only, newest first, the 30-day series
// and the triggers around a slip; private words never.
func TestCareDetailShowsSharedEntriesOnlyAndTheSeries(t *testing.T) {
	now := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, now.Add(-48*time.Hour), "")
	f.careTeam(t, app.ScopeMoodInsights, app.ScopeSharedJournal, app.ScopeRiskAlerts)
	ctx := context.Background()
	slip := now.Add(-36 * time.Hour)
	f.checkIn(t, client.ID, "Europe/Berlin", -2, "daily", "photos", "music")
	f.urge(t, client.ID, 7, "photos")
	f.clk.Set(now)
	f.checkIn(t, client.ID, "Europe/Berlin", 1, "daily", "alcohol")
	var shared []string
	for i, kind := range []string{journal.EntryFree, journal.EntryUnsentLetter, journal.EntryFree, journal.EntryGratitude} {
		f.clk.Set(now.Add(time.Duration(i) * time.Minute))
		e, _, err := f.journal.CreateEntry(ctx, client, client.ID, journal.Entry{Kind: kind, Body: fmt.Sprintf("entry %d", i), TimeZone: "Europe/Berlin"}, "", app.RequestKey{})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := f.journal.SetShared(ctx, client, client.ID, e.ID, true); err != nil {
				t.Fatal(err)
			}
			shared = append([]string{e.ID}, shared...)
		}
	}
	d, err := f.journal.CareDetailOf(ctx, counsellor, client.ID, []time.Time{slip}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range d.SharedEntries {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, shared) {
		t.Errorf("shared entries = %v, want %v (shared ones, newest first)", got, shared)
	}
	if len(d.Days) != 30 || d.Days[29].LocalDate != "2026-05-20" || d.TimeZone != "Europe/Berlin" {
		t.Fatalf("days = %d ending %v in %s, want 30 ending 2026-05-20 in Europe/Berlin", len(d.Days), d.Days[len(d.Days)-1], d.TimeZone)
	}
	if day := d.Days[27]; day.CheckIns != 1 || day.Urges != 1 || day.MaxUrge == nil || *day.MaxUrge != 7 || *day.MoodAverage != -2 {
		t.Errorf("2026-05-18 = %+v, want one check-in at -2 and one urge of 7", day)
	}
	want := []insights.TriggerCount{{Trigger: "photos", Count: 2}, {Trigger: "music", Count: 1}}
	if !slices.Equal(d.SlipTriggers, want) {
		t.Errorf("slip triggers = %v, want %v (the alcohol of today is 36 h after)", d.SlipTriggers, want)
	}

	// Without SHARED_JOURNAL, no entry at all; with nothing, NotFound.
	f.careTeam(t, app.ScopeMoodInsights)
	if d, err := f.journal.CareDetailOf(ctx, counsellor, client.ID, nil, false); err != nil || len(d.SharedEntries) != 0 || d.Flags != nil {
		t.Errorf("mood only: %d entries, flags %v, %v; want none", len(d.SharedEntries), d.Flags, err)
	}
	f.careTeam(t)
	if _, err := f.journal.CareDetailOf(ctx, counsellor, client.ID, nil, false); !isNotFound(err) {
		t.Errorf("no scope = %v, want NotFound", err)
	}
}

// The number of store queries does not grow with the number of clients,
// and each request asks plans once.
func TestCareViewsQueryTheStoreAConstantNumberOfTimes(t *testing.T) {
	f := newFixture(t, time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC), "")
	var ids []string
	for i := range 50 {
		id := fmt.Sprintf("c-%02d", i)
		ids = append(ids, id)
		f.team.set(id, counsellor.ID, app.ScopeMoodInsights, app.ScopeRiskAlerts, app.ScopePlanProgress)
		f.checkIn(t, id, "UTC", i%7-3, "daily")
		if i%5 == 0 {
			f.urge(t, id, 4, "music")
		}
	}
	count := func(n int) int64 {
		commands := testenv.Commands(f.db) // every round trip to the journal's database
		before := f.team.batchCalls()
		if got := f.summaries(t, counsellor, ids[:n]...); len(got) != n {
			t.Fatalf("%d rows for %d clients", len(got), n)
		}
		if calls := f.team.batchCalls() - before; calls != 1 {
			t.Errorf("CheckCareAccess calls for %d clients = %d, want 1", n, calls)
		}
		return commands()
	}
	five, fifty := count(5), count(50)
	if five != fifty || five == 0 {
		t.Fatalf("store queries: %d for 5 clients, %d for 50; want the same", five, fifty)
	}
	t.Logf("%d store queries per batch", five)
}

// as_care_team is a client's own preview; anyone else setting it is a bad
// request naming the field.
func TestAsCareTeamIsTheClientsPreviewOnly(t *testing.T) {
	f := newFixture(t, time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC), "")
	f.careTeam(t, app.ScopeMoodInsights)
	f.checkIn(t, client.ID, "UTC", 2, "daily")
	ctx := context.Background()
	for _, c := range []app.Caller{counsellor, admin} {
		_, err := f.journal.BatchSummaries(ctx, c, []string{client.ID}, true)
		var ae *apperr.Error
		if !errors.As(err, &ae) || !errors.Is(err, apperr.KindInvalidArgument) || len(ae.Violations()) != 1 || ae.Violations()[0].Field != "as_care_team" {
			t.Errorf("%s with as_care_team = %v, want InvalidArgument naming as_care_team", c.Role, err)
		}
	}
	if _, err := f.journal.BatchSummaries(ctx, client, []string{client.ID, "someone-else"}, true); !errors.Is(err, apperr.KindInvalidArgument) {
		t.Errorf("client naming another with as_care_team = %v, want InvalidArgument", err)
	}
	before := f.team.batchCalls()
	list, err := f.journal.BatchSummaries(ctx, client, []string{client.ID}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Mood == nil || list[0].Risk != nil || list[0].LastActivity != nil {
		t.Fatalf("preview = %+v, want the mood part only (what the care team sees)", list)
	}
	if n := f.team.batchCalls() - before; n != 1 {
		t.Errorf("CheckCareAccess calls = %d, want 1", n)
	}
	// Without the flag the client sees all of their own.
	own, err := f.journal.BatchSummaries(ctx, client, []string{client.ID}, false)
	if err != nil || len(own) != 1 || own[0].Risk == nil || own[0].LastActivity == nil {
		t.Fatalf("own row = %+v, %v; want every part", own, err)
	}
}
