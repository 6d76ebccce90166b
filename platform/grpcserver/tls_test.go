package grpcserver_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/nocontact/backend/platform/grpcserver"
	"github.com/nocontact/backend/platform/tlsx"
	"github.com/nocontact/backend/platform/tlsx/tlstest"
)

// With mutual TLS on, the API answers only callers that present a
// certificate of the suite's CA, while the plaintext probe port still
// tells the kubelet the server's health, including NOT_SERVING once it
// shuts down.
func TestMutualTLSAndPlaintextProbes(t *testing.T) {
	ca := tlstest.NewCA(t, "nocontact internal CA")
	serverCerts, err := tlsx.Load(ca.Issue(t, t.TempDir(), "plans", "plans", "127.0.0.1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New(grpcserver.Options{ServiceName: testService, TLS: serverCerts.ServerConfig()})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probeLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopProbes := srv.ServeProbes(probeLis)
	defer stopProbes()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis, time.Second) }()

	check := func(addr string, creds credentials.TransportCredentials, name string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		t.Helper()
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer ccancel()
		resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{Service: name})
		return resp.GetStatus(), err
	}
	tlsWith := func(files *tlsx.Source, serverName string) credentials.TransportCredentials {
		cfg := files.ClientConfig()
		cfg.ServerName = serverName
		return credentials.NewTLS(cfg)
	}

	gateway, err := tlsx.Load(ca.Issue(t, t.TempDir(), "gateway"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := check(lis.Addr().String(), tlsWith(gateway, "127.0.0.1"), ""); err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("a caller with a certificate of the CA: %v, %v; want SERVING", st, err)
	}

	stranger, err := tlsx.Load(tlstest.NewCA(t, "another CA").Issue(t, t.TempDir(), "stranger"), nil)
	if err != nil {
		t.Fatal(err)
	}
	noCert := gateway.ClientConfig() // trusts the server, presents nothing
	noCert.ServerName = "127.0.0.1"
	noCert.GetClientCertificate = nil
	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext":                      insecure.NewCredentials(),
		"a certificate of a stranger CA": tlsWith(stranger, "127.0.0.1"),
		"no client certificate":          credentials.NewTLS(noCert),
		"the wrong server name":          tlsWith(gateway, "journal"),
	} {
		if _, err := check(lis.Addr().String(), creds, ""); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: err = %v, want the connection refused (Unavailable)", name, err)
		}
	}

	for _, svc := range []string{"", grpcserver.LivenessService} {
		if st, err := check(probeLis.Addr().String(), insecure.NewCredentials(), svc); err != nil || st != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("plaintext probe %q: %v, %v; want SERVING", svc, st, err)
		}
	}

	// Shutting down: the probe port says so while the API drains.
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if st, err := check(probeLis.Addr().String(), insecure.NewCredentials(), ""); err != nil || st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("probe after shutdown: %v, %v; want NOT_SERVING", st, err)
	}
}
