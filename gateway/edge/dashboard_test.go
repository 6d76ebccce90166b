package edge

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
)

const rosterPath = "/v1/dashboard/roster"

func day(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// mixedRoster is one client per need group, and ties inside groups.
func mixedRoster(s *dashStack) {
	active := testNow.Add(-2 * time.Hour)
	for _, c := range []client{
		{id: "c-rest-b", scopes: allGranted, streak: 9, lastActive: active, trend: journalv1.MoodTrend_MOOD_TREND_RISING},
		{id: "c-rest-a", scopes: allGranted, streak: 4, lastActive: active, trend: journalv1.MoodTrend_MOOD_TREND_STEADY},
		{id: "c-silent-a-8d", scopes: allGranted, lastActive: testNow.Add(-day(8))},
		{id: "c-silent-b-12d", scopes: allGranted, lastActive: testNow.Add(-day(12))},
		{id: "c-quiet", scopes: allGranted, lastActive: testNow.Add(-day(4))},
		{id: "c-falling", scopes: allGranted, lastActive: active, trend: journalv1.MoodTrend_MOOD_TREND_FALLING},
		{id: "c-slip-6d-ago", scopes: allGranted, slips: 1, lastSlip: testNow.Add(-day(6)), lastActive: active},
		{id: "c-slip-yesterday", scopes: allGranted, slips: 2, lastSlip: testNow.Add(-day(1)), lastActive: active,
			trend: journalv1.MoodTrend_MOOD_TREND_FALLING},
		{id: "c-risk-moderate", scopes: allGranted, flags: 2, unacked: 2, severity: journalv1.RiskSeverity_RISK_SEVERITY_MODERATE, lastActive: active},
		{id: "c-risk-high", scopes: allGranted, flags: 2, severity: journalv1.RiskSeverity_RISK_SEVERITY_HIGH, lastActive: active,
			slips: 1, lastSlip: testNow.Add(-day(1))},
		{id: "c-risk-imminent", scopes: allGranted, flags: 1, unacked: 1, severity: journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT, lastActive: active},
		// Granted only PLAN_PROGRESS: a streak, no mood, no flags.
		{id: "c-progress-only", scopes: []plansv1.ConsentScope{plansv1.ConsentScope_PLAN_PROGRESS}, streak: 7, lastActive: active},
	} {
		s.add(c)
	}
}

func TestDashboardRosterIsOrderedByNeed(t *testing.T) {
	s := newDashStack(t, stackOpts{})
	mixedRoster(s)
	code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	rows := rowsOf(t, body)
	want := []string{
		"c-risk-imminent", "c-risk-high", "c-risk-moderate", // by severity
		"c-slip-yesterday", "c-slip-6d-ago", // latest slip first
		"c-falling",
		"c-silent-b-12d", "c-silent-a-8d", // longest silence first
		"c-progress-only", "c-quiet", "c-rest-a", "c-rest-b", // by client id
	}
	if got := ids(rows); !slices.Equal(got, want) {
		t.Fatalf("order:\n got %v\nwant %v", got, want)
	}
	needs := map[string]string{}
	bands := map[string]string{}
	for _, r := range rows {
		needs[r["clientId"].(string)] = r["need"].(string)
		bands[r["clientId"].(string)] = r["recency"].(string)
	}
	for id, want := range map[string]string{
		"c-risk-high": "NEED_REASON_RISK_FLAG", "c-slip-yesterday": "NEED_REASON_RECENT_SLIP",
		"c-falling": "NEED_REASON_FALLING_MOOD", "c-silent-a-8d": "NEED_REASON_SILENCE", "c-quiet": "NEED_REASON_UNSPECIFIED",
	} {
		if needs[id] != want {
			t.Errorf("%s: need %s, want %s", id, needs[id], want)
		}
	}
	for id, want := range map[string]string{
		"c-rest-a": "RECENCY_BAND_RECENT", "c-quiet": "RECENCY_BAND_QUIET", "c-silent-a-8d": "RECENCY_BAND_SILENT",
	} {
		if bands[id] != want {
			t.Errorf("%s: recency %s, want %s", id, bands[id], want)
		}
	}
	if got := body["unavailable"].([]any); len(got) != 0 {
		t.Errorf("unavailable = %v with every service up", got)
	}
}

// A client who granted only PLAN_PROGRESS shows a streak and nothing of
// the other scopes: the keys are absent from the JSON (not null, not 0),
// although the gateway writes unpopulated fields; the missing scopes are
// named. The journal here answers mood and flags it should not have: the
// gateway drops them too.
func TestDashboardFieldsOutsideTheGrantedScopesAreAbsentFromTheJSON(t *testing.T) {
	s := newDashStack(t, stackOpts{})
	s.add(client{id: "c-progress-only", scopes: []plansv1.ConsentScope{plansv1.ConsentScope_PLAN_PROGRESS}, streak: 7,
		lastActive: testNow.Add(-time.Hour)})
	s.add(client{id: "c-nothing", scopes: nil})
	s.journal.mu.Lock()
	s.journal.summaries["c-progress-only"].Mood = &journalv1.MoodCareSummary{LatestMood: i32(-3), Trend: journalv1.MoodTrend_MOOD_TREND_FALLING}
	s.journal.summaries["c-progress-only"].Risk = &journalv1.RiskCareSummary{OpenFlags: 3, HighestSeverity: journalv1.RiskSeverity_RISK_SEVERITY_IMMINENT}
	s.journal.mu.Unlock()

	code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	rows := rowsOf(t, body)
	byID := map[string]map[string]any{}
	for _, r := range rows {
		byID[r["clientId"].(string)] = r
	}
	p := byID["c-progress-only"]
	if p["currentStreakDays"] != float64(7) || p["planStatus"] != "PLAN_STATUS_ACTIVE" || p["lastActivityTime"] == nil {
		t.Errorf("PLAN_PROGRESS fields missing: %v", p)
	}
	for _, key := range []string{"latestMood", "moodTrend", "urgesLast7Days", "missedCheckinsInARow",
		"openRiskFlags", "highestRiskSeverity", "unacknowledgedRiskFlags"} {
		if v, ok := p[key]; ok {
			t.Errorf("c-progress-only: %s = %v reached the JSON without its scope", key, v)
		}
	}
	if fmt.Sprint(p["missingScopes"]) != "[MOOD_INSIGHTS SHARED_JOURNAL RISK_ALERTS]" {
		t.Errorf("missingScopes = %v", p["missingScopes"])
	}
	if p["need"] != "NEED_REASON_UNSPECIFIED" {
		t.Errorf("need = %v: a flag outside the scopes must not order the row", p["need"])
	}
	n := byID["c-nothing"]
	for _, key := range []string{"planStatus", "currentStreakDays", "nextMilestoneDay", "nextMilestoneTime", "slipsLast14Days",
		"hardDateAhead", "lastActivityTime", "daysSinceActivity", "timeZone", "latestMood", "openRiskFlags", "reviewTime"} {
		if v, ok := n[key]; ok {
			t.Errorf("c-nothing: %s = %v is in the JSON", key, v)
		}
	}
	if n["recency"] != "RECENCY_BAND_UNSPECIFIED" || n["unreadNotifications"] != float64(0) {
		t.Errorf("c-nothing: recency %v, unread %v", n["recency"], n["unreadNotifications"])
	}
}

func TestDashboardJournalDownAnswersWithoutIt(t *testing.T) {
	s := newDashStack(t, stackOpts{journalDown: true})
	mixedRoster(s)
	code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
	assertJournalLeftOut(t, code, body)
}

// The journal blocks until the call's own deadline ends (or the test
// does): the roster answers at that deadline without it.
func TestDashboardJournalPastItsDeadlineAnswersWithoutIt(t *testing.T) {
	s := newDashStack(t, stackOpts{journalTimeout: 200 * time.Millisecond})
	s.journal.mode = blocked
	mixedRoster(s)
	code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
	assertJournalLeftOut(t, code, body)
}

func assertJournalLeftOut(t *testing.T, code int, body map[string]any) {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200 with a partial answer: %v", code, body)
	}
	if fmt.Sprint(body["unavailable"]) != "[SERVICE_JOURNAL]" {
		t.Fatalf("unavailable = %v, want [SERVICE_JOURNAL]", body["unavailable"])
	}
	rows := rowsOf(t, body)
	if len(rows) != 12 {
		t.Fatalf("%d rows, want all 12 from plans", len(rows))
	}
	for _, r := range rows {
		if _, ok := r["currentStreakDays"]; !ok {
			t.Errorf("%v: the plans fields are missing", r["clientId"])
		}
		if _, ok := r["latestMood"]; ok {
			t.Errorf("%v: a journal field without the journal", r["clientId"])
		}
		if _, ok := r["unreadNotifications"]; !ok {
			t.Errorf("%v: notify's field is missing", r["clientId"])
		}
	}
	// Without the journal, the slips still order the roster.
	if got := ids(rows)[:3]; !slices.Equal(got, []string{"c-risk-high", "c-slip-yesterday", "c-slip-6d-ago"}) {
		t.Errorf("first rows %v", got)
	}
}

