package edge

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"
	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"
	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/apperr"
	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/grpcserver"
)

// The dashboard's tests run the real gateway (HTTP stack, in-process
// DashboardService) against small gRPC servers standing in for the plans,
// journal and notify services' batch RPCs with canned answers, over real
// gRPC behind the platform's server interceptors (the token is verified
// there as in the services). The services' own implementations and their
// stores are tested on their branches and in the devstack.

const testSecret = "dashboard-test-secret-0123456789abcdef"

var testNow = time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC)

// mode makes a fake service misbehave.
type mode int

const (
	answer  mode = iota
	blocked      // blocks until the call's deadline or the test's end
)

// fakeCare is the plans service's CareService part.
type fakeCare struct {
	plansv1.UnimplementedCareServiceServer
	mu        sync.Mutex
	summaries []*plansv1.CareSummary
	timelines map[string]*plansv1.GetCareTimelineResponse
	asTeam    []bool
	testCtx   context.Context
	requestID []string // the request id each roster call came with
	mode      mode
}

func (f *fakeCare) BatchGetCareSummaries(ctx context.Context, req *plansv1.BatchGetCareSummariesRequest) (*plansv1.BatchGetCareSummariesResponse, error) {
	c, err := auth.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.requestID = append(f.requestID, c.RequestID)
	m := f.mode
	f.mu.Unlock()
	if m == blocked {
		select {
		case <-ctx.Done():
		case <-f.testCtx.Done():
		}
		return nil, ctx.Err()
	}
	if c.Role != auth.RoleCounsellor {
		return nil, apperr.PermissionDenied("only a counsellor has a roster")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &plansv1.BatchGetCareSummariesResponse{Summaries: f.summaries}, nil
}

func (f *fakeCare) GetCareTimeline(ctx context.Context, req *plansv1.GetCareTimelineRequest) (*plansv1.GetCareTimelineResponse, error) {
	if _, err := auth.CallerFrom(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asTeam = append(f.asTeam, req.GetAsCareTeam())
	tl, ok := f.timelines[req.GetClientId()]
	if !ok {
		return nil, apperr.NotFound("client %q not found", req.GetClientId())
	}
	return tl, nil
}

// fakeJournal is the journal's part.
type fakeJournal struct {
	journalv1.UnimplementedJournalServiceServer
	mu        sync.Mutex
	mode      mode
	refuse    error
	summaries map[string]*journalv1.JournalCareSummary
	details   map[string]*journalv1.GetJournalCareDetailResponse
	slipTimes [][]*timestamppb.Timestamp
	asTeam    []bool
	testCtx   context.Context
}

func (f *fakeJournal) wait(ctx context.Context) error {
	f.mu.Lock()
	m, refuse := f.mode, f.refuse
	f.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	if m == blocked {
		select {
		case <-ctx.Done():
		case <-f.testCtx.Done():
		}
		return ctx.Err()
	}
	return nil
}

func (f *fakeJournal) BatchGetJournalSummaries(ctx context.Context, req *journalv1.BatchGetJournalSummariesRequest) (*journalv1.BatchGetJournalSummariesResponse, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &journalv1.BatchGetJournalSummariesResponse{}
	for _, id := range req.GetClientIds() {
		if s, ok := f.summaries[id]; ok {
			out.Summaries = append(out.Summaries, s)
		}
	}
	return out, nil
}

func (f *fakeJournal) GetJournalCareDetail(ctx context.Context, req *journalv1.GetJournalCareDetailRequest) (*journalv1.GetJournalCareDetailResponse, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slipTimes = append(f.slipTimes, req.GetSlipTimes())
	f.asTeam = append(f.asTeam, req.GetAsCareTeam())
	d, ok := f.details[req.GetClientId()]
	if !ok {
		return nil, apperr.NotFound("client %q not found", req.GetClientId())
	}
	return d, nil
}

// fakeNotify is notify's part.
type fakeNotify struct {
	notifyv1.UnimplementedNotifyServiceServer
	mu        sync.Mutex
	summaries map[string]*notifyv1.NotificationSummary
}

func (f *fakeNotify) BatchGetNotificationSummaries(ctx context.Context, req *notifyv1.BatchGetNotificationSummariesRequest) (*notifyv1.BatchGetNotificationSummariesResponse, error) {
	if _, err := auth.CallerFrom(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &notifyv1.BatchGetNotificationSummariesResponse{}
	for _, id := range req.GetClientIds() {
		if s, ok := f.summaries[id]; ok {
			out.Summaries = append(out.Summaries, s)
		}
	}
	return out, nil
}

// dashStack is the gateway in front of the three fakes.
type dashStack struct {
	t       testing.TB
	clk     *clock.Fake
	gw      *Server
	url     string
	care    *fakeCare
	journal *fakeJournal
	notify  *fakeNotify
}

type stackOpts struct {
	plansDown, journalDown, notifyDown bool
	plansTimeout, journalTimeout       time.Duration
}

// serveFake serves register's service on a loopback port behind the
// platform's interceptors, or returns a closed port when down.
func serveFake(t testing.TB, verifier auth.Verifier, clk clock.Clock, down bool, register func(grpc.ServiceRegistrar)) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if down {
		addr := lis.Addr().String()
		_ = lis.Close() // nothing listens there: connection refused
		return addr
	}
	srv := grpcserver.New(grpcserver.Options{Verifier: verifier, Clock: clk})
	register(srv.GRPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, lis, 0)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

func newDashStack(t testing.TB, o stackOpts) *dashStack {
	t.Helper()
	clk := clock.NewFake(testNow)
	verifier := auth.NewHS256Verifier([]byte(testSecret), "nocontact", "nocontact", clk)
	testCtx, endTest := context.WithCancel(context.Background())
	s := &dashStack{
		t: t, clk: clk,
		care:    &fakeCare{timelines: map[string]*plansv1.GetCareTimelineResponse{}, testCtx: testCtx},
		journal: &fakeJournal{summaries: map[string]*journalv1.JournalCareSummary{}, details: map[string]*journalv1.GetJournalCareDetailResponse{}, testCtx: testCtx},
		notify:  &fakeNotify{summaries: map[string]*notifyv1.NotificationSummary{}},
	}
	plansAddr := serveFake(t, verifier, clk, o.plansDown, func(r grpc.ServiceRegistrar) { plansv1.RegisterCareServiceServer(r, s.care) })
	journalAddr := serveFake(t, verifier, clk, o.journalDown, func(r grpc.ServiceRegistrar) { journalv1.RegisterJournalServiceServer(r, s.journal) })
	notifyAddr := serveFake(t, verifier, clk, o.notifyDown, func(r grpc.ServiceRegistrar) { notifyv1.RegisterNotifyServiceServer(r, s.notify) })
	// Registered after the fakes: runs first, so that a blocked fake
	// returns before its server stops.
	t.Cleanup(endTest)

	env := map[string]string{
		"NOCONTACT_JWT_SECRET":  testSecret,
		"PLANS_ADDR":            plansAddr,
		"JOURNAL_ADDR":          journalAddr,
		"NOTIFY_ADDR":           notifyAddr,
		"METRICS_ADDR":          "off",
		"RATE_LIMIT_PER_SECOND": "100000",
		"RATE_LIMIT_BURST":      "100000",
	}
	if o.plansTimeout > 0 {
		env["DASHBOARD_PLANS_TIMEOUT"] = o.plansTimeout.String()
	}
	if o.journalTimeout > 0 {
		env["DASHBOARD_JOURNAL_TIMEOUT"] = o.journalTimeout.String()
	}
	var cfg Config
	if err := config.LoadFrom(&cfg, env); err != nil {
		t.Fatal(err)
	}
	gw, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), verifier, clk)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gw.Handler())
	t.Cleanup(func() {
		hs.Close()
		gw.close(context.Background())
	})
	s.gw, s.url = gw, hs.URL
	return s
}

