package stream

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ForwardedFor is the value of a Forwarded field (RFC 7239) naming addr as
// the client a proxy forwards a request for: an IPv6 address is quoted and
// in brackets (§6).
func ForwardedFor(addr netip.Addr) string {
	if addr.Is6() && !addr.Is4In6() {
		return `for="[` + addr.String() + `]"`
	}
	return "for=" + addr.Unmap().String()
}

// ClientAddr is the address of r's client: the peer's, or, when the peer is
// a proxy this Streamer trusts (TrustedProxies), the one the proxy named in
// the last element of Forwarded (the one it added). The per-client bound
// counts subscriptions by it.
func (s *Streamer) ClientAddr(r *http.Request) string {
	peer := remoteIP(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	for _, p := range s.TrustedProxies {
		if p.Contains(peer) {
			if client, ok := lastForwardedFor(r.Header.Values("Forwarded")); ok {
				return client.String()
			}
			break
		}
	}
	return peer.String()
}

func remoteIP(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// lastForwardedFor is the for= address of the last element of the Forwarded
// field lines, if it is an address (not "unknown" nor an obfuscated name).
func lastForwardedFor(lines []string) (netip.Addr, bool) {
	if len(lines) == 0 {
		return netip.Addr{}, false
	}
	elements := strings.Split(lines[len(lines)-1], ",")
	for _, pair := range strings.Split(elements[len(elements)-1], ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(name, "for") {
			continue
		}
		value = strings.Trim(value, `"`)
		if h, _, err := net.SplitHostPort(value); err == nil {
			value = h // with a port
		}
		value = strings.TrimSuffix(strings.TrimPrefix(value, "["), "]")
		a, err := netip.ParseAddr(value)
		if err != nil {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