func TestDashboardPlansDownAnswersAnEmptyRoster(t *testing.T) {
	s := newDashStack(t, stackOpts{plansDown: true})
	mixedRoster(s)
	code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200: %v", code, body)
	}
	if fmt.Sprint(body["unavailable"]) != "[SERVICE_PLANS]" || len(rowsOf(t, body)) != 0 {
		t.Fatalf("got %v, want no rows and unavailable [SERVICE_PLANS]", body)
	}
	calls := s.calls()
	if calls["journal BatchGetJournalSummaries"] != 0 || calls["notify BatchGetNotificationSummaries"] != 0 {
		t.Errorf("calls %v: nobody to ask about without plans", calls)
	}
}

// Up to 500 clients (the services' batch limit) the roster makes exactly
// one call per service; beyond, journal and notify are asked in chunks of
// 500 (501 clients: two calls each), plans still once.
// Plans past its own deadline: the same empty roster naming plans, at
// that deadline (not at the request's, 10s).
func TestDashboardPlansPastItsDeadlineAnswersAnEmptyRoster(t *testing.T) {
	s := newDashStack(t, stackOpts{plansTimeout: 200 * time.Millisecond})
	s.care.mode = blocked
	mixedRoster(s)
	code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusOK || fmt.Sprint(body["unavailable"]) != "[SERVICE_PLANS]" || len(rowsOf(t, body)) != 0 {
		t.Fatalf("status %d: %v, want 200, no rows, unavailable [SERVICE_PLANS]", code, body)
	}
}

