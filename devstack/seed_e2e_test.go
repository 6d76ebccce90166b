package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	notifyv1 "github.com/nocontact/backend/proto/gen/go/nocontact/notify/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcclient"
)

// The demo data goes in through the public API, twice without doubling:
// a dozen clients actively assigned to the counsellor, each with one plan
// at its point, the crisis check-in's open risk flag, the consents as
// listed.
func TestSeedMakesTheDemoCounsellorOnceThroughThePublicAPI(t *testing.T) {
	s := startSuite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := SeedConfig{BaseURL: s.base, Secret: testSecret, CounsellorID: "k-demo"}
	first, err := Seed(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Seed(ctx, cfg)
	if err != nil {
		t.Fatalf("a second run: %v", err)
	}
	if len(first.Clients) != 12 || len(second.Clients) != 12 || first.CounsellorID != "k-demo" {
		t.Fatalf("seeded %v / %v for %s, want a dozen clients", first.Clients, second.Clients, first.CounsellorID)
	}
	counsellor := second.Token
	admin := token(t, "k-demo-admin", auth.RoleAdmin)

	list := s.mustCall(http.StatusOK, "GET", "/v1/care-assignments?counsellorId=k-demo&pageSize=100", admin, nil)
	as, _ := list["careAssignments"].([]any)
	active := 0
	for _, a := range as {
		if a.(map[string]any)["status"] == "CARE_ASSIGNMENT_STATUS_ACTIVE" {
			active++
		}
	}
	if len(as) != 12 || active != 12 {
		t.Errorf("the counsellor has %d assignments, %d active; want 12 and 12", len(as), active)
	}

	plan := func(client string) map[string]any {
		t.Helper()
		out := s.mustCall(http.StatusOK, "GET", "/v1/plans?clientId="+client, token(t, client, auth.RoleClient), nil)
		plans, _ := out["plans"].([]any)
		if len(plans) != 1 {
			t.Fatalf("%s has %d plans, want 1", client, len(plans))
		}
		return plans[0].(map[string]any)
	}
	if p := plan("k-demo-completed"); p["status"] != "PLAN_STATUS_COMPLETED" {
		t.Errorf("the completed client's plan is %v", p["status"])
	}
	day7 := plan("k-demo-day7")
	progress := s.mustCall(http.StatusOK, "GET", "/v1/plans/"+day7["id"].(string)+"/progress", counsellor, nil)
	if progress["currentStreakDays"] != float64(7) {
		t.Errorf("day 7's streak, as the counsellor sees it = %v, want 7", progress["currentStreakDays"])
	}
	slip := plan("k-demo-slip")
	contacts := s.mustCall(http.StatusOK, "GET", "/v1/plans/"+slip["id"].(string)+"/contacts", token(t, "k-demo-slip", auth.RoleClient), nil)
	if cs, _ := contacts["contacts"].([]any); len(cs) != 1 || cs[0].(map[string]any)["classification"] != "SLIP" {
		t.Errorf("the slip client's contacts = %v, want one slip", contacts["contacts"])
	}
	checkIns := s.mustCall(http.StatusOK, "GET", "/v1/clients/k-demo-day7/checkins?pageSize=50", token(t, "k-demo-day7", auth.RoleClient), nil)
	if ci, _ := checkIns["checkIns"].([]any); len(ci) != 7 {
		t.Errorf("day 7 has %d check-ins after two runs, want 7", len(ci))
	}
	eventually(t, 20*time.Second, func() string {
		flags := s.mustCall(http.StatusOK, "GET", "/v1/clients/k-demo-crisis/risk-flags", counsellor, nil)
		if fs, _ := flags["riskFlags"].([]any); len(fs) != 1 {
			return "the crisis client's risk flags: " + fmt.Sprint(flags)
		}
		return ""
	})
	scopes := func(client string) []string {
		out := s.mustCall(http.StatusOK, "GET", "/v1/clients/"+client+"/consents", token(t, client, auth.RoleClient), nil)
		var granted []string
		cs, _ := out["consents"].([]any)
		for _, c := range cs {
			if m := c.(map[string]any); m["granted"] == true {
				granted = append(granted, m["scope"].(string))
			}
		}
		return granted
	}
	if g := scopes("k-demo-progressonly"); len(g) != 1 || g[0] != "PLAN_PROGRESS" {
		t.Errorf("progress-only client grants %v", g)
	}
	if g := scopes("k-demo-revoked"); len(g) != 0 {
		t.Errorf("the revoked client still grants %v", g)
	}
	if g := scopes("k-demo-steady"); len(g) != 4 {
		t.Errorf("the steady client grants %v, want all four", g)
	}

	// notify's batch summary, over gRPC with the counsellor's token and the
	// real CheckCareAccess: the crisis client's urgent notification is
	// unread; the revoked client is left out.
	target, dial := grpcclient.ListTarget(s.stack.NotifyAddr)
	conn, err := grpc.NewClient(target, append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(grpcclient.RoundRobin))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	notify := notifyv1.NewNotifyServiceClient(conn)
	eventually(t, 20*time.Second, func() string {
		cctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+counsellor)
		out, err := notify.BatchGetNotificationSummaries(cctx, &notifyv1.BatchGetNotificationSummariesRequest{ClientIds: []string{"k-demo-crisis", "k-demo-revoked"}})
		if err != nil {
			return err.Error()
		}
		sums := out.GetSummaries()
		if len(sums) != 1 || sums[0].GetClientId() != "k-demo-crisis" || !sums[0].GetUrgentUnread() {
			return fmt.Sprintf("the counsellor's summaries = %v, want the crisis client's urgent unread only", sums)
		}
		return ""
	})
}
