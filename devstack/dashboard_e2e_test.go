package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/gateway/edge"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
)

// dashboardFixture is a counsellor with two clients (one who granted every
// scope and wrote in crisis, one who granted only PLAN_PROGRESS) and a
// third client who belongs to another counsellor.
type dashboardFixture struct {
	s                        *suite
	counsellor, admin        string
	risk, planOnly, other    string // client ids
	riskTok, planTok, othTok string
	secret                   string // written into every free-text field
}

func newDashboardFixture(t *testing.T, s *suite) *dashboardFixture {
	t.Helper()
	f := &dashboardFixture{s: s,
		counsellor: token(t, "counsellor-db", auth.RoleCounsellor),
		admin:      token(t, "admin-db", auth.RoleAdmin),
		risk:       "client-db-risk", planOnly: "client-db-plan", other: "client-db-other",
		secret: "ZEBRA-QUARTZ-SECRET",
	}
	f.riskTok = token(t, f.risk, auth.RoleClient)
	f.planTok = token(t, f.planOnly, auth.RoleClient)
	f.othTok = token(t, f.other, auth.RoleClient)
	start := time.Now().Add(-72 * time.Hour).UTC().Format(time.RFC3339)
	for client, tok := range map[string]string{f.risk: f.riskTok, f.planOnly: f.planTok, f.other: f.othTok} {
		plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", tok, map[string]any{"timeZone": "Europe/Berlin", "startTime": start,
			"reasons": []string{f.secret + " reason"}})
		s.mustCall(http.StatusOK, "POST", "/v1/plans/"+plan["id"].(string)+":activate", tok, map[string]any{})
		s.mustCall(http.StatusOK, "POST", "/v1/clients/"+client+"/checkins", tok, map[string]any{
			"mood": 1, "timeZone": "Europe/Berlin", "note": f.secret + " a calm note"})
		counsellor := "counsellor-db"
		if client == f.other {
			counsellor = "counsellor-db2"
		}
		s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", f.admin, map[string]any{"clientId": client, "counsellorId": counsellor})
	}
	for _, sc := range []string{"PLAN_PROGRESS", "MOOD_INSIGHTS", "RISK_ALERTS", "SHARED_JOURNAL"} {
		s.mustCall(http.StatusOK, "POST", "/v1/clients/"+f.risk+"/consents", f.riskTok, map[string]any{"scope": sc})
		s.mustCall(http.StatusOK, "POST", "/v1/clients/"+f.other+"/consents", f.othTok, map[string]any{"scope": sc})
	}
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+f.planOnly+"/consents", f.planTok, map[string]any{"scope": "PLAN_PROGRESS"})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+f.risk+"/checkins", f.riskTok, map[string]any{
		"mood": -3, "timeZone": "Europe/Berlin", "note": "Honestly I don't want to be alive anymore"})
	// The flag comes from the journal's risk consumer: wait for it.
	eventually(t, 20*time.Second, func() string {
		flags := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+f.risk+"/risk-flags", f.riskTok, nil)
		if len(asList(flags["riskFlags"])) == 0 {
			return "no risk flag raised yet"
		}
		return ""
	})
	return f
}

