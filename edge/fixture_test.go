package edge

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/origin"
	"github.com/subpub/subpub/wire"
)

// streamOrigin is a small origin serving streams from memory, on real TLS
// (h1, h2, h3) and cleartext listeners:
//
//	/public/NAME    shareable (Cache-Control: public, Vary: Authorization)
//	/private/NAME   only for "Authorization: Bearer NAME", private
//	/events/SEQ     the payload of an event sent by reference (GET)
//
// It can be stopped and started again on the same port with the same log,
// as a restarting origin with a durable log would.
type streamOrigin struct {
	t        *testing.T
	ca       *origin.LocalCA
	log      *origin.MemoryLog
	hub      *origin.Hub
	streamer *origin.Streamer
	srv      *origin.Server
	addr     string
	sseOnly  bool // answer SUB with 405, as an origin that only speaks SSE

	subscriptions atomic.Int64 // subscriptions ever served
	refFetches    atomic.Int64
}

func newStreamOrigin(t *testing.T) *streamOrigin {
	t.Helper()
	ca, err := origin.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := &streamOrigin{t: t, ca: ca, log: &origin.MemoryLog{}, addr: "127.0.0.1:0"}
	o.hub = &origin.Hub{Log: o.log}
	o.start()
	t.Cleanup(o.stop)
	return o
}

func (o *streamOrigin) start() {
	o.t.Helper()
	o.streamer = &origin.Streamer{KeepAlive: time.Second, MaxPerClient: -1}
	o.srv = &origin.Server{Handler: o, Addr: o.addr, TLSConfig: o.ca.TLSConfig(), OnShutdown: o.streamer.Shutdown}
	if err := o.srv.Start(); err != nil {
		o.t.Fatal(err)
	}
	o.addr = o.srv.TLSAddr().String()
}

func (o *streamOrigin) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.srv.Shutdown(ctx)
}

func (o *streamOrigin) url() *url.URL {
	return &url.URL{Scheme: "https", Host: o.addr}
}

// publish appends an event to a stream and fans it out.
func (o *streamOrigin) publish(stream string, data string) origin.LogEvent {
	return o.log.Publish(o.hub, stream, wire.Event{Type: "Add", Data: []byte(data)})
}

// active counts the subscriptions the origin is serving now.
func (o *streamOrigin) active() int { return o.streamer.Active() }

func (o *streamOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if seq, ok := strings.CutPrefix(r.URL.Path, "/events/"); ok && r.Method == http.MethodGet {
		o.refFetches.Add(1)
		n, _ := strconv.ParseUint(seq, 10, 64)
		events, _ := o.log.ReadAfter(r.Context(), "/public/refs", n-1, 1)
		if len(events) == 0 || events[0].Seq != n {
			origin.WriteProblem(w, http.StatusNotFound, "no such event")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600, immutable")
		w.Write(events[0].Event.Data)
		return
	}
	kind, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if (kind != "public" && kind != "private") || name == "" {
		origin.WriteProblem(w, http.StatusNotFound, "no such stream: "+r.URL.Path)
		return
	}
	if o.sseOnly && r.Method == wire.MethodSUB {
		w.Header().Set("Allow", "GET")
		origin.WriteProblem(w, http.StatusMethodNotAllowed, "subscribe with GET Accept: text/event-stream")
		return
	}
	if kind == "private" && r.Header.Get("Authorization") != "Bearer "+name {
		status := http.StatusForbidden
		if r.Header.Get("Authorization") == "" {
			status = http.StatusUnauthorized
			w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
		}
		origin.WriteProblem(w, status, "this stream is "+name+"'s")
		return
	}
	o.subscriptions.Add(1)
	(&origin.LogStreams{Log: o.log, Hub: o.hub, Streamer: o.streamer}).Serve(w, r, r.URL.Path, kind == "public")
}

// testEdge is an Edge on real listeners in front of an upstream.
type testEdge struct {
	*Edge
	srv *origin.Server
	ca  *origin.LocalCA
}

func newTestEdge(t *testing.T, upstream *url.URL, upstreamCA string, configure func(*Edge)) *testEdge {
	t.Helper()
	ca, err := origin.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	up, err := client.New(client.Options{CAFile: upstreamCA, KeepAliveTimeout: 5 * time.Second,
		Reconnect: client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	e := &Edge{
		Upstream:  upstream,
		Client:    up,
		Transport: up,
		Streamer:  &origin.Streamer{KeepAlive: time.Second, MaxPerClient: -1},
		Linger:    -1,
		Cache:     &Cache{},
	}
	if configure != nil {
		configure(e)
	}
	te := &testEdge{Edge: e, ca: ca}
	te.srv = &origin.Server{Handler: e, Addr: "127.0.0.1:0", PlainAddr: "127.0.0.1:0", TLSConfig: ca.TLSConfig(), OnShutdown: e.Streamer.Shutdown}
	if err := te.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		te.srv.Shutdown(ctx)
		e.Close()
		up.Close()
	})
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

// waitUntil polls a condition the test cannot be told about, such as a
// count in another process's metrics.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newClient(t *testing.T, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closeCounter counts the subscriptions a Streamer ends, by protocol and
// reason ("h1/lagged").
type closeCounter struct {
	mu     sync.Mutex
	reason map[string]int
}

func (c *closeCounter) SubscriptionOpened(string, origin.Format)  {}
func (c *closeCounter) Delivered(string, origin.Format, int, int) {}
func (c *closeCounter) Rejected(string, int)                      {}

func (c *closeCounter) SubscriptionClosed(proto string, _ origin.Format, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == nil {
		c.reason = map[string]int{}
	}
	c.reason[proto+"/"+reason]++
}

func (c *closeCounter) count(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason[reason]
}
