package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// Errors from CheckURL and the dialer. They are written for the user who
// registers the webhook: each names the problem, and none repeats the URL,
// which may carry a token.
var (
	ErrInvalidURL       = errors.New("the webhook URL is not a valid absolute URL")
	ErrInsecureScheme   = errors.New("the webhook URL must use https")
	ErrUserinfo         = errors.New("the webhook URL must not contain a user name or password; put credentials in the secret instead")
	ErrInvalidPort      = errors.New("the webhook URL's port must be between 1 and 65535")
	ErrForbiddenAddress = errors.New("the webhook host points to an address webhooks may not reach")
	// ErrHostNotAllowed is CheckURL's one answer for a host name that does
	// not resolve and for one that resolves to an address webhooks may not
	// reach: two answers would let anyone map internal DNS names.
	ErrHostNotAllowed = errors.New("the webhook host could not be found or is not a public address")
)

// Resolver looks up a host's addresses; net.DefaultResolver satisfies it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// CheckURL decides whether raw may be registered as a webhook: an absolute
// https URL without user information whose host resolves, and only to public
// unicast addresses. In development mode (devMode) loopback addresses are
// allowed too, and plain http is allowed when every address of the host is
// loopback.
//
// Checking at registration is not enough, because DNS can change between now
// and delivery (DNS rebinding): deliveries must also dial through Dialer or
// HTTPClient, which check the address actually connected to.
func CheckURL(ctx context.Context, raw string, devMode bool, r Resolver) error {
	// url.Parse errors quote the input, so they are not passed on.
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Hostname() == "" {
		return ErrInvalidURL
	}
	if u.User != nil {
		return ErrUserinfo
	}
	if p := u.Port(); p != "" {
		// url.Parse checks that a port is digits, not its range.
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return ErrInvalidPort
		}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !devMode {
			return ErrInsecureScheme
		}
	default:
		return ErrInsecureScheme
	}

	_, literalErr := netip.ParseAddr(u.Hostname())
	literal := literalErr == nil
	addrs, err := lookup(ctx, u.Hostname(), r)
	if err != nil {
		return err
	}
	allLoopback := true
	for _, a := range addrs {
		if err := checkAddr(a, devMode); err != nil {
			if !literal {
				// Whether the name resolved is not told (see ErrHostNotAllowed).
				return ErrHostNotAllowed
			}
			return err // the caller wrote the address: its reason reveals nothing
		}
		allLoopback = allLoopback && a.Unmap().IsLoopback()
	}
	if u.Scheme == "http" && !allLoopback {
		return fmt.Errorf("%w (plain http is allowed only to a loopback host in development mode)", ErrInsecureScheme)
	}
	return nil
}

func lookup(ctx context.Context, host string, r Resolver) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ips, err := r.LookupIPAddr(ctx, host)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	// The resolver's error may name internal DNS servers; it is not passed on.
	if err != nil || len(ips) == 0 {
		return nil, ErrHostNotAllowed
	}
	addrs := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			return nil, ErrHostNotAllowed
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// Control is a net.Dialer Control function that refuses to connect to an
// address CheckURL would refuse. It runs after DNS resolution, on the very
// address being connected to, so a host that resolved to a public address at
// registration and to an internal one now is still stopped.
func Control(devMode bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		switch network {
		case "tcp", "tcp4", "tcp6":
		default:
			return fmt.Errorf("%w (only TCP connections are made)", ErrForbiddenAddress)
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w (unrecognised address)", ErrForbiddenAddress)
		}
		return checkAddr(ap.Addr(), devMode)
	}
}

// Dialer returns a dialer for webhook deliveries that re-checks every address
// it connects to (see Control).
func Dialer(devMode bool) *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   Control(devMode),
	}
}

// HTTPClient returns a client for webhook deliveries: it dials through
// Dialer, ignores proxy settings from the environment (a proxy would make the
// dialer check the proxy's address instead of the receiver's), does not
// follow redirects (a redirect is the receiver's answer, not a new target),
// and gives up after timeout (10 seconds when timeout is not positive).
func HTTPClient(devMode bool, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           Dialer(devMode).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var (
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	// "This network": Linux connects 0.0.0.0/8 to the local host.
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	// Special-purpose ranges no real receiver lives in.
	reserved = []netip.Prefix{
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
		netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
		netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
		netip.MustParsePrefix("100::/64"),        // discard
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("2001:2::/48"),     // benchmarking (the IPv6 198.18.0.0/15)
		netip.MustParsePrefix("2001:10::/28"),    // ORCHID (deprecated)
		netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2: identifiers, not routable
		netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
		netip.MustParsePrefix("5f00::/16"),       // SRv6 segment identifiers (RFC 9602)
		netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	}
	// IPv6 ranges that embed an IPv4 address a gateway would forward to.
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	// Teredo embeds a relay's IPv4 address and the client's, obfuscated;
	// no webhook receiver needs to sit behind one, so it is refused whole.
	teredo = netip.MustParsePrefix("2001::/32")
)

// checkAddr refuses any address that is not public unicast; loopback passes
// in development mode.
func checkAddr(a netip.Addr, devMode bool) error {
	reason := refusal(a.WithZone("").Unmap(), devMode)
	if reason == "" {
		return nil
	}
	return fmt.Errorf("%w: it is %s", ErrForbiddenAddress, reason)
}

func refusal(a netip.Addr, devMode bool) string {
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64Local.Contains(a):
			// Local-use NAT64 (RFC 8215) is not globally reachable, and its
			// operator may embed the IPv4 address at any RFC 6052 offset,
			// so the address cannot be read back: refused whole.
			return "a local-use NAT64 address (64:ff9b:1::/48)"
		case nat64.Contains(a):
			if r := refusal(netip.AddrFrom4([4]byte(b[12:16])), false); r != "" {
				return r + " (embedded in a NAT64 address)"
			}
		case teredo.Contains(a):
			return "a Teredo tunnelling address (2001::/32)"
		case sixToFour.Contains(a):
			if r := refusal(netip.AddrFrom4([4]byte(b[2:6])), false); r != "" {
				return r + " (embedded in a 6to4 address)"
			}
		}
	}
	switch {
	case a.IsUnspecified() || (a.Is4() && thisNetwork.Contains(a)):
		return "an unspecified address (0.0.0.0 or ::)"
	case a.IsLoopback():
		if devMode {
			return ""
		}
		return "a loopback address (127.0.0.0/8 or ::1)"
	case a.IsLinkLocalUnicast():
		return "a link-local address (169.254.0.0/16 or fe80::/10), where cloud metadata services live"
	case a.IsMulticast():
		return "a multicast address"
	case a.IsPrivate():
		return "a private network address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or fc00::/7)"
	case cgnat.Contains(a):
		return "a shared carrier-grade NAT address (100.64.0.0/10)"
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return "a reserved special-purpose address"
		}
	}
	if !a.IsGlobalUnicast() {
		return "a reserved special-purpose address"
	}
	return ""
}