func (s *dashStack) token(sub string, role auth.Role) string {
	s.t.Helper()
	tok, err := auth.IssueHS256([]byte(testSecret), "nocontact", "nocontact", sub, role, time.Hour, s.clk)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// get answers the status and the JSON body of GET path with token.
func (s *dashStack) get(path, token string) (int, map[string]any) {
	s.t.Helper()
	code, _, body := s.getWith(path, token, nil)
	return code, body
}

// getWith is get with request headers, answering the response's too.
func (s *dashStack) getWith(path, token string, headers map[string]string) (int, http.Header, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		s.t.Fatalf("GET %s: %d, not JSON: %s", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, body
}

// calls is the dashboard's backend call counter, by "backend method"
// (codes summed), as the gateway's registry exposes it.
func (s *dashStack) calls() map[string]float64 {
	s.t.Helper()
	mfs, err := s.gw.Metrics().Registry().Gather()
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "nocontact_dashboard_backend_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			method := labels["method"][strings.LastIndex(labels["method"], "/")+1:]
			out[labels["backend"]+" "+method] += m.GetCounter().GetValue()
		}
	}
	return out
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func i32(v int32) *int32 { return &v }

var allGranted = []plansv1.ConsentScope{plansv1.ConsentScope_PLAN_PROGRESS, plansv1.ConsentScope_MOOD_INSIGHTS,
	plansv1.ConsentScope_SHARED_JOURNAL, plansv1.ConsentScope_RISK_ALERTS}

// client is one canned client across the three fakes.
type client struct {
	id         string
	scopes     []plansv1.ConsentScope
	streak     int32
	slips      int32
	lastSlip   time.Time
	lastActive time.Time // journal's last activity
	trend      journalv1.MoodTrend
	flags      int32
	severity   journalv1.RiskSeverity
	unacked    int32
	reviewed   time.Time
	unread     int32
	notified   time.Time
}

// add puts c in every fake, as each service would answer it (each part
// under its scope).
func (s *dashStack) add(c client) {
	has := map[plansv1.ConsentScope]bool{}
	for _, sc := range c.scopes {
		has[sc] = true
	}
	cs := &plansv1.CareSummary{ClientId: c.id, GrantedScopes: c.scopes, AssignmentId: "a-" + c.id}
	if !c.reviewed.IsZero() {
		cs.ReviewTime = ts(c.reviewed)
	}
	if has[plansv1.ConsentScope_PLAN_PROGRESS] {
		cs.Plan = &plansv1.PlanCareSummary{PlanId: "p-" + c.id, Status: plansv1.PlanStatus_PLAN_STATUS_ACTIVE,
			CurrentStreakDays: c.streak, SlipsLast_14Days: c.slips, TimeZone: "Europe/Berlin", LocalDate: "2026-03-20",
			NextMilestoneDay: i32(30)}
		if !c.lastSlip.IsZero() {
			cs.Plan.LastSlipTime = ts(c.lastSlip)
			cs.Plan.LastContactTime = ts(c.lastSlip)
		}
	}
	js := &journalv1.JournalCareSummary{ClientId: c.id}
	if has[plansv1.ConsentScope_PLAN_PROGRESS] && !c.lastActive.IsZero() {
		js.LastActivityTime = ts(c.lastActive)
	}
	if has[plansv1.ConsentScope_MOOD_INSIGHTS] {
		js.Mood = &journalv1.MoodCareSummary{LatestMood: i32(1), Trend: c.trend, UrgesLast_7Days: 2}
	}
	if has[plansv1.ConsentScope_RISK_ALERTS] {
		js.Risk = &journalv1.RiskCareSummary{OpenFlags: c.flags, HighestSeverity: c.severity, UnacknowledgedFlags: c.unacked}
	}
	ns := &notifyv1.NotificationSummary{ClientId: c.id, Unread: c.unread}
	if !c.notified.IsZero() {
		ns.LatestTime = ts(c.notified)
	}
	s.care.mu.Lock()
	s.care.summaries = append(s.care.summaries, cs)
	s.care.mu.Unlock()
	s.journal.mu.Lock()
	s.journal.summaries[c.id] = js
	s.journal.mu.Unlock()
	s.notify.mu.Lock()
	s.notify.summaries[c.id] = ns
	s.notify.mu.Unlock()
}

func rowsOf(t testing.TB, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["rows"].([]any)
	if !ok {
		t.Fatalf("no rows in %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

func ids(rows []map[string]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i], _ = r["clientId"].(string)
	}
	return out
}
