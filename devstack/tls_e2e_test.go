package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/grpcclient"
	"github.com/nocontact/backend/platform/tlsx/tlstest"
)

// With mutual TLS on, the whole suite still works as a client sees it,
// through every service-to-service hop (gateway → plans, journal, notify;
// journal → plans during an urge), while a caller without a certificate of
// the suite's CA cannot talk to a service at all.
func TestMutualTLSBetweenServices(t *testing.T) {
	files := tlstest.NewCA(t, "nocontact devstack CA").Issue(t, t.TempDir(), "devstack", "127.0.0.1", "localhost")
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) {
		st.TLSCertFile, st.TLSKeyFile, st.TLSCAFile = files.Cert, files.Key, files.CA
	})

	client := token(t, "client-tls", auth.RoleClient)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{
		"timeZone": "Europe/Lisbon", "startTime": time.Now().Add(-3 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"reasons": []string{"I deserve calm mornings"},
	})
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+plan["id"].(string)+":activate", client, map[string]any{})
	ans := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-tls/urges", client, map[string]any{"intensity": 5})
	if reasons, _ := ans["reasons"].([]any); len(reasons) != 1 || ans["planUnavailable"] != false {
		t.Fatalf("urge answer = %v: journal did not reach plans over mutual TLS", ans)
	}
	eventually(t, 10*time.Second, func() string {
		if len(notificationsByKind(t, s, client)["NOTIFICATION_KIND_MILESTONE_REACHED"]) == 0 {
			return "no milestone notification through the gateway and notify"
		}
		return ""
	})

	// At NOCONTACT_REPLICAS > 1 the address lists every replica.
	target, list := grpcclient.ListTarget(s.stack.PlansAddr)
	conn, err := grpc.NewClient(target, append(list, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("a plaintext call to plans: err = %v, want the connection refused", err)
	}
}
