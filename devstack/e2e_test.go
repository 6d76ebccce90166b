package main

// End-to-end tests of the whole suite as a dashboard or app sees it: the
// devstack started in-process (embedded NATS and FerretDB, or MONGODB_URI),
// the plans service and the gateway on loopback ports, plain HTTP/JSON calls.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/nocontact/backend/proto/gen/go/nocontact/events/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runFaultChild())
	}
	if os.Getenv(loadChildEnv) != "" {
		os.Exit(runLoadChild())
	}
	goleak.VerifyTestMain(m,
		// The HTTP client's idle keep-alive connections and FerretDB's
		// SQLite pool helpers close asynchronously.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}

const testSecret = "e2e-test-secret-that-is-long-enough-0123456789"

type suite struct {
	t     testing.TB
	base  string
	nats  string
	http  *http.Client
	stop  func()
	stack *Stack
}

func startSuite(t *testing.T) *suite {
	t.Helper()
	return startSuiteIn(t, t.TempDir())
}

// startSuiteIn starts the suite on a given data folder; the returned stop
// function stops it early (it also stops at the end of the test).
func startSuiteIn(t *testing.T, dir string) *suite {
	t.Helper()
	return startSuiteWith(t, dir, nil)
}

// startSuiteWith starts the suite with settings changed by adjust.
func startSuiteWith(t testing.TB, dir string, adjust func(*Settings)) *suite {
	t.Helper()
	return startSuiteLogged(t, dir, adjust, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// startSuiteLogged is startSuiteWith with every component logging to log.
func startSuiteLogged(t testing.TB, dir string, adjust func(*Settings), log *slog.Logger) *suite {
	t.Helper()
	return startSuiteClocked(t, dir, adjust, log, clock.Real())
}

// startSuiteClocked is startSuiteLogged on a given clock (a load test
// moves a fake one to make milestones fall due).
func startSuiteClocked(t testing.TB, dir string, adjust func(*Settings), log *slog.Logger, clk clock.Clock, mongoOpts ...*options.ClientOptions) *suite {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := Settings{
		HTTPAddr:              "127.0.0.1:0",
		PlansGRPCAddr:         "127.0.0.1:0",
		JournalGRPCAddr:       "127.0.0.1:0",
		NotifyGRPCAddr:        "127.0.0.1:0",
		DataDir:               dir,
		JWTSecret:             config.Secret(testSecret),
		MongoURI:              os.Getenv("MONGODB_URI"),
		CORSOrigins:           "https://dashboard.example",
		LogFormat:             "text",
		LogLevel:              "error",
		MilestoneScanInterval: "200ms",
		Replicas:              replicasFromEnv(),
	}
	if adjust != nil {
		adjust(&s)
	}
	st, err := start(ctx, s, log, clk, mongoOpts...)
	if err != nil {
		cancel()
		t.Fatalf("start devstack: %v", err)
	}
	var once sync.Once
	su := &suite{t: t, base: "http://" + st.HTTPAddr, nats: st.NATSURL, http: &http.Client{Timeout: 10 * time.Second}, stack: st}
	su.stop = func() {
		once.Do(func() {
			su.http.CloseIdleConnections()
			cancel()
			if err := st.Wait(); err != nil {
				t.Errorf("devstack stopped with: %v", err)
			}
		})
	}
	t.Cleanup(su.stop)
	su.waitHealthy()
	return su
}

func (s *suite) waitHealthy() {
	deadline := time.Now().Add(20 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := s.http.Get(s.base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("gateway never became healthy; last /healthz: %s", last)
}

func token(t testing.TB, sub string, role auth.Role) string {
	t.Helper()
	tok, err := auth.IssueHS256([]byte(testSecret), "nocontact", "nocontact", sub, role, time.Hour, clock.Real())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call sends one request and decodes the JSON answer.
func (s *suite) call(method, path, tok string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	resp, raw := s.raw(method, path, tok, rd, false)
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			s.t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func (s *suite) mustCall(want int, method, path, tok string, body any) map[string]any {
	s.t.Helper()
	code, out := s.call(method, path, tok, body)
	if code != want {
		s.t.Fatalf("%s %s = %d %v, want %d", method, path, code, out, want)
	}
	return out
}

func fieldViolations(out map[string]any) []string {
	var fields []string
	details, _ := out["details"].([]any)
	for _, d := range details {
		dm, _ := d.(map[string]any)
		vs, _ := dm["fieldViolations"].([]any)
		for _, v := range vs {
			vm, _ := v.(map[string]any)
			if f, ok := vm["field"].(string); ok {
				fields = append(fields, f)
			}
		}
	}
	return fields
}

func milestoneStatuses(progress map[string]any) map[int]string {
	out := map[int]string{}
	ms, _ := progress["milestones"].([]any)
	for _, m := range ms {
		mm := m.(map[string]any)
		out[int(mm["day"].(float64))] = mm["status"].(string)
	}
	return out
}

func TestAuthentication(t *testing.T) {
	s := startSuite(t)
	expired, err := auth.IssueHS256([]byte(testSecret), "nocontact", "nocontact", "c1", auth.RoleClient, time.Hour, clock.NewFake(time.Now().Add(-3*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := auth.IssueHS256([]byte("another-secret-that-is-long-enough-0123456789"), "nocontact", "nocontact", "c1", auth.RoleClient, time.Hour, clock.Real())
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"missing": "", "expired": expired, "badly signed": forged, "garbage": "not-a-jwt"} {
		t.Run(name, func(t *testing.T) {
			code, out := s.call("GET", "/v1/plans", tok, nil)
			if code != http.StatusUnauthorized {
				t.Fatalf("GET /v1/plans with a %s token = %d %v, want 401", name, code, out)
			}
			// The error shape's details say which: sign in, or sign in again.
			want := auth.ReasonTokenInvalid
			if tok == "" {
				want = auth.ReasonTokenMissing
			}
			if got := errorInfoReasons(out); len(got) != 1 || got[0] != want {
				t.Errorf("401 with a %s token: details %v, want one ErrorInfo with reason %s", name, out["details"], want)
			}
		})
	}
	s.mustCall(http.StatusOK, "GET", "/v1/plans", token(t, "c1", auth.RoleClient), nil)

	// The service's answer and the edge's own carry one X-Request-Id: the
	// caller's when it sent a good one.
	for _, tok := range []string{token(t, "c1", auth.RoleClient), ""} {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/v1/plans", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("X-Request-Id", "req-once-1")
		resp, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "req-once-1" {
			t.Errorf("GET /v1/plans (token %t): X-Request-Id = %q, want it once", tok != "", got)
		}
	}
}

// errorInfoReasons lists the reasons of the ErrorInfo details of an error
// answer.
func errorInfoReasons(out map[string]any) []string {
	var reasons []string
	details, _ := out["details"].([]any)
	for _, d := range details {
		dm, _ := d.(map[string]any)
		if dm["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			r, _ := dm["reason"].(string)
			reasons = append(reasons, r)
		}
	}
	return reasons
}

func TestInvalidInputNamesTheFields(t *testing.T) {
	s := startSuite(t)
	client := token(t, "c1", auth.RoleClient)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"target out of range", map[string]any{"targetDays": 400, "timeZone": "Europe/Berlin"}, "plan.target_days"},
		{"target zero", map[string]any{"targetDays": 0, "timeZone": "Europe/Berlin"}, "plan.target_days"},
		{"unknown time zone", map[string]any{"timeZone": "Mars/Olympus_Mons"}, "plan.time_zone"},
		{"empty reason", map[string]any{"timeZone": "Europe/Berlin", "reasons": []string{""}}, "plan.reasons[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := s.mustCall(http.StatusBadRequest, "POST", "/v1/plans", client, tc.body)
			if fields := fieldViolations(out); !contains(fields, tc.field) {
				t.Fatalf("violations name %v, want %s (answer %v)", fields, tc.field, out)
			}
		})
	}
	t.Run("unknown JSON field", func(t *testing.T) {
		s.mustCall(http.StatusBadRequest, "POST", "/v1/plans", client, map[string]any{"timeZone": "Europe/Berlin", "targetDayz": 30})
	})
	// Nothing was written by the refused requests.
	out := s.mustCall(http.StatusOK, "GET", "/v1/plans", client, nil)
	if plans, _ := out["plans"].([]any); len(plans) != 0 {
		t.Fatalf("refused creates left %d plans behind", len(plans))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestFirstWeek is the README's walk-through: a plan back-dated a week
// reaches milestones 1, 3 and 7 at activation (each announced once on the
// PLANS stream), an ignored message from the ex is not a slip, a slip
// restarts the streak with the history kept.
func TestFirstWeek(t *testing.T) {
	s := startSuiteWith(t, t.TempDir(), atReplicas(2))
	client := token(t, "client-1", auth.RoleClient)
	start := time.Now().Add(-8 * 24 * time.Hour).UTC().Format(time.RFC3339)

	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans?requestId=first-plan", client, map[string]any{
		"timeZone":  "Europe/Berlin",
		"startTime": start,
		"reasons":   []string{"I deserve peace", "I want to sleep again"},
	})
	id, _ := plan["id"].(string)
	if id == "" || plan["clientId"] != "client-1" || plan["status"] != "PLAN_STATUS_DRAFT" || plan["targetDays"] != float64(30) {
		t.Fatalf("created plan = %v", plan)
	}
	again := s.mustCall(http.StatusOK, "POST", "/v1/plans?requestId=first-plan", client, map[string]any{
		"timeZone":  "Europe/Berlin",
		"startTime": start,
		"reasons":   []string{"I deserve peace", "I want to sleep again"},
	})
	if again["id"] != id {
		t.Fatalf("a retried create made a second plan: %v vs %v", again["id"], id)
	}
	// The same request id with another request is refused, naming the
	// field, rather than answered with the first plan (AIP-155).
	reused := s.mustCall(http.StatusBadRequest, "POST", "/v1/plans?requestId=first-plan", client, map[string]any{"timeZone": "Europe/Berlin", "startTime": start})
	if v := fieldViolations(reused); !contains(v, "request_id") {
		t.Fatalf("reusing a request id for another plan = %v, want a 400 naming request_id", reused)
	}

	activated := s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})
	if activated["status"] != "PLAN_STATUS_ACTIVE" {
		t.Fatalf("activate = %v", activated)
	}
	code, out := s.call("POST", "/v1/plans/"+id+":activate", client, map[string]any{})
	if code != http.StatusBadRequest || out["code"] != float64(9) {
		t.Fatalf("activating twice = %d %v, want 400 with FAILED_PRECONDITION (9)", code, out)
	}

	progress := s.mustCall(http.StatusOK, "GET", "/v1/plans/"+id+"/progress", client, nil)
	if progress["currentStreakDays"] != float64(8) {
		t.Fatalf("streak = %v, want 8", progress["currentStreakDays"])
	}
	st := milestoneStatuses(progress)
	for _, day := range []int{1, 3, 7} {
		if st[day] != "MILESTONE_STATUS_REACHED" {
			t.Fatalf("milestone %d = %q, want reached (all: %v)", day, st[day], st)
		}
	}
	if st[14] != "MILESTONE_STATUS_PENDING" || st[30] != "MILESTONE_STATUS_PENDING" {
		t.Fatalf("milestones 14 and 30 = %q, %q, want pending", st[14], st[30])
	}
	next, _ := progress["nextMilestone"].(map[string]any)
	if next["day"] != float64(14) {
		t.Fatalf("next milestone = %v, want day 14", next)
	}

	// Exactly one plans.milestone.reached per milestone, even after a scan
	// of every replica's scheduler (and everything written published).
	s.settle()
	if got := countMilestoneEvents(t, s.nats, id); fmt.Sprint(got) != "map[1:1 3:1 7:1]" {
		t.Fatalf("milestone events per day = %v, want one each for 1, 3 and 7", got)
	}

	ignored := s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+"/contacts", client, map[string]any{
		"direction": "INBOUND", "channel": "TEXT", "occurredAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "response": "NONE",
	})
	if ignored["classification"] != "INBOUND_HANDLED" {
		t.Fatalf("ignored message classified %v", ignored["classification"])
	}
	if p := s.mustCall(http.StatusOK, "GET", "/v1/plans/"+id+"/progress", client, nil); p["currentStreakDays"] != float64(8) {
		t.Fatalf("an ignored message changed the streak to %v", p["currentStreakDays"])
	}

	slip := s.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+"/contacts", client, map[string]any{
		"direction": "OUTBOUND", "channel": "TEXT", "occurredAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
		"note": "I texted them happy birthday",
	})
	if slip["classification"] != "SLIP" {
		t.Fatalf("outbound text classified %v", slip["classification"])
	}
	progress = s.mustCall(http.StatusOK, "GET", "/v1/plans/"+id+"/progress", client, nil)
	attempts, _ := progress["attempts"].([]any)
	if progress["currentStreakDays"] != float64(0) || progress["longestStreakDays"] != float64(8) || len(attempts) != 2 {
		t.Fatalf("after the slip: streak %v, longest %v, attempts %d; want 0, 8, 2", progress["currentStreakDays"], progress["longestStreakDays"], len(attempts))
	}
}

func countMilestoneEvents(t *testing.T, url, planID string) map[int]int {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "PLANS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"plans.milestone.reached"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	pending := int(info.NumPending)
	for i := 0; i < pending; i++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatalf("read event %d of %d: %v", i+1, pending, err)
		}
		day, plan := decodeMilestone(t, msg.Data())
		if plan == planID {
			got[day]++
		}
	}
	return got
}

