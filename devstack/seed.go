package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
)

// SeedConfig says where and as whom the demo data is made.
type SeedConfig struct {
	// BaseURL is the gateway (default http://127.0.0.1:8080).
	BaseURL string
	// Secret signs the development tokens (the devstack's JWT secret).
	Secret string
	// Issuer and Audience of the tokens (the suite's defaults when empty).
	Issuer, Audience string
	// CounsellorID is the demo counsellor (default counsellor-demo).
	CounsellorID string
	// TokenTTL is how long the printed sign-in token is valid.
	TokenTTL time.Duration
	Clock    clock.Clock
	HTTP     *http.Client
}

// SeedResult is what the demo data is.
type SeedResult struct {
	CounsellorID string
	// Token signs the counsellor in (a development token).
	Token   string
	Clients []string
}

// demoCheckIn is a check-in daysAgo days before now (the journal takes
// back-filled check-ins of at most 7 days).
type demoCheckIn struct {
	daysAgo float64
	mood    int
	note    string
}

// demoContact is a contact logged on the plan daysAgo days before now
// (any time after the plan's start).
type demoContact struct {
	daysAgo   float64
	direction string // INBOUND, OUTBOUND
	response  string // for inbound: NONE (ignored)
}

// demoClient is one client of the demo counsellor at some point of a plan.
type demoClient struct {
	id, about  string
	startDays  float64 // the plan's start, days before now
	targetDays int
	hardDateIn int // a yearly hard date this many days ahead (0: none)
	scopes     []string
	revoke     bool // granted, then revoked everything
	checkIns   []demoCheckIn
	contacts   []demoContact
	urges      []int // intensities, logged now (urges cannot be back-dated)
	shared     bool  // writes a journal entry and shares it
}

var allScopes = []string{"PLAN_PROGRESS", "MOOD_INSIGHTS", "SHARED_JOURNAL", "RISK_ALERTS"}

// demoClients are the dozen clients; ids are prefixed with the
// counsellor's id so two counsellors' demos do not meet.
func demoClients() []demoClient {
	daily := func(from int, moods ...int) []demoCheckIn {
		var out []demoCheckIn
		for i, m := range moods {
			out = append(out, demoCheckIn{daysAgo: float64(from-i) + 0.05, mood: m})
		}
		return out
	}
	return []demoClient{
		{id: "new", about: "a new plan, started today", startDays: 0, scopes: allScopes,
			checkIns: []demoCheckIn{{daysAgo: 0, mood: 0}}},
		{id: "day7", about: "day 7, checking in daily", startDays: 7.05, scopes: allScopes,
			checkIns: daily(6, 0, 1, 1, 0, 1, 2, 2)},
		{id: "slip", about: "a slip yesterday (texted the ex)", startDays: 12, scopes: allScopes,
			contacts: []demoContact{{daysAgo: 1, direction: "OUTBOUND"}},
			checkIns: []demoCheckIn{{daysAgo: 2, mood: 1}, {daysAgo: 0.9, mood: -2}}, urges: []int{8}},
		{id: "completed", about: "a completed 14-day plan", startDays: 15, targetDays: 14, scopes: allScopes,
			checkIns: daily(3, 2, 2, 3)},
		{id: "crisis", about: "an open crisis risk flag", startDays: 5, scopes: allScopes,
			checkIns: []demoCheckIn{{daysAgo: 1, mood: -2}, {daysAgo: 0, mood: -3, note: "Honestly I don't want to be alive anymore"}}},
		{id: "silent", about: "silent for 10 days (an ignored message 10 days ago, nothing since)", startDays: 25, scopes: allScopes,
			contacts: []demoContact{{daysAgo: 10, direction: "INBOUND", response: "NONE"}}},
		{id: "harddate", about: "a hard date in 3 days", startDays: 20, hardDateIn: 3, scopes: allScopes,
			checkIns: daily(2, 1, 0)},
		{id: "progressonly", about: "granted only PLAN_PROGRESS", startDays: 9, scopes: []string{"PLAN_PROGRESS"},
			checkIns: daily(2, 1, 1)},
		{id: "revoked", about: "revoked every consent", startDays: 15, scopes: allScopes, revoke: true,
			checkIns: daily(1, 0)},
		{id: "falling", about: "mood falling over the week", startDays: 18, scopes: allScopes,
			checkIns: daily(6, 2, 2, 1, 0, -1, -1, -2), urges: []int{6, 7}},
		{id: "steady", about: "day 21, steady, shares a journal entry", startDays: 21.05, scopes: allScopes,
			checkIns: daily(4, 2, 2, 3, 2, 3), shared: true},
		{id: "urges", about: "strong urges today, no slip", startDays: 4, scopes: allScopes,
			checkIns: daily(1, 0), urges: []int{7, 9, 8}},
	}
}