func TestDashboardNotifyDownAnswersWithoutIt(t *testing.T) {
	s := newDashStack(t, stackOpts{notifyDown: true})
	mixedRoster(s)
	code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusOK || fmt.Sprint(body["unavailable"]) != "[SERVICE_NOTIFY]" {
		t.Fatalf("status %d: %v", code, body)
	}
	rows := rowsOf(t, body)
	if len(rows) != 12 || ids(rows)[0] != "c-risk-imminent" {
		t.Fatalf("rows %v", ids(rows))
	}
	for _, r := range rows {
		if _, ok := r["unreadNotifications"]; ok {
			t.Errorf("%v: notify's field without notify", r["clientId"])
		}
		if _, ok := r["latestMood"]; !ok && r["clientId"] != "c-progress-only" {
			t.Errorf("%v: the journal's field is missing", r["clientId"])
		}
	}
}

func TestDashboardRosterMakesOneCallPerServiceWhateverItsSize(t *testing.T) {
	for _, n := range []int{10, 200, 501} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := newDashStack(t, stackOpts{})
			for i := range n {
				s.add(client{id: fmt.Sprintf("c-%03d", i), scopes: allGranted, lastActive: testNow.Add(-time.Hour)})
			}
			code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor))
			if code != http.StatusOK || len(rowsOf(t, body)) != n {
				t.Fatalf("status %d, %d rows", code, len(rowsOf(t, body)))
			}
			chunks := float64((n + 499) / 500)
			want := map[string]float64{
				"plans BatchGetCareSummaries":          1,
				"journal BatchGetJournalSummaries":     chunks,
				"notify BatchGetNotificationSummaries": chunks,
			}
			if got := s.calls(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("calls for %d clients: %v, want %v", n, got, want)
			}
		})
	}
}