func TestCounsellorAccessNeedsAssignmentAndConsent(t *testing.T) {
	s := startSuite(t)
	client := token(t, "client-2", auth.RoleClient)
	other := token(t, "client-3", auth.RoleClient)
	counsellor := token(t, "counsellor-1", auth.RoleCounsellor)
	admin := token(t, "admin-1", auth.RoleAdmin)

	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "America/New_York", "reasons": []string{"my own words"}})
	id := plan["id"].(string)
	progressPath := "/v1/plans/" + id + "/progress"

	// An admin manages the care team from plan status; the client's own
	// words stay with the client.
	adminView := s.mustCall(http.StatusOK, "GET", "/v1/plans/"+id, admin, nil)
	if reasons, _ := adminView["reasons"].([]any); len(reasons) != 0 || adminView["status"] != "PLAN_STATUS_DRAFT" {
		t.Fatalf("admin view of the plan = %v, want status without reasons", adminView)
	}

	s.mustCall(http.StatusNotFound, "GET", "/v1/plans/"+id, other, nil)
	s.mustCall(http.StatusNotFound, "GET", progressPath, counsellor, nil)

	s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", admin, map[string]any{"clientId": "client-2", "counsellorId": "counsellor-1"})
	// Assigned, but no consent yet.
	s.mustCall(http.StatusNotFound, "GET", progressPath, counsellor, nil)

	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-2/consents", client, map[string]any{"scope": "PLAN_PROGRESS"})
	s.mustCall(http.StatusOK, "GET", progressPath, counsellor, nil)
	s.mustCall(http.StatusOK, "GET", "/v1/plans?clientId=client-2", counsellor, nil)

	// Revocation takes effect at once.
	s.mustCall(http.StatusOK, "DELETE", "/v1/clients/client-2/consents/PLAN_PROGRESS", client, nil)
	s.mustCall(http.StatusNotFound, "GET", progressPath, counsellor, nil)

	// Only the client reads their access log; it lists the counsellor's
	// reads, allowed and denied.
	s.mustCall(http.StatusNotFound, "GET", "/v1/clients/client-2/access-log", counsellor, nil)
	log := s.mustCall(http.StatusOK, "GET", "/v1/clients/client-2/access-log", client, nil)
	entries, _ := log["entries"].([]any)
	outcomes := map[string]int{}
	for _, e := range entries {
		em := e.(map[string]any)
		if em["actorId"] == "counsellor-1" {
			outcomes[em["outcome"].(string)]++
		}
	}
	if outcomes["ACCESS_OUTCOME_ALLOWED"] < 2 || outcomes["ACCESS_OUTCOME_DENIED"] < 3 {
		t.Fatalf("access log outcomes for the counsellor = %v, want ≥2 allowed and ≥3 denied", outcomes)
	}
}

