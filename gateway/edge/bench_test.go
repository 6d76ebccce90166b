package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	plansv1 "github.com/nocontact/backend/proto/gen/go/nocontact/plans/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/benchx"
	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/config"
	"github.com/nocontact/backend/platform/grpcclient"
)

// cannedPlans answers GetPlan with a fixed plan and no store: what differs
// between the two ways of reading it below is the gateway.
type cannedPlans struct {
	plansv1.UnimplementedPlansServiceServer
	resp *plansv1.GetPlanResponse
}

func (c cannedPlans) GetPlan(context.Context, *plansv1.GetPlanRequest) (*plansv1.GetPlanResponse, error) {
	return c.resp, nil
}

const benchPlanID = "0193a5b0-7c3e-7000-8000-000000000001"

// BenchmarkGatewayVsDirect is goal 2 of docs/performance.md: the same
// GetPlan read over the gateway (HTTP/JSON, the whole middleware stack,
// grpc-gateway, protojson, one gRPC hop) and over direct gRPC to the same
// plans server (the platform's server behind both), side by side in one
// run, 8 concurrent callers each. The gateway and the plans server each
// have the verifier auth.NewVerifier builds from the default
// configuration (its token cache included), as in production where they
// are separate processes.
func BenchmarkGatewayVsDirect(b *testing.B) {
	clk := clock.NewFake(testNow)
	newVerifier := func() auth.Verifier {
		var cfg config.Auth
		if err := config.LoadFrom(&cfg, map[string]string{"NOCONTACT_JWT_SECRET": testSecret}); err != nil {
			b.Fatal(err)
		}
		v, err := auth.NewVerifier(context.Background(), cfg, clk, nil)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	days := int32(30)
	plans := cannedPlans{resp: &plansv1.GetPlanResponse{Plan: &plansv1.Plan{
		Id: benchPlanID, ClientId: "client-1", Status: plansv1.PlanStatus_PLAN_STATUS_ACTIVE, TargetDays: &days,
		TimeZone: "Europe/Berlin", StartTime: timestamppb.New(testNow.Add(-72 * time.Hour)),
		Reasons: []string{"I deserve peace", "Sleep again", "Focus on work"},
	}}}
	plansAddr := serveFake(b, newVerifier(), clk, false, func(r grpc.ServiceRegistrar) { plansv1.RegisterPlansServiceServer(r, plans) })
	tok, err := auth.IssueHS256([]byte(testSecret), "nocontact", "nocontact", "client-1", auth.RoleClient, time.Hour, clk)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("direct", func(b *testing.B) {
		conn, err := grpcclient.Dial(plansAddr)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		c := plansv1.NewPlansServiceClient(conn)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		req := &plansv1.GetPlanRequest{PlanId: benchPlanID}
		benchx.Parallel(b, func() error { _, err := c.GetPlan(ctx, req); return err })
	})

	b.Run("gateway", func(b *testing.B) {
		env := map[string]string{
			"NOCONTACT_JWT_SECRET":  testSecret,
			"PLANS_ADDR":            plansAddr,
			"JOURNAL_ADDR":          plansAddr,
			"NOTIFY_ADDR":           plansAddr,
			"METRICS_ADDR":          "off",
			"RATE_LIMIT_PER_SECOND": "1000000",
			"RATE_LIMIT_BURST":      "1000000",
		}
		var cfg Config
		if err := config.LoadFrom(&cfg, env); err != nil {
			b.Fatal(err)
		}
		log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
		gw, err := New(context.Background(), cfg, log, newVerifier(), clk)
		if err != nil {
			b.Fatal(err)
		}
		hs := httptest.NewServer(gw.Handler())
		defer func() { hs.Close(); gw.close(context.Background()) }()
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchx.Concurrency * 2}}
		defer hc.CloseIdleConnections()
		url := hs.URL + "/v1/plans/" + benchPlanID
		benchx.Parallel(b, func() error {
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	})
}
