package edge

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// Behind a reverse proxy that does not implement SUB (net/http/httputil's,
// which removes the Enable-SUB its client names in Connection), the edge's
// upstream subscription is not acknowledged and falls back to SSE; the
// edge still serves SUB downstream, acknowledged with its own mark, and
// its subscribers receive every event.
func TestTheEdgeFallsBackToSSEUpstreamAndStillServesSUB(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	up, _ := url.Parse("http://" + o.PlainAddr())
	var mu sync.Mutex
	var methods []string
	reverse := httputil.NewSingleHostReverseProxy(up)
	proxy := serveRecording(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		reverse.ServeHTTP(w, r)
	}))
	first := o.Publish("/public/a", "1").Event.ID
	te := newTestEdge(t, proxy, "", func(e *Edge) {
		c, err := client.New(client.Options{AcknowledgeTimeout: 300 * time.Millisecond, KeepAliveTimeout: 5 * time.Second,
			Reconnect: client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		e.Client = c
	})
	sub := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: te.ca.CAFile})
	f := testkit.Follow(t, sub, te.url("/public/a"), first, nil)
	if open := f.WaitOpen(t); open.Format != wire.FormatPUB || !wire.EnablesSUB(open.Header) {
		t.Fatalf("the edge opened as %v with %v, want a PUB acknowledgement with Enable-SUB", open.Format, open.Header)
	}
	want := []string{o.Publish("/public/a", "2").Event.ID, o.Publish("/public/a", "3").Event.ID}
	if got := f.WaitCount(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(methods, wire.MethodSUB) || !slices.Contains(methods, http.MethodGet) {
		t.Errorf("the proxy saw %v, want a SUB and then the SSE GET", methods)
	}
}

// serveRecording serves h on a loopback port until the test ends and
// returns its URL.
func serveRecording(t *testing.T, h http.Handler) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u, _ := url.Parse("http://" + ln.Addr().String())
	return u
}
