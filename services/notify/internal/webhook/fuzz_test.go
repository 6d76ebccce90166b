package webhook

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
)

// notPublic is the oracle: the IANA special-purpose address registries'
// entries that are not globally reachable (or that no receiver can live
// in), written down independently of refusal's switch, so that a range
// the guard forgets shows as a disagreement.
var notPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		// IPv4 (RFC 6890 and successors)
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		// IPv6
		"::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:2::/48",
		"2001:10::/28", "2001:20::/28", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7",
		"fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// public reports whether a is an address a webhook may reach, by the
// oracle: IPv4-mapped addresses are their IPv4 address, NAT64 (RFC 6052
// well-known prefix) and 6to4 addresses are public only when the IPv4
// address they embed is.
func public(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(a):
			return public(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(a):
			return public(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if a == netip.MustParseAddr("255.255.255.255") || a == netip.IPv6Loopback() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// fuzzDNS answers every name with the fuzz input's addresses and records
// the names asked.
type fuzzDNS struct {
	addrs []net.IPAddr
	asked []string
}

func (f *fuzzDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	f.asked = append(f.asked, host)
	return f.addrs, nil
}

// FuzzCheckURL registers arbitrary URLs whose host resolves to arbitrary
// addresses (each 16 bytes of the input is one; a v4-mapped one stands for
// IPv4). It must never panic, and a URL it accepts (production mode)
//
//   - resolves only to public addresses (the oracle above), its literal
//     address included, and each passes the dial-time Control too;
//   - is one the delivery's HTTP client can request, over https, at the
//     very host the guard resolved (parser and guard agree on the host).
func FuzzCheckURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string, addrBytes []byte) {
		dns := &fuzzDNS{}
		for i := 0; i+16 <= len(addrBytes) && i < 16*8; i += 16 {
			dns.addrs = append(dns.addrs, net.IPAddr{IP: net.IP(addrBytes[i : i+16])})
		}
		if CheckURL(context.Background(), raw, false, dns) != nil {
			return
		}
		req, err := http.NewRequest(http.MethodPost, raw, nil)
		if err != nil {
			t.Fatalf("accepted %q, which the delivery cannot request: %v", raw, err)
		}
		if req.URL.Scheme != "https" {
			t.Fatalf("accepted %q with scheme %q", raw, req.URL.Scheme)
		}
		host := req.URL.Hostname()
		var checked []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			if len(dns.asked) != 0 {
				t.Fatalf("accepted %q: asked DNS %q for a literal address", raw, dns.asked)
			}
			checked = []netip.Addr{a}
		} else {
			if len(dns.asked) != 1 || dns.asked[0] != host {
				t.Fatalf("accepted %q: the guard resolved %q, the delivery connects to %q", raw, dns.asked, host)
			}
			for _, ip := range dns.addrs {
				a, _ := netip.AddrFromSlice(ip.IP)
				checked = append(checked, a)
			}
		}
		for _, a := range checked {
			if !public(a) {
				t.Fatalf("accepted %q resolving to %v, which is not a public address", raw, a)
			}
			if err := Control(false)("tcp", netip.AddrPortFrom(a, 443).String(), nil); err != nil {
				t.Fatalf("accepted %q resolving to %v, which the dialer refuses: %v", raw, a, err)
			}
		}
	})
}
