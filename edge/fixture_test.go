package edge

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
)

// upstreamKeepAliveTimeout is how long a test edge's upstream subscription
// may be silent before the edge resubscribes. The upstream's keepalives
// come every second; a loaded machine running the race detector can stall
// a reader for seconds, and a timeout then would resubscribe, which the
// tests that count upstream subscriptions would see. None of them waits on
// the timeout.
const upstreamKeepAliveTimeout = 20 * time.Second

// testEdge is an Edge on real listeners in front of an upstream.
type testEdge struct {
	*Edge
	srv *host.Server
	ca  *host.LocalCA
}

func newTestEdge(t *testing.T, upstream *url.URL, upstreamCA string, configure func(*Edge)) *testEdge {
	t.Helper()
	ca, err := host.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	up, err := client.New(client.Options{CAFile: upstreamCA, KeepAliveTimeout: upstreamKeepAliveTimeout,
		Reconnect: client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	e := &Edge{
		Upstream:  upstream,
		Client:    up,
		Transport: up,
		Streamer:  &stream.Streamer{KeepAlive: time.Second, MaxPerClient: -1},
		Linger:    -1,
		Cache:     &Cache{},
	}
	if configure != nil {
		configure(e)
	}
	// Registered before the server starts, so that it runs after the
	// server has shut down.
	t.Cleanup(func() {
		e.Close()
		up.Close()
	})
	te := &testEdge{Edge: e, ca: ca}
	te.srv = &host.Server{Handler: e, Addr: "127.0.0.1:0", PlainAddr: "127.0.0.1:0", TLSConfig: ca.TLSConfig(), Settings: stream.Settings(), OnShutdown: e.Streamer.Shutdown}
	testkit.StartServer(t, te.srv)
	return te
}

func (te *testEdge) url(path string) string {
	return "https://" + te.srv.TLSAddr().String() + path
}

func (te *testEdge) plainURL(path string) string {
	return "http://" + te.srv.PlainListenAddr().String() + path
}

// assertSequence checks ids are consecutive event ids from first.
func assertSequence(t *testing.T, who string, ids []string, first uint64) {
	t.Helper()
	for i, id := range ids {
		if id != strconv.FormatUint(first+uint64(i), 10) {
			t.Fatalf("%s: event %d has id %s, want %d (ids %v)", who, i, id, first+uint64(i), head(ids))
		}
	}
}

func head(ids []string) []string {
	if len(ids) > 20 {
		return append(ids[:10:10], ids[len(ids)-10:]...)
	}
	return ids
}