func TestDashboardCallerErrorsKeepTheirStatus(t *testing.T) {
	s := newDashStack(t, stackOpts{})
	mixedRoster(s)

	// A bad token is refused at the edge: nothing is called.
	if code, body := s.get(rosterPath, "not-a-token"); code != http.StatusUnauthorized {
		t.Errorf("bad token: %d %v, want 401", code, body)
	}
	if code, _ := s.get(rosterPath, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if calls := s.calls(); len(calls) != 0 {
		t.Errorf("calls %v after refused tokens", calls)
	}
	// A client has no roster: plans' PermissionDenied stays a 403, not an
	// empty roster with plans "unavailable".
	if code, body := s.get(rosterPath, s.token("c-1", auth.RoleClient)); code != http.StatusForbidden {
		t.Errorf("client: %d %v, want 403", code, body)
	}
	// A journal refusing the caller is not a partial answer either.
	s.journal.mu.Lock()
	s.journal.refuse = apperr.PermissionDenied("no")
	s.journal.mu.Unlock()
	if code, body := s.get(rosterPath, s.token("k-1", auth.RoleCounsellor)); code != http.StatusForbidden {
		t.Errorf("journal refusing: %d %v, want 403", code, body)
	}
	// The query is parsed as strictly as on every route.
	if code, body := s.get(rosterPath+"?changedSinceReviw=true", s.token("k-1", auth.RoleCounsellor)); code != http.StatusBadRequest {
		t.Errorf("unknown parameter: %d %v, want 400", code, body)
	}
}

func TestDashboardChangedSinceReviewFilter(t *testing.T) {
	s := newDashStack(t, stackOpts{})
	mark := testNow.Add(-day(2))
	for _, c := range []client{
		{id: "c-never-reviewed", scopes: allGranted, lastActive: testNow.Add(-day(5))},
		{id: "c-quiet-since", scopes: allGranted, lastActive: testNow.Add(-day(3)), reviewed: mark},
		{id: "c-active-since", scopes: allGranted, lastActive: testNow.Add(-time.Hour), reviewed: mark},
		{id: "c-slip-since", scopes: allGranted, slips: 1, lastSlip: testNow.Add(-day(1)), lastActive: testNow.Add(-day(3)), reviewed: mark},
		{id: "c-notified-since", scopes: allGranted, lastActive: testNow.Add(-day(3)), reviewed: mark, notified: testNow.Add(-time.Hour), unread: 1},
		{id: "c-unacked-flag", scopes: allGranted, lastActive: testNow.Add(-day(3)), reviewed: mark,
			flags: 1, unacked: 1, severity: journalv1.RiskSeverity_RISK_SEVERITY_MODERATE},
		// Active since the mark, but the activity is under PLAN_PROGRESS,
		// which this client did not grant: it cannot show.
		{id: "c-hidden-activity", scopes: []plansv1.ConsentScope{plansv1.ConsentScope_MOOD_INSIGHTS}, reviewed: mark},
	} {
		s.add(c)
	}
	s.journal.mu.Lock()
	s.journal.summaries["c-hidden-activity"].LastActivityTime = ts(testNow.Add(-time.Hour))
	s.journal.mu.Unlock()

	tok := s.token("k-1", auth.RoleCounsellor)
	_, all := s.get(rosterPath, tok)
	if n := len(rowsOf(t, all)); n != 7 {
		t.Fatalf("unfiltered: %d rows", n)
	}
	code, body := s.get(rosterPath+"?changedSinceReview=true", tok)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	got := ids(rowsOf(t, body))
	slices.Sort(got)
	want := []string{"c-active-since", "c-never-reviewed", "c-notified-since", "c-slip-since", "c-unacked-flag"}
	if !slices.Equal(got, want) {
		t.Fatalf("changed since review: %v, want %v", got, want)
	}
	for _, r := range rowsOf(t, all) {
		if r["clientId"] == "c-quiet-since" && (r["changedSinceReview"] != false || r["reviewTime"] == nil) {
			t.Errorf("c-quiet-since: %v", r)
		}
	}
}

func detailFixture(s *dashStack) {
	s.add(client{id: "c-1", scopes: allGranted, streak: 3, slips: 1, lastSlip: testNow.Add(-day(3)), lastActive: testNow.Add(-time.Hour)})
	slip := ts(testNow.Add(-day(3)))
	s.care.timelines["c-1"] = &plansv1.GetCareTimelineResponse{
		ClientId: "c-1", GrantedScopes: allGranted, Plan: s.care.summaries[0].Plan,
		Timeline: []*plansv1.CareTimelineItem{{Kind: plansv1.CareTimelineKind_CARE_TIMELINE_KIND_SLIP, Time: slip, PlanId: "p-c-1"}},
		Slips:    &plansv1.SlipBreakdown{Total: 1, SlipTimes: []*timestamppb.Timestamp{slip}},
		AccessLog: []*plansv1.AccessLogEntry{{Id: "l-1", ActorId: "k-1", ClientId: "c-1", Action: "GetCareTimeline",
			Outcome: plansv1.AccessOutcome_ACCESS_OUTCOME_ALLOWED}},
	}
	s.journal.details["c-1"] = &journalv1.GetJournalCareDetailResponse{
		ClientId: "c-1", Summary: s.journal.summaries["c-1"],
		Days:         []*journalv1.CareDay{{LocalDate: "2026-03-19", Checkins: 1}},
		SlipTriggers: []*journalv1.TriggerCount{{Trigger: "music", Count: 2}},
		RiskFlags:    []*journalv1.RiskFlag{{Id: "f-1"}},
	}
}

func TestDashboardClientDetail(t *testing.T) {
	s := newDashStack(t, stackOpts{})
	detailFixture(s)
	tok := s.token("k-1", auth.RoleCounsellor)
	code, body := s.get("/v1/dashboard/clients/c-1", tok)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	d := body["detail"].(map[string]any)
	if len(d["timeline"].([]any)) != 1 || len(d["days"].([]any)) != 1 || len(d["slipTriggers"].([]any)) != 1 ||
		len(d["riskFlags"].([]any)) != 1 || len(d["accessLog"].([]any)) != 1 {
		t.Errorf("detail parts missing: %v", d)
	}
	if row := d["row"].(map[string]any); row["clientId"] != "c-1" || row["currentStreakDays"] != float64(3) || row["need"] != "NEED_REASON_RECENT_SLIP" {
		t.Errorf("row %v", row)
	}
	if len(s.journal.slipTimes) != 1 || len(s.journal.slipTimes[0]) != 1 || !s.journal.slipTimes[0][0].AsTime().Equal(testNow.Add(-day(3))) {
		t.Errorf("the journal was asked about slips %v, want plans' one slip", s.journal.slipTimes)
	}
	// A client the caller may not see: 404, whatever the other services.
	if code, body := s.get("/v1/dashboard/clients/c-other", tok); code != http.StatusNotFound {
		t.Errorf("unknown client: %d %v, want 404", code, body)
	}
}

func TestDashboardClientDetailWithoutTheJournal(t *testing.T) {
	s := newDashStack(t, stackOpts{journalDown: true})
	detailFixture(s)
	code, body := s.get("/v1/dashboard/clients/c-1", s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusOK || fmt.Sprint(body["unavailable"]) != "[SERVICE_JOURNAL]" {
		t.Fatalf("status %d: %v", code, body)
	}
	d := body["detail"].(map[string]any)
	if len(d["timeline"].([]any)) != 1 || len(d["days"].([]any)) != 0 {
		t.Errorf("detail %v", d)
	}
	// Too long an id is refused with its field named, before any call.
	long := make([]byte, 65)
	for i := range long {
		long[i] = 'x'
	}
	code, body = s.get("/v1/dashboard/clients/"+string(long), s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusBadRequest || fmt.Sprint(body["details"]) == "[]" {
		t.Errorf("long id: %d %v, want 400 naming client_id", code, body)
	}
}

func TestDashboardCareTeamView(t *testing.T) {
	s := newDashStack(t, stackOpts{})
	detailFixture(s)
	code, body := s.get("/v1/clients/c-1/care-team-view", s.token("c-1", auth.RoleClient))
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	d := body["detail"].(map[string]any)
	if len(d["accessLog"].([]any)) != 0 {
		t.Errorf("access log %v: the care-team view lists none", d["accessLog"])
	}
	if len(d["timeline"].([]any)) != 1 {
		t.Errorf("timeline %v", d["timeline"])
	}
	if !slices.Equal(s.care.asTeam, []bool{true}) || !slices.Equal(s.journal.asTeam, []bool{true}) {
		t.Errorf("as_care_team: plans %v, journal %v", s.care.asTeam, s.journal.asTeam)
	}
	if _, ok := d["row"].(map[string]any)["unreadNotifications"]; ok {
		t.Errorf("the care team's own notifications are not the client's")
	}
	for _, tok := range []string{s.token("c-2", auth.RoleClient), s.token("k-1", auth.RoleCounsellor)} {
		if code, body := s.get("/v1/clients/c-1/care-team-view", tok); code != http.StatusNotFound {
			t.Errorf("someone else: %d %v, want 404", code, body)
		}
	}
	if len(s.care.asTeam) != 1 {
		t.Errorf("plans called %d times: someone else's view calls nothing", len(s.care.asTeam))
	}
}

func BenchmarkDashboardRoster(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s := newDashStack(b, stackOpts{})
			for i := range n {
				s.add(client{id: fmt.Sprintf("c-%03d", i), scopes: allGranted, streak: int32(i), slips: int32(i % 3),
					lastSlip: testNow.Add(-day(i % 14)), lastActive: testNow.Add(-day(i % 10)),
					trend: journalv1.MoodTrend(i % 4), flags: int32(i % 5), severity: journalv1.RiskSeverity(i % 5)})
			}
			tok := s.token("k-1", auth.RoleCounsellor)
			b.ResetTimer()
			for b.Loop() {
				if code, _ := s.get(rosterPath, tok); code != http.StatusOK {
					b.Fatalf("status %d", code)
				}
			}
		})
	}
}

