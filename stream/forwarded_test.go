package stream_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/subpub/subpub/stream"
)

// TestClientAddr: a Forwarded field is believed only from a trusted proxy,
// and then its last element (the one that proxy added) names the client.
func TestClientAddr(t *testing.T) {
	s := &stream.Streamer{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, tt := range []struct {
		remote, forwarded, want string
	}{
		{"10.1.2.3:5000", "for=192.0.2.7", "192.0.2.7"},
		{"10.1.2.3:5000", `for="[2001:db8::7]:4711"`, "2001:db8::7"},
		{"10.1.2.3:5000", "for=192.0.2.1, for=198.51.100.9;proto=https", "198.51.100.9"}, // the last element is the trusted proxy's
		{"[::1]:5000", "For=192.0.2.8", "192.0.2.8"},
		{"10.1.2.3:5000", "for=unknown", "10.1.2.3"},
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"192.0.2.50:5000", "for=192.0.2.7", "192.0.2.50"}, // not trusted: ignored
		{"[::ffff:10.1.2.3]:5000", "for=192.0.2.9", "192.0.2.9"},
	} {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		if tt.forwarded != "" {
			r.Header.Set("Forwarded", tt.forwarded)
		}
		if got := s.ClientAddr(r); got != tt.want {
			t.Errorf("%s with Forwarded %q: %s, want %s", tt.remote, tt.forwarded, got, tt.want)
		}
	}
	if got := stream.ForwardedFor(netip.MustParseAddr("2001:db8::1")); got != `for="[2001:db8::1]"` {
		t.Errorf("ForwardedFor(IPv6) = %s", got)
	}
	if got := stream.ForwardedFor(netip.MustParseAddr("::ffff:192.0.2.1")); got != "for=192.0.2.1" {
		t.Errorf("ForwardedFor(IPv4 in IPv6) = %s", got)
	}
}
