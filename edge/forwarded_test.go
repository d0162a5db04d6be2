package edge

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
)

// TestTheOriginCountsUpstreamSubscriptionsAgainstTheClientsBehindTheEdge:
// the edge opens each upstream subscription with Forwarded naming the
// subscriber it opens it for, so an origin that trusts the edge bounds
// subscriptions per client behind it, not per edge; one that does not trust
// it counts them all against the edge's address (negative control).
func TestTheOriginCountsUpstreamSubscriptionsAgainstTheClientsBehindTheEdge(t *testing.T) {
	for _, tt := range []struct {
		name   string
		trust  []netip.Prefix
		second string // the second client's status
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "200"},
		{"not trusted", nil, "429"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, func(s *stream.Streamer) {
				s.MaxPerClient = 1
				s.TrustedProxies = tt.trust
			})
			e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
			// Two clients behind the edge, each on a private stream of its
			// own: two upstream subscriptions.
			for i, name := range []string{"a", "b"} {
				from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
				conn, err := (&net.Dialer{LocalAddr: from}).Dial("tcp", e.srv.PlainListenAddr().String())
				if err != nil {
					t.Fatal(err)
				}
				raw := testkit.NewRawConn(t, conn)
				raw.Send(t, "GET /private/"+name+" HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer "+name+"\r\n\r\n")
				status, _ := raw.ResponseHead(t)
				want := "200"
				if i == 1 {
					want = tt.second
				}
				if !strings.Contains(status, want) {
					t.Fatalf("client %d: %q, want %s", i+1, status, want)
				}
			}
		})
	}
}
