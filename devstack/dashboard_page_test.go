package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nocontact/backend/gateway/web"
)

const stubRoster = `{"rows":[
{"clientId":"dash-risk","grantedScopes":["PLAN_PROGRESS","MOOD_INSIGHTS","RISK_ALERTS"],"missingScopes":["SHARED_JOURNAL"],"need":"NEED_REASON_RISK_FLAG","planStatus":"PLAN_STATUS_ACTIVE","currentStreakDays":5,"nextMilestoneDay":7,"nextMilestoneTime":"2026-12-05T10:00:00Z","slipsLast14Days":0,"lastActivityTime":"2026-12-03T10:00:00Z","daysSinceActivity":0,"recency":"RECENCY_BAND_RECENT","latestMood":-3,"moodTrend":"MOOD_TREND_FALLING","urgesLast7Days":2,"missedCheckinsInARow":0,"openRiskFlags":1,"highestRiskSeverity":"RISK_SEVERITY_HIGH","unacknowledgedRiskFlags":1,"changedSinceReview":true,"unreadNotifications":1,"timeZone":"Europe/Paris"},
{"clientId":"dash-slip","grantedScopes":["PLAN_PROGRESS"],"missingScopes":["MOOD_INSIGHTS","SHARED_JOURNAL","RISK_ALERTS"],"need":"NEED_REASON_RECENT_SLIP","planStatus":"PLAN_STATUS_ACTIVE","currentStreakDays":1,"nextMilestoneDay":3,"slipsLast14Days":1,"hardDateAhead":{"hardDateId":"h1","label":"Anniversary","date":"2026-12-06","daysUntil":3},"daysSinceActivity":1,"recency":"RECENCY_BAND_RECENT","reviewTime":"2026-12-01T10:00:00Z","changedSinceReview":true,"unreadNotifications":0},
{"clientId":"dash-silent","grantedScopes":["PLAN_PROGRESS"],"missingScopes":["MOOD_INSIGHTS","SHARED_JOURNAL","RISK_ALERTS"],"need":"NEED_REASON_SILENCE","recency":"RECENCY_BAND_SILENT","daysSinceActivity":10,"currentStreakDays":10,"changedSinceReview":false}
],"unavailable":["SERVICE_NOTIFY"],"composeTime":"2026-12-03T10:00:00Z"}`