const demoTimeZone = "Europe/Berlin"

// seeder talks to the public HTTP API.
type seeder struct {
	cfg  SeedConfig
	base string
	now  time.Time
}

func (s *seeder) token(sub string, role auth.Role, ttl time.Duration) (string, error) {
	return auth.IssueHS256([]byte(s.cfg.Secret), s.cfg.Issuer, s.cfg.Audience, sub, role, ttl, s.cfg.Clock)
}

// call sends one request; an answer other than 200 is an error naming it.
func (s *seeder) call(ctx context.Context, method, path, tok string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// startAt is a plan's start whole local days before today in the demo's
// time zone, a minute past midnight (never after now): the plan's day
// count is in local calendar days, so a start taken as now minus so many
// hours would give "day 8" for the day-7 client in the hour after Berlin's
// midnight.
func (s *seeder) startAt(daysAgo float64) string {
	loc, err := time.LoadLocation(demoTimeZone)
	if err != nil {
		return s.at(daysAgo)
	}
	local := s.now.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 1, 0, 0, loc).AddDate(0, 0, -int(daysAgo))
	if day.After(s.now) {
		day = s.now
	}
	return day.UTC().Format(time.RFC3339)
}

func (s *seeder) at(daysAgo float64) string {
	return s.now.Add(-time.Duration(daysAgo * float64(24*time.Hour))).UTC().Format(time.RFC3339)
}

// Seed makes the demo counsellor and their clients through the public API.
// It is idempotent: what exists already (a plan, check-ins, contacts, an
// active assignment, consents) is not made again, and every create carries
// a request id, so a retried call answers the first result.
func Seed(ctx context.Context, cfg SeedConfig) (SeedResult, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://127.0.0.1:8080"
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		var a config.Auth
		if err := config.LoadFrom(&a, nil); err != nil {
			return SeedResult{}, err
		}
		cfg.Issuer, cfg.Audience = a.Issuer, a.Audience
	}
	if cfg.CounsellorID == "" {
		cfg.CounsellorID = "counsellor-demo"
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	s := &seeder{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), now: cfg.Clock.Now()}
	admin, err := s.token(cfg.CounsellorID+"-admin", auth.RoleAdmin, time.Hour)
	if err != nil {
		return SeedResult{}, err
	}
	res := SeedResult{CounsellorID: cfg.CounsellorID}
	for _, c := range demoClients() {
		id := cfg.CounsellorID + "-" + c.id
		if err := s.client(ctx, admin, id, c); err != nil {
			return SeedResult{}, fmt.Errorf("client %s (%s): %w", id, c.about, err)
		}
		res.Clients = append(res.Clients, id)
	}
	if res.Token, err = s.token(cfg.CounsellorID, auth.RoleCounsellor, cfg.TokenTTL); err != nil {
		return SeedResult{}, err
	}
	return res, nil
}