// roster reads the roster as the counsellor through base, returning the
// decoded answer and the raw body.
func (f *dashboardFixture) roster(base, query string) (map[string]any, string) {
	f.s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/dashboard/roster"+query, nil)
	if err != nil {
		f.s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.counsellor)
	resp, err := f.s.http.Do(req)
	if err != nil {
		f.s.t.Fatalf("roster: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		f.s.t.Fatalf("roster = %d %s, want 200", resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		f.s.t.Fatalf("roster is not JSON: %s", raw)
	}
	return out, string(raw)
}

func rowsByClient(roster map[string]any) (order []string, rows map[string]map[string]any) {
	rows = map[string]map[string]any{}
	for _, r := range asList(roster["rows"]) {
		row := r.(map[string]any)
		id, _ := row["clientId"].(string)
		order = append(order, id)
		rows[id] = row
	}
	return order, rows
}

// moodKeys and riskKeys are the roster row's JSON fields under
// MOOD_INSIGHTS and RISK_ALERTS.
var (
	moodKeys = []string{"latestMood", "moodTrend", "urgesLast7Days", "missedCheckinsInARow"}
	riskKeys = []string{"openRiskFlags", "highestRiskSeverity", "unacknowledgedRiskFlags"}
)

func TestDashboardRosterThroughTheSuite(t *testing.T) {
	s := startSuite(t)
	f := newDashboardFixture(t, s)

	before := scrape(t, s.stack.GatewayMetricsAddr)
	roster, raw := f.roster(s.base, "")
	after := scrape(t, s.stack.GatewayMetricsAddr)

	// Only this counsellor's clients, in the documented order: the open
	// crisis flag first.
	order, rows := rowsByClient(roster)
	if len(order) != 2 || order[0] != f.risk || order[1] != f.planOnly {
		t.Fatalf("roster order = %v, want [%s %s] (the other counsellor's client never listed)", order, f.risk, f.planOnly)
	}
	if strings.Contains(raw, f.other) {
		t.Errorf("the roster names another counsellor's client: %s", raw)
	}
	if strings.Contains(raw, f.secret) {
		t.Errorf("the roster carries free text: %s", raw)
	}
	if len(asList(roster["unavailable"])) != 0 {
		t.Errorf("every service is up, yet unavailable = %v", roster["unavailable"])
	}
	risk, planOnly := rows[f.risk], rows[f.planOnly]
	if risk["need"] != "NEED_REASON_RISK_FLAG" || risk["highestRiskSeverity"] == nil || risk["latestMood"] == nil {
		t.Errorf("the client in crisis: %v, want need RISK_FLAG with severity and mood", risk)
	}
	// PLAN_PROGRESS only: a streak, and no mood or risk key at all.
	if planOnly["currentStreakDays"] == nil || planOnly["planStatus"] == nil {
		t.Errorf("plan-only client has no plan fields: %v", planOnly)
	}
	for _, k := range append(append([]string{}, moodKeys...), riskKeys...) {
		if _, ok := planOnly[k]; ok {
			t.Errorf("plan-only client's row has %s = %v: outside the granted scopes", k, planOnly[k])
		}
	}
	missing := map[string]bool{}
	for _, m := range asList(planOnly["missingScopes"]) {
		missing[m.(string)] = true
	}
	if !missing["MOOD_INSIGHTS"] || !missing["RISK_ALERTS"] || !missing["SHARED_JOURNAL"] || missing["PLAN_PROGRESS"] {
		t.Errorf("plan-only client's missingScopes = %v", planOnly["missingScopes"])
	}

	// One call per service for the whole roster.
	for _, backend := range []string{"plans", "journal", "notify"} {
		n := metricValue(t, after, "nocontact_dashboard_backend_calls_total", map[string]string{"backend": backend}) -
			metricValue(t, before, "nocontact_dashboard_backend_calls_total", map[string]string{"backend": backend})
		if n != 1 {
			t.Errorf("one roster made %v calls to %s, want 1", n, backend)
		}
	}

	// A revocation empties the row's part at once: no waiting for events.
	s.mustCall(http.StatusOK, "DELETE", "/v1/clients/"+f.risk+"/consents/MOOD_INSIGHTS", f.riskTok, nil)
	roster, _ = f.roster(s.base, "")
	_, rows = rowsByClient(roster)
	for _, k := range moodKeys {
		if v, ok := rows[f.risk][k]; ok {
			t.Errorf("after revoking MOOD_INSIGHTS the row still has %s = %v", k, v)
		}
	}
	if rows[f.risk]["highestRiskSeverity"] == nil {
		t.Errorf("RISK_ALERTS is still granted, yet the severity is gone: %v", rows[f.risk])
	}

	// Another counsellor's client has no page here.
	s.mustCall(http.StatusNotFound, "GET", "/v1/dashboard/clients/"+f.other, f.counsellor, nil)

	// Each service logged the roster read in the client's own access log.
	eventually(t, 20*time.Second, func() string {
		log := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+f.risk+"/access-log?pageSize=100", f.riskTok, nil)
		seen := map[string]bool{}
		for _, e := range asList(log["entries"]) {
			em := e.(map[string]any)
			if em["actorId"] != "counsellor-db" {
				continue
			}
			res, _ := em["resource"].(string)
			switch {
			case strings.HasPrefix(res, "journal/"):
				seen["journal"] = true
			case strings.HasPrefix(res, "notify/"):
				seen["notify"] = true
			default:
				seen["plans"] = true
			}
		}
		if !seen["plans"] || !seen["journal"] || !seen["notify"] {
			return "the client's access log lacks the counsellor's roster reads: " + strings.Join(keys(seen), ",")
		}
		return ""
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDashboardReviewAndClientPage(t *testing.T) {
	s := startSuite(t)
	f := newDashboardFixture(t, s)
	// Every notification the set-up causes (assignments, milestones, the
	// risk flag) is in before the review: one arriving after it would
	// rightly count as new.
	s.settle()
	s.waitPublished("journal", "checkins", "entries", "urges", "risk_flags")
	s.waitConsumed("JOURNAL", "notify-journal")

	// Reviewed: the client leaves the "changed since my review" list…
	review := s.mustCall(http.StatusOK, "POST", "/v1/clients/"+f.planOnly+"/reviews", f.counsellor, map[string]any{})
	if review["counsellorId"] != "counsellor-db" || review["reviewTime"] == nil {
		t.Fatalf("review mark = %v", review)
	}
	changed, _ := f.roster(s.base, "?changedSinceReview=true")
	if _, rows := rowsByClient(changed); rows[f.planOnly] != nil {
		t.Errorf("a client reviewed a moment ago with nothing new is listed as changed: %v", rows[f.planOnly])
	}
	// …and comes back when something happens.
	s.mustCall(http.StatusOK, "POST", "/v1/clients/"+f.planOnly+"/checkins", f.planTok, map[string]any{"mood": 0, "timeZone": "Europe/Berlin"})
	changed, _ = f.roster(s.base, "?changedSinceReview=true")
	if _, rows := rowsByClient(changed); rows[f.planOnly] == nil {
		t.Errorf("a check-in after the review mark does not list the client as changed: %v", changed)
	}
	// Someone who is not on the care team cannot mark it.
	s.mustCall(http.StatusNotFound, "POST", "/v1/clients/"+f.other+"/reviews", f.counsellor, map[string]any{})

	// The client page: timeline, 30 local days, risk flags, own reads.
	page := s.mustCall(http.StatusOK, "GET", "/v1/dashboard/clients/"+f.risk, f.counsellor, nil)
	detail, _ := page["detail"].(map[string]any)
	if len(asList(detail["days"])) != 30 {
		t.Errorf("the page has %d days, want 30", len(asList(detail["days"])))
	}
	if len(asList(detail["riskFlags"])) == 0 || len(asList(detail["timeline"])) == 0 {
		t.Errorf("the page lacks risk flags or a timeline: %v", detail)
	}
	// What the plan-only client's care team sees, asked by the client.
	view := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+f.planOnly+"/care-team-view", f.planTok, nil)
	row, _ := view["detail"].(map[string]any)["row"].(map[string]any)
	if row["currentStreakDays"] == nil {
		t.Errorf("care-team view has no streak: %v", row)
	}
	for _, k := range moodKeys {
		if _, ok := row[k]; ok {
			t.Errorf("care-team view of a plan-only client shows %s", k)
		}
	}
	if d := view["detail"].(map[string]any); len(asList(d["days"])) != 0 {
		t.Errorf("care-team view of a plan-only client shows the mood series")
	}
	s.mustCall(http.StatusNotFound, "GET", "/v1/clients/"+f.planOnly+"/care-team-view", f.riskTok, nil)
}

// With the journal unreachable, the roster still answers 200 with what
// plans and notify gave, and says the journal is missing.
func TestDashboardRosterWithTheJournalDown(t *testing.T) {
	s := startSuite(t)
	f := newDashboardFixture(t, s)

	// A second gateway over the same plans and notify, whose journal
	// address refuses connections.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	_ = dead.Close()
	var cfg edge.Config
	if err := config.LoadFrom(&cfg, map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "PLANS_ADDR": s.stack.PlansAddr, "JOURNAL_ADDR": deadAddr, "NOTIFY_ADDR": s.stack.NotifyAddr,
		"NOCONTACT_JWT_SECRET": testSecret, "METRICS_ADDR": "off", "DASHBOARD_JOURNAL_TIMEOUT": "1s",
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	verifier, err := auth.NewVerifier(ctx, cfg.Auth, clock.Real(), log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	gw, err := edge.New(ctx, cfg, log, verifier, clock.Real())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("second gateway: %v", err)
		}
	})

	roster, _ := f.roster("http://"+lis.Addr().String(), "")
	if u := asList(roster["unavailable"]); len(u) != 1 || u[0] != "SERVICE_JOURNAL" {
		t.Errorf("unavailable = %v, want [SERVICE_JOURNAL]", roster["unavailable"])
	}
	order, rows := rowsByClient(roster)
	if len(order) != 2 {
		t.Fatalf("with the journal down the roster lists %v, want both clients", order)
	}
	if rows[f.planOnly]["currentStreakDays"] == nil || rows[f.risk]["currentStreakDays"] == nil {
		t.Errorf("plans' fields are missing with only the journal down: %v", rows)
	}
	for _, k := range riskKeys {
		if _, ok := rows[f.risk][k]; ok {
			t.Errorf("with the journal down the row has %s", k)
		}
	}
}