func stubDetail(status string) string {
	days := []string{}
	for i := range 30 {
		date := time.Date(2026, 11, 4+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		d := fmt.Sprintf(`{"localDate":%q,"checkins":1,"urges":%d,"moodAverage":%s}`, date, i%3, []string{"-1", "0", "1.5", "-3"}[i%4])
		if i%5 == 0 { // a day without a check-in: no moodAverage
			d = fmt.Sprintf(`{"localDate":%q,"checkins":0,"urges":0}`, date)
		}
		days = append(days, d)
	}
	return `{"detail":{"row":` + strings.Split(strings.Split(stubRoster, `"rows":[`)[1], "},\n")[0] + `},
"timeline":[{"kind":"CARE_TIMELINE_KIND_ATTEMPT_STARTED","time":"2026-11-28T10:00:00Z","localDate":"2026-11-28","attemptNumber":1},{"kind":"CARE_TIMELINE_KIND_MILESTONE_REACHED","localDate":"2026-11-29","milestoneDay":1}],
"slips":{"total":1,"byDirection":{"CONTACT_DIRECTION_OUTBOUND":1},"byChannel":{"CHANNEL_TEXT":1},"byHour":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0],"slipTimes":[]},
"slipTriggers":[{"trigger":"music","count":2}],"days":[` + strings.Join(days, ",") + `],"sharedEntries":[],
"riskFlags":[{"id":"f1","clientId":"dash-risk","reason":"RISK_REASON_CRISIS_LANGUAGE","status":"` + status + `","severity":"RISK_SEVERITY_HIGH","raiseTime":"2026-12-03T09:00:00Z","category":"RISK_CATEGORY_UNSPECIFIED"}],
"accessLog":[{"id":"a1","actorId":"c","actorRole":"counsellor","clientId":"dash-risk","resource":"plan/x","action":"GetRoster","outcome":"ACCESS_OUTCOME_ALLOWED","time":"2026-12-03T10:00:00Z"}]},"unavailable":[]}`
}

// TestDashboardPageRendersTheContract drives the page against fixed
// answers in the JSON shapes of the DashboardService contract (a row with
// every field, one with PLAN_PROGRESS only, a partial answer), so the
// page's rendering is checked without the services: the banner, "not
// shared" cells, both charts with their data tables, acknowledging a flag
// and marking reviewed, with axe and the CSP watching. The real service is
// walked by TestDashboardInTheBrowser/roster.
func TestDashboardPageRendersTheContract(t *testing.T) {
	var mu sync.Mutex // the handlers run on the server's goroutines
	status := "RISK_FLAG_STATUS_RAISED"
	reviewed := false
	page, err := web.Handler(web.Options{DevToken: func() (string, error) { return "tok", nil }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", page)
	mux.HandleFunc("GET /v1/dashboard/roster", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(stubRoster)) })
	mux.HandleFunc("GET /v1/dashboard/clients/dash-risk", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		d := stubDetail(status)
		if reviewed {
			d = strings.Replace(d, `"changedSinceReview":true`, `"reviewTime":"2026-12-03T11:00:00Z","changedSinceReview":false`, 1)
		}
		w.Write([]byte(d))
	})
	mux.HandleFunc("POST /v1/clients/dash-risk/risk-flags/{f}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status = "RISK_FLAG_STATUS_ACKNOWLEDGED"
		mu.Unlock()
		w.Write([]byte(`{}`))
	})
	mux.HandleFunc("POST /v1/clients/dash-risk/reviews", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reviewed = true
		mu.Unlock()
		w.Write([]byte(`{"clientId":"dash-slip","counsellorId":"counsellor-demo","reviewTime":"2026-12-03T11:00:00Z"}`))
	})
	// The feed: the first connection sends n1 and breaks; the page must
	// come back with afterId=n1 and get n2.
	var feedMu sync.Mutex
	var afterIDs []string
	mux.HandleFunc("GET /v1/notifications:stream", func(w http.ResponseWriter, r *http.Request) {
		feedMu.Lock()
		afterIDs = append(afterIDs, r.URL.Query().Get("afterId"))
		n := len(afterIDs)
		feedMu.Unlock()
		w.WriteHeader(200)
		note := func(id string) {
			fmt.Fprintf(w, `{"result":{"notification":{"id":%q,"kind":"NOTIFICATION_KIND_HIGH_URGE","title":"A strong urge","clientId":"dash-risk","createTime":"2026-12-03T10:00:00Z"}}}`+"\n", id)
			w.(http.Flusher).Flush()
		}
		if n == 1 {
			note("n1")
			return
		}
		note(fmt.Sprintf("n%d", n))
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := startBrowser(t)
	b.run("open the roster", 20*time.Second, chromedp.Navigate(srv.URL+"/dashboard/"), click("#devtoken"), visible(`#roster-table tbody tr[data-client-id="dash-silent"]`))
	checks := get(b, "read the roster", 5*time.Second, chromedp.Evaluate[map[string]string](`({
		banner: document.getElementById("banner").textContent,
		mood: document.querySelector('tr[data-client-id="dash-slip"] td[data-scope="MOOD_INSIGHTS"]').textContent,
		band: document.querySelector('tr[data-client-id="dash-silent"] [data-band]').textContent,
	})`))
	if !strings.Contains(checks["banner"], "notifications") || !strings.Contains(checks["mood"], "Not shared (mood insights)") || !strings.Contains(checks["band"], "Silent") {
		t.Fatalf("the roster shows %v, want the unavailable service named, the missing scope named and the band in words", checks)
	}
	b.run("see the feed come back after a break", 20*time.Second, visible(`#feed-list li[data-notification-id="n2"]`))
	feedMu.Lock()
	got := fmt.Sprint(afterIDs)
	feedMu.Unlock()
	if got != "[ n1]" {
		t.Fatalf("the feed connected with afterId %s, want first none, then n1", got)
	}
	b.checkAxe("stub roster")
	b.screenshot("stub-roster", 1280, 800)
	b.screenshot("stub-roster-tablet", 768, 1024)
	b.run("open a client", 20*time.Second, chromedp.EmulateViewport(1280, 800), click(`tr[data-client-id="dash-risk"] a`), visible(`svg[data-chart="mood"]`), visible(`svg[data-chart="urges"]`))
	b.checkAxe("stub client")
	b.run("show a chart's data table", 10*time.Second, click(`button[aria-controls]`))
	b.checkAxe("stub client table")
	b.run("acknowledge", 20*time.Second, click("button.ack"), visible(`tr[data-status="RISK_FLAG_STATUS_ACKNOWLEDGED"]`))
	b.run("mark reviewed", 20*time.Second, click("#mark-reviewed"), visible(`#review-state[data-reviewed]`))
	b.screenshot("stub-client", 1280, 800)
	b.screenshot("stub-client-tablet", 768, 1024)
	b.noCSPViolations()
}
