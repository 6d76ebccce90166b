package plansclient_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/services/journal/internal/adapters/plansclient"
	"github.com/nocontact/backend/services/journal/internal/app"
)

// plans is a stand-in for the plans service's CareService on a real gRPC
// connection: it records each CheckCareAccess request and allows the
// MOOD_INSIGHTS queries.
type plans struct {
	plansv1.UnimplementedCareServiceServer
	mu   sync.Mutex
	reqs []*plansv1.CheckCareAccessRequest
}

func (p *plans) CheckCareAccess(_ context.Context, req *plansv1.CheckCareAccessRequest) (*plansv1.CheckCareAccessResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, req)
	out := &plansv1.CheckCareAccessResponse{}
	for _, q := range req.GetQueries() {
		out.Allowed = append(out.Allowed, q.GetScope() == plansv1.ConsentScope_MOOD_INSIGHTS)
	}
	return out, nil
}

func serve(t *testing.T) (*plans, *plansclient.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &plans{}
	srv := grpc.NewServer()
	plansv1.RegisterCareServiceServer(srv, p)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	conn, err := grpcclient.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop(); <-done })
	return p, plansclient.New(conn)
}

// A whole batch is one CheckCareAccess call, answered in order, with
// as_care_team passed on.
func TestAllowedAllIsOneCheckCareAccessCall(t *testing.T) {
	for _, asCareTeam := range []bool{false, true} {
		p, c := serve(t)
		var queries []app.CareQuery
		for i := range 500 {
			for _, s := range []string{app.ScopePlanProgress, app.ScopeMoodInsights, app.ScopeRiskAlerts} {
				queries = append(queries, app.CareQuery{ClientID: string(rune('a'+i%26)) + "-client", Scope: s})
			}
		}
		got, err := c.AllowedAll(context.Background(), "counsellor-1", queries, asCareTeam)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.reqs) != 1 || len(p.reqs[0].GetQueries()) != 1500 || p.reqs[0].GetAsCareTeam() != asCareTeam {
			t.Fatalf("plans got %d calls (first: %d queries, as_care_team %v), want 1 with 1500 and %v",
				len(p.reqs), len(p.reqs[0].GetQueries()), p.reqs[0].GetAsCareTeam(), asCareTeam)
		}
		want := make([]bool, len(queries))
		for i, q := range queries {
			want[i] = q.Scope == app.ScopeMoodInsights
		}
		if !slices.Equal(got, want) {
			t.Fatal("answers are not in the order of the questions")
		}
	}
}

// More than plans answers in one call is refused before asking.
func TestAllowedAllRefusesMoreThanOneCallHolds(t *testing.T) {
	p, c := serve(t)
	queries := make([]app.CareQuery, plansclient.MaxQueries+1)
	for i := range queries {
		queries[i] = app.CareQuery{ClientID: "c", Scope: app.ScopeMoodInsights}
	}
	if _, err := c.AllowedAll(context.Background(), "counsellor-1", queries, false); err == nil || len(p.reqs) != 0 {
		t.Fatalf("err = %v after %d calls, want a refusal before any call", err, len(p.reqs))
	}
}
