package tlsx_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nocontact/backend/platform/tlsx"
	"github.com/nocontact/backend/platform/tlsx/tlstest"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestFilesAllOrNone(t *testing.T) {
	for _, tt := range []struct {
		f       tlsx.Files
		enabled bool
		wantErr string
	}{
		{tlsx.Files{}, false, ""},
		{tlsx.Files{Cert: "c", Key: "k", CA: "a"}, true, ""},
		{tlsx.Files{Cert: "c", Key: "k"}, true, "TLS_CA_FILE"},
		{tlsx.Files{CA: "a"}, true, "TLS_CERT_FILE"},
	} {
		err := tt.f.Validate()
		if tt.f.Enabled() != tt.enabled || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: enabled %v, err %v; want %v, %q", tt.f, tt.f.Enabled(), err, tt.enabled, tt.wantErr)
		}
	}
}

func TestLoadRefusesBrokenFiles(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	f := ca.Issue(t, t.TempDir(), "plans", "plans")
	if err := os.WriteFile(f.Key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsx.Load(f, quiet()); err == nil {
		t.Fatal("Load accepted a broken key")
	}
	if _, err := tlsx.Load(tlsx.Files{Cert: f.Cert, Key: f.Key, CA: filepath.Join(t.TempDir(), "missing")}, quiet()); err == nil {
		t.Fatal("Load accepted a missing CA bundle")
	}
}

// A renewed certificate (cert-manager rewrites the mounted files) is
// served from the next handshake on, without a restart; files that do not
// load keep the previous certificate in service.
func TestRenewedCertificateIsServedWithoutRestart(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	serverDir := t.TempDir()
	server, err := tlsx.Load(ca.Issue(t, serverDir, "plans", "127.0.0.1"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	client, err := tlsx.Load(ca.Issue(t, t.TempDir(), "gateway"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", server.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	serial := func() string {
		t.Helper()
		cfg := client.ClientConfig()
		cfg.ServerName = "127.0.0.1"
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", lis.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}

	first := serial()
	ca.Issue(t, serverDir, "plans", "127.0.0.1") // the renewal
	second := serial()
	if first == second {
		t.Fatal("the renewed certificate was not served")
	}
	if err := os.WriteFile(filepath.Join(serverDir, "tls.key"), []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if third := serial(); third != second {
		t.Fatalf("after a broken write the server presents %s, want the last good certificate %s", third, second)
	}
}
