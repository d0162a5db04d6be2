package interop

import (
	"net"
	"testing"

	"github.com/subpub/subpub/internal/testkit"
)

// h2specNetHTTP is what net/http's HTTP/2 server passed of h2spec's cases
// over TLS, when the origin and the edge were served by it: they must pass
// at least as many on the connection loop of host/h2. Their handlers answer
// some requests before reading them to the end (the origin's 404 for
// h2spec's "/"), so a few stream-state cases depend on a race between that
// answer and the frames the case sends after the request; host.Server
// itself passes every case (host's TestH2SpecAgainstTheServer).
const h2specNetHTTP = 141

// TestH2SpecAgainstOriginAndEdge runs h2spec against a running origin and
// an edge in front of it, over TLS, and prints the counts.
func TestH2SpecAgainstOriginAndEdge(t *testing.T) {
	s := startServers(t, true)
	for _, tc := range []struct {
		name string
		addr string
	}{
		{"the origin", s.origin.TLSAddr},
		{"the edge", s.edge.TLSAddr},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		total, passed, out := testkit.H2Spec(t, tc.name+" over TLS", addr, true)
		if total != testkit.H2SpecCases || passed < h2specNetHTTP {
			t.Errorf("h2spec against %s passed %d of %d, want at least %d:\n%s", tc.name, passed, total, h2specNetHTTP, out)
		}
	}
}
