package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeDNS resolves from a map; a missing host does not resolve.
type fakeDNS map[string][]string

func (f fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.0.0.2:53", IsNotFound: true}
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

var _ Resolver = net.DefaultResolver

func TestCheckURL(t *testing.T) {
	dns := fakeDNS{
		"hooks.example.com":   {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"ten.example.com":     {"10.1.2.3"},
		"one72.example.com":   {"172.20.0.5"},
		"one92.example.com":   {"192.168.1.10"},
		"ula.example.com":     {"fd12:3456:789a::1"},
		"loop.example.com":    {"127.0.0.1"},
		"loop6.example.com":   {"::1"},
		"meta.example.com":    {"169.254.169.254"},
		"ll6.example.com":     {"fe80::1"},
		"zero.example.com":    {"0.0.0.0"},
		"zero6.example.com":   {"::"},
		"mcast.example.com":   {"224.0.0.251"},
		"mcast6.example.com":  {"ff02::1"},
		"cgnat.example.com":   {"100.100.1.1"},
		"mapped.example.com":  {"::ffff:169.254.169.254"},
		"mapped10.example":    {"::ffff:10.0.0.1"},
		"nat64.example.com":   {"64:ff9b::a00:1"}, // 10.0.0.1
		"bcast.example.com":   {"255.255.255.255"},
		"doc.example.com":     {"192.0.2.10"},
		"mixed.example.com":   {"93.184.215.14", "10.0.0.7"}, // one bad address is enough
		"localhost":           {"127.0.0.1", "::1"},
		"public.example.test": {"8.8.8.8"},
		"teredo.example.com":  {"2001:0:4136:e378:8000:63bf:3fff:fdd2"},
	}
	tests := []struct {
		name    string
		url     string
		devMode bool
		want    error  // nil: allowed
		says    string // part of the message the user sees
	}{
		{"public https", "https://hooks.example.com/nocontact?token=TOPSECRET", false, nil, ""},
		{"public https with port", "https://hooks.example.com:8443/in", false, nil, ""},
		{"public IP literal", "https://93.184.215.14/in", false, nil, ""},
		{"http outside dev", "http://hooks.example.com/in?token=TOPSECRET", false, ErrInsecureScheme, "https"},
		{"http to a public host in dev", "http://public.example.test/in", true, ErrInsecureScheme, "loopback"},
		{"other scheme", "ftp://hooks.example.com/in", false, ErrInsecureScheme, "https"},
		{"dev http to localhost", "http://localhost:8080/hook?token=TOPSECRET", true, nil, ""},
		{"dev http to 127.0.0.1", "http://127.0.0.1:9000/hook", true, nil, ""},
		{"dev http to [::1]", "http://[::1]:9000/hook", true, nil, ""},
		{"dev https to loopback", "https://loop.example.com/hook", true, nil, ""},
		{"dev still refuses private", "http://ten.example.com/hook", true, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"dev still refuses metadata", "https://169.254.169.254/latest/meta-data/", true, ErrForbiddenAddress, "link-local"},
		{"userinfo", "https://alice:s3cr3t-pass@hooks.example.com/in?token=TOPSECRET", false, ErrUserinfo, "user name or password"},
		{"user only", "https://alice@hooks.example.com/in", false, ErrUserinfo, "user name"},
		{"unresolvable", "https://nowhere.example.com/in?token=TOPSECRET", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"port 0", "https://hooks.example.com:0/in", false, ErrInvalidPort, "between 1 and 65535"},
		{"port over 65535", "https://hooks.example.com:65536/in", false, ErrInvalidPort, "between 1 and 65535"},
		{"port far over", "https://hooks.example.com:99999999999999999999/in", false, ErrInvalidPort, "between 1 and 65535"},
		{"port 65535", "https://hooks.example.com:65535/in", false, nil, ""},
		{"Teredo literal", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/in", false, ErrForbiddenAddress, "Teredo"},
		{"Teredo by name", "https://teredo.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"not a URL", "::not a url TOPSECRET", false, ErrInvalidURL, "not a valid"},
		{"relative", "/hooks/in", false, ErrInvalidURL, "not a valid"},
		{"no host", "https:///in", false, ErrInvalidURL, "not a valid"},
		{"opaque", "https:hooks.example.com", false, ErrInvalidURL, "not a valid"},
		{"10/8", "https://ten.example.com/in?token=TOPSECRET", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"172.16/12", "https://one72.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"192.168/16", "https://one92.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"fc00::/7", "https://ula.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"loopback name", "https://loop.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"loopback v6", "https://loop6.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"localhost outside dev", "https://localhost/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"loopback literal", "https://127.0.0.1/in", false, ErrForbiddenAddress, "loopback"},
		{"127/8 beyond .1", "https://127.1.2.3/in", false, ErrForbiddenAddress, "loopback"},
		{"cloud metadata", "https://meta.example.com/latest/meta-data/", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"link-local v6", "https://ll6.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"link-local v6 literal with zone", "https://[fe80::1%25eth0]/in", false, ErrForbiddenAddress, "link-local"},
		{"unspecified v4", "https://zero.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"unspecified v6", "https://zero6.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"this network", "https://0.1.2.3/in", false, ErrForbiddenAddress, "unspecified"},
		{"multicast v4", "https://mcast.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"multicast v6", "https://mcast6.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"CGNAT", "https://cgnat.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"IPv4-mapped metadata", "https://mapped.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"IPv4-mapped private", "https://mapped10.example/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"IPv4-mapped loopback literal", "https://[::ffff:127.0.0.1]/in", false, ErrForbiddenAddress, "loopback"},
		{"NAT64 of a private address", "https://nat64.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"broadcast", "https://bcast.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"documentation range", "https://doc.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
		{"one private address among public ones", "https://mixed.example.com/in", false, ErrHostNotAllowed, "could not be found or is not a public address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckURL(context.Background(), tt.url, tt.devMode, dns)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want allowed", tt.url, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want %v", tt.url, err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.says) {
				t.Errorf("message %q does not say %q", msg, tt.says)
			}
			for _, leak := range []string{"TOPSECRET", "s3cr3t", "alice", "example", "10.0.0.2"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q repeats %q from the URL or resolver", msg, leak)
				}
			}
		})
	}
}

// A name that does not resolve and one that resolves to an internal address
// get the very same answer: otherwise registration maps internal DNS names.
func TestCheckURLDoesNotTellUnresolvableFromInternal(t *testing.T) {
	dns := fakeDNS{"intranet.example.com": {"10.0.0.8"}}
	internal := CheckURL(context.Background(), "https://intranet.example.com/in", false, dns)
	missing := CheckURL(context.Background(), "https://missing.example.com/in", false, dns)
	if internal == nil || missing == nil || internal.Error() != missing.Error() {
		t.Fatalf("internal name: %v; missing name: %v; want one and the same refusal", internal, missing)
	}
}

func TestCheckURLStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CheckURL(ctx, "https://hooks.example.com/in", false, fakeDNS{}); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckURL with a cancelled context = %v, want context.Canceled", err)
	}
}

// DNS can change after CheckURL passed; the dialer checks the address it
// actually connects to.
func TestDialerRefusesInternalAddressesAtConnectTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()

	conn, err := Dialer(false).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
		t.Fatal("dialing 127.0.0.1 outside development mode succeeded")
	}
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("dial error = %v, want ErrForbiddenAddress", err)
	}

	conn, err = Dialer(true).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dialing 127.0.0.1 in development mode: %v", err)
	}
	conn.Close()
}

