package edge

import (
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/testkit"
)

// TestOneClientCannotOpenMoreThanItsShareOfUpstreamSubscriptions: the edge
// bounds the upstream subscriptions one client makes it open (distinct
// streams, say distinct query strings), answering 429 past the bound;
// joining a stream that is open is not counted, and a stream the client
// leaves gives its place back.
func TestOneClientCannotOpenMoreThanItsShareOfUpstreamSubscriptions(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) { e.MaxUpstreamsPerClient = 2 })
	subscribe := func(path string) (*testkit.RawConn, string) {
		raw := testkit.DialRaw(t, e.srv.PlainListenAddr().String())
		raw.Send(t, "GET "+path+" HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
		status, _ := raw.ResponseHead(t)
		return raw, status
	}
	want := func(path, status string) *testkit.RawConn {
		t.Helper()
		raw, got := subscribe(path)
		if !strings.Contains(got, status) {
			t.Fatalf("%s: %q, want %s", path, got, status)
		}
		return raw
	}
	want("/public/a", "200")
	b := want("/public/b", "200")
	want("/public/c", "429")
	want("/public/a", "200") // joins the open one
	b.Close()
	testkit.WaitUntil(t, "the place /public/b held given back", func() bool {
		raw, status := subscribe("/public/c")
		if strings.Contains(status, "200") {
			return true
		}
		raw.Close()
		return false
	})
}