func TestEdgeBasics(t *testing.T) {
	s := startSuite(t)
	out := s.mustCall(http.StatusOK, "GET", "/healthz", "", nil)
	if out["status"] != "SERVING" {
		t.Fatalf("healthz = %v", out)
	}
	doc := s.mustCall(http.StatusOK, "GET", "/openapi.json", "", nil)
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/plans", "/v1/plans/{planId}/progress", "/v1/care-assignments", "/v1/clients/{clientId}/access-log"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi.json has no path %s", p)
		}
	}

	// CORS: the allowed origin is answered, any other is not echoed.
	for origin, allowed := range map[string]bool{"https://dashboard.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, s.base+"/v1/plans", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if allowed && got != origin || !allowed && got != "" {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin = %q", origin, got)
		}
	}

	// A body over the limit is refused before it reaches a service.
	big := map[string]any{"timeZone": "Europe/Berlin", "reasons": []string{strings.Repeat("x", 2<<20)}}
	s.mustCall(http.StatusRequestEntityTooLarge, "POST", "/v1/plans", token(t, "c9", auth.RoleClient), big)
	s.mustCall(http.StatusNotFound, "GET", "/v1/nothing-here", token(t, "c9", auth.RoleClient), nil)
}

func decodeMilestone(t *testing.T, data []byte) (int, string) {
	t.Helper()
	var env eventsv1.Envelope
	if err := proto.Unmarshal(data, &env); err != nil {
		t.Fatalf("event is not an Envelope: %v", err)
	}
	m := env.GetMilestoneReached()
	if m == nil || env.GetType() != "plans.milestone.reached" || env.GetEventId() == "" {
		t.Fatalf("milestone event = %v", &env)
	}
	return int(m.GetDay()), m.GetPlanId()
}