func TestControlChecksEachAddress(t *testing.T) {
	tests := []struct {
		network, address string
		devMode          bool
		allowed          bool
	}{
		{"tcp4", "93.184.215.14:443", false, true},
		{"tcp6", "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443", false, true},
		{"tcp4", "169.254.169.254:80", false, false},
		{"tcp4", "169.254.169.254:80", true, false},
		{"tcp6", "[::ffff:10.0.0.1]:443", false, false},
		{"tcp4", "127.0.0.1:8080", false, false},
		{"tcp4", "127.0.0.1:8080", true, true},
		{"udp4", "93.184.215.14:53", false, false},
	}
	for _, tt := range tests {
		err := Control(tt.devMode)(tt.network, tt.address, nil)
		if (err == nil) != tt.allowed {
			t.Errorf("Control(dev=%v)(%s, %s) = %v, want allowed=%v", tt.devMode, tt.network, tt.address, err, tt.allowed)
		}
	}
}

func TestHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	if resp, err := HTTPClient(false, 0).Post(srv.URL+"/in", "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
		t.Error("the production client reached a loopback server")
	} else if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("production client error = %v, want ErrForbiddenAddress", err)
	}

	dev := HTTPClient(true, 0)
	defer dev.CloseIdleConnections()
	resp, err := dev.Post(srv.URL+"/in", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("development client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("development client status = %d, want 204", resp.StatusCode)
	}

	resp, err = dev.Post(srv.URL+"/moved", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("redirect: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("redirect status = %d, want the 302 itself, not followed", resp.StatusCode)
	}
}