// The dashboard's routes get what every route gets: the caller's request id
// goes to the services (with the caller's token: the fakes verify it) and
// comes back, and the metrics count the route under its own class.
func TestDashboardRequestIDAndRouteClass(t *testing.T) {
	s := newDashStack(t, stackOpts{})
	mixedRoster(s)
	code, h, _ := s.getWith(rosterPath, s.token("k-1", auth.RoleCounsellor), map[string]string{"X-Request-Id": "req-dash-42"})
	if code != http.StatusOK || h.Get("X-Request-Id") != "req-dash-42" {
		t.Fatalf("status %d, X-Request-Id %q", code, h.Get("X-Request-Id"))
	}
	if !slices.Equal(s.care.requestID, []string{"req-dash-42"}) {
		t.Errorf("plans saw request ids %v", s.care.requestID)
	}
	classes, err := routeClasses(s.gw.openapi)
	if err != nil {
		t.Fatal(err)
	}
	if got := routeClass(rosterPath, classes); got != "/v1/dashboard" {
		t.Errorf("route class %q", got)
	}
}

// Without plans, the detail still shows what the journal and notify gave
// (as those services gated it) and names plans.
func TestDashboardClientDetailWithoutPlans(t *testing.T) {
	s := newDashStack(t, stackOpts{plansDown: true})
	detailFixture(s)
	code, body := s.get("/v1/dashboard/clients/c-1", s.token("k-1", auth.RoleCounsellor))
	if code != http.StatusOK || fmt.Sprint(body["unavailable"]) != "[SERVICE_PLANS]" {
		t.Fatalf("status %d: %v", code, body)
	}
	d := body["detail"].(map[string]any)
	row := d["row"].(map[string]any)
	if _, ok := row["currentStreakDays"]; ok || len(d["timeline"].([]any)) != 0 {
		t.Errorf("plans' parts without plans: %v", d)
	}
	if len(d["days"].([]any)) != 1 || row["latestMood"] != float64(1) || row["unreadNotifications"] != float64(0) {
		t.Errorf("the journal's and notify's parts are missing: %v", d)
	}
	if len(s.journal.slipTimes) != 1 || len(s.journal.slipTimes[0]) != 0 {
		t.Errorf("slip times sent without plans: %v", s.journal.slipTimes)
	}
}