// The devstack keeps its data across a restart, and a restart neither
// loses nor repeats an event.
func TestRestartKeepsDataAndEventsOnce(t *testing.T) {
	dir := t.TempDir()
	first := startSuiteWith(t, dir, atReplicas(2))
	client := token(t, "client-r", auth.RoleClient)
	start := time.Now().Add(-8 * 24 * time.Hour).UTC().Format(time.RFC3339)
	plan := first.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{"timeZone": "Asia/Kolkata", "startTime": start})
	id := plan["id"].(string)
	first.mustCall(http.StatusOK, "POST", "/v1/plans/"+id+":activate", client, map[string]any{})
	// Stopped once notify has handled the plan's events: a message still
	// in a stopping consumer's hands would wait out its AckWait.
	first.settle()
	first.stop()

	second := startSuiteWith(t, dir, atReplicas(2))
	got := second.mustCall(http.StatusOK, "GET", "/v1/plans/"+id, client, nil)
	if got["status"] != "PLAN_STATUS_ACTIVE" {
		t.Fatalf("after a restart the plan is %v", got)
	}
	second.settle() // a scan on every replica, the outbox empty, notify through it
	if events := countMilestoneEvents(t, second.nats, id); fmt.Sprint(events) != "map[1:1 3:1 7:1]" {
		t.Fatalf("milestone events after a restart = %v, want one each for 1, 3 and 7", events)
	}
	// And the client still has exactly one notification per milestone.
	days := map[float64]int{}
	for _, n := range notificationsByKind(t, second, client)["NOTIFICATION_KIND_MILESTONE_REACHED"] {
		days[n["milestoneDay"].(float64)]++
	}
	if fmt.Sprint(days) != "map[1:1 3:1 7:1]" {
		t.Fatalf("milestone notifications after a restart = %v, want one each for 1, 3 and 7", days)
	}
}
