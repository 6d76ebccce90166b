package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	journalv1 "github.com/nocontact/backend/proto/gen/go/nocontact/journal/v1"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcclient"
)

// The journal's roster rows over gRPC with the real plans service behind
// them: only the consented scope's part, empty at once after a revocation,
// and as_care_team refused to a counsellor naming the field.
func TestJournalSummariesFollowTheRealConsents(t *testing.T) {
	s := startSuite(t)
	client, counsellor, admin := token(t, "client-cj", auth.RoleClient), token(t, "counsellor-cj", auth.RoleCounsellor), token(t, "admin-cj", auth.RoleAdmin)
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-cj/checkins", client, map[string]any{"mood": -2, "timeZone": "Europe/Berlin"})
	s.mustCall(http.StatusOK, "POST", "/v1/care-assignments", admin, map[string]any{"clientId": "client-cj", "counsellorId": "counsellor-cj"})
	s.mustCall(http.StatusOK, "POST", "/v1/clients/client-cj/consents", client, map[string]any{"scope": "MOOD_INSIGHTS"})

	target, list := grpcclient.ListTarget(s.stack.JournalAddr)
	conn, err := grpc.NewClient(target, append(list, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(grpcclient.RoundRobin))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	j := journalv1.NewJournalServiceClient(conn)
	call := func(tok string, req *journalv1.BatchGetJournalSummariesRequest) (*journalv1.BatchGetJournalSummariesResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return j.BatchGetJournalSummaries(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), req)
	}

	resp, err := call(counsellor, &journalv1.BatchGetJournalSummariesRequest{ClientIds: []string{"client-cj", "someone-else"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetSummaries(); len(got) != 1 || got[0].GetMood().GetLatestMood() != -2 || got[0].Risk != nil || got[0].LastActivityTime != nil {
		t.Fatalf("rows = %v, want client-cj's mood part only", got)
	}

	_, err = call(counsellor, &journalv1.BatchGetJournalSummariesRequest{ClientIds: []string{"client-cj"}, AsCareTeam: true})
	st := status.Convert(err)
	var field string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			field = br.GetFieldViolations()[0].GetField()
		}
	}
	if st.Code() != codes.InvalidArgument || field != "as_care_team" {
		t.Fatalf("counsellor with as_care_team = %v (field %q), want InvalidArgument naming as_care_team", err, field)
	}

	s.mustCall(http.StatusOK, "DELETE", "/v1/clients/client-cj/consents/MOOD_INSIGHTS", client, nil)
	resp, err = call(counsellor, &journalv1.BatchGetJournalSummariesRequest{ClientIds: []string{"client-cj"}})
	if err != nil || len(resp.GetSummaries()) != 0 {
		t.Fatalf("after revocation: %v, %v; want no row", resp.GetSummaries(), err)
	}
}