func (s *seeder) client(ctx context.Context, admin, id string, c demoClient) error {
	tok, err := s.token(id, auth.RoleClient, time.Hour)
	if err != nil {
		return err
	}
	counsellor := s.cfg.CounsellorID
	rid := func(what string) string { return "seed-" + id + "-" + what }

	// The care team first, so the counsellor is told of what follows.
	var assignments struct {
		CareAssignments []struct {
			Status string `json:"status"`
		} `json:"careAssignments"`
	}
	q := url.Values{"clientId": {id}, "counsellorId": {counsellor}}
	if err := s.call(ctx, "GET", "/v1/care-assignments?"+q.Encode(), admin, nil, &assignments); err != nil {
		return err
	}
	active := false
	for _, a := range assignments.CareAssignments {
		active = active || a.Status == "CARE_ASSIGNMENT_STATUS_ACTIVE"
	}
	if !active {
		body := map[string]any{"clientId": id, "counsellorId": counsellor}
		if err := s.call(ctx, "POST", "/v1/care-assignments", admin, body, nil); err != nil {
			return err
		}
	}
	var consents struct {
		Consents []struct {
			Scope      string `json:"scope"`
			Granted    bool   `json:"granted"`
			RevokeTime string `json:"revokeTime"`
		} `json:"consents"`
	}
	if err := s.call(ctx, "GET", "/v1/clients/"+id+"/consents", tok, nil, &consents); err != nil {
		return err
	}
	granted, revoked := map[string]bool{}, false
	for _, k := range consents.Consents {
		granted[k.Scope] = k.Granted
		revoked = revoked || k.RevokeTime != ""
	}
	grantedNow := false
	if !(c.revoke && revoked) {
		for _, scope := range c.scopes {
			if !granted[scope] {
				if err := s.call(ctx, "POST", "/v1/clients/"+id+"/consents", tok, map[string]any{"scope": scope}, nil); err != nil {
					return err
				}
				grantedNow = true
			}
		}
	}
	if grantedNow {
		// Notify picks a counsellor's recipients from its own projection of
		// the care team, fed by the plans stream, while the journal's
		// events come on another stream: a flag raised before notify has
		// heard of the consent would reach no counsellor. Wait until it has
		// (the counsellor's consent notifications about this client).
		if err := s.waitConsentsHeard(ctx, id, len(c.scopes)); err != nil {
			return err
		}
	}

	// The plan, back-dated to its start; activating a back-dated plan
	// reaches the milestones already due (and completes a plan whose target
	// has passed).
	var plans struct {
		Plans []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"plans"`
	}
	if err := s.call(ctx, "GET", "/v1/plans?clientId="+url.QueryEscape(id), tok, nil, &plans); err != nil {
		return err
	}
	var planID, status string
	if len(plans.Plans) > 0 {
		planID, status = plans.Plans[0].ID, plans.Plans[0].Status
	} else {
		plan := map[string]any{"timeZone": demoTimeZone, "startTime": s.startAt(c.startDays), "reasons": []string{"I want my peace back"}}
		if c.targetDays > 0 {
			plan["targetDays"] = c.targetDays
		}
		if c.hardDateIn > 0 {
			loc, err := time.LoadLocation(demoTimeZone)
			if err != nil {
				return err
			}
			d := s.now.In(loc).AddDate(0, 0, c.hardDateIn)
			plan["hardDates"] = []map[string]any{{"label": "Our anniversary", "month": int(d.Month()), "day": d.Day()}}
		}
		var created struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := s.call(ctx, "POST", "/v1/plans?requestId="+rid("plan"), tok, plan, &created); err != nil {
			return err
		}
		planID, status = created.ID, created.Status
	}
	if status == "PLAN_STATUS_DRAFT" {
		if err := s.call(ctx, "POST", "/v1/plans/"+planID+":activate", tok, map[string]any{}, nil); err != nil {
			return err
		}
	}
	var contacts struct {
		Contacts []json.RawMessage `json:"contacts"`
	}
	if err := s.call(ctx, "GET", "/v1/plans/"+planID+"/contacts", tok, nil, &contacts); err != nil {
		return err
	}
	if len(contacts.Contacts) == 0 {
		for i, k := range c.contacts {
			body := map[string]any{"direction": k.direction, "channel": "TEXT", "occurredAt": s.at(k.daysAgo)}
			if k.response != "" {
				body["response"] = k.response
			}
			if err := s.call(ctx, "POST", fmt.Sprintf("/v1/plans/%s/contacts?requestId=%s", planID, rid(fmt.Sprint("contact-", i))), tok, body, nil); err != nil {
				return err
			}
		}
	}

	// The journal: check-ins back-filled (at most 7 days), urges and an
	// entry now.
	var checkIns struct {
		CheckIns []json.RawMessage `json:"checkIns"`
	}
	if err := s.call(ctx, "GET", "/v1/clients/"+id+"/checkins", tok, nil, &checkIns); err != nil {
		return err
	}
	if len(checkIns.CheckIns) == 0 {
		for i, ci := range c.checkIns {
			body := map[string]any{"kind": "DAILY", "occurredAt": s.at(ci.daysAgo), "timeZone": demoTimeZone, "mood": ci.mood}
			if ci.note != "" {
				body["note"] = ci.note
			}
			if err := s.call(ctx, "POST", fmt.Sprintf("/v1/clients/%s/checkins?requestId=%s", id, rid(fmt.Sprint("checkin-", i))), tok, body, nil); err != nil {
				return err
			}
		}
	}
	for i, n := range c.urges {
		// Same request id, same request: a second run answers the first urge.
		body := map[string]any{"intensity": n, "trigger": "loneliness", "timeZone": demoTimeZone}
		if err := s.call(ctx, "POST", fmt.Sprintf("/v1/clients/%s/urges?requestId=%s", id, rid(fmt.Sprint("urge-", i))), tok, body, nil); err != nil {
			return err
		}
	}
	if c.shared {
		var created struct {
			Entry struct {
				ID     string `json:"id"`
				Shared bool   `json:"shared"`
			} `json:"entry"`
		}
		body := map[string]any{"kind": "FREE", "title": "Three weeks", "body": "Three weeks today. The evenings are still the hardest.", "timeZone": demoTimeZone}
		if err := s.call(ctx, "POST", fmt.Sprintf("/v1/clients/%s/entries?requestId=%s", id, rid("entry")), tok, body, &created); err != nil {
			return err
		}
		entry := created.Entry
		if !entry.Shared {
			if err := s.call(ctx, "POST", "/v1/clients/"+id+"/entries/"+entry.ID+":share", tok, map[string]any{}, nil); err != nil {
				return err
			}
		}
	}

	if c.revoke && !revoked {
		for _, scope := range c.scopes {
			if err := s.call(ctx, "DELETE", "/v1/clients/"+id+"/consents/"+scope, tok, nil, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitConsentsHeard waits until the counsellor has at least want consent
// notifications about client (notify has applied the grants).
func (s *seeder) waitConsentsHeard(ctx context.Context, client string, want int) error {
	tok, err := s.token(s.cfg.CounsellorID, auth.RoleCounsellor, time.Hour)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		n, err := s.consentNotices(ctx, tok, client)
		if err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("notify has not heard of %s's consents (%d of %d): %w", client, n, want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *seeder) consentNotices(ctx context.Context, tok, client string) (int, error) {
	n, page := 0, ""
	for {
		var out struct {
			Notifications []struct {
				Kind     string `json:"kind"`
				ClientID string `json:"clientId"`
			} `json:"notifications"`
			NextPageToken string `json:"nextPageToken"`
		}
		q := url.Values{"pageSize": {"100"}}
		if page != "" {
			q.Set("pageToken", page)
		}
		if err := s.call(ctx, "GET", "/v1/notifications?"+q.Encode(), tok, nil, &out); err != nil {
			return 0, err
		}
		for _, note := range out.Notifications {
			if note.ClientID == client && note.Kind == "NOTIFICATION_KIND_CONSENT_CHANGED" {
				n++
			}
		}
		if out.NextPageToken == "" {
			return n, nil
		}
		page = out.NextPageToken
	}
}

// seedMain is `go run ./devstack seed`: the demo data against a running
// devstack, with tokens signed with its secret.
func seedMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "the devstack's gateway")
	counsellor := fs.String("counsellor", "counsellor-demo", "the demo counsellor's id")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the printed sign-in token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var st Settings
	if err := config.Load(&st); err != nil {
		return err
	}
	secret := st.JWTSecret.Reveal()
	if secret == "" {
		secret = DevJWTSecret
	}
	res, err := Seed(ctx, SeedConfig{BaseURL: *base, Secret: secret, CounsellorID: *counsellor, TokenTTL: *ttl})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(out, "demo data is in %s\n  counsellor  %s\n  clients     %s\n  sign in with this token (%s):\n%s\n",
		*base, res.CounsellorID, strings.Join(res.Clients, ", "), *ttl, res.Token)
	return nil
}
