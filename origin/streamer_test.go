package origin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// testOrigin serves one stream, "/stream", from an in-memory log through a
// real Server: TLS (HTTP/1.1, HTTP/2, HTTP/3) and cleartext, on loopback.
type testOrigin struct {
	*Server
	streamer *Streamer
	hub      *Hub
	log      *MemoryLog
	ca       *LocalCA
	metrics  *countingMetrics
}

func startTestOrigin(t *testing.T, streamer *Streamer) *testOrigin {
	t.Helper()
	ca, err := LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := &testOrigin{streamer: streamer, log: &MemoryLog{}, ca: ca, metrics: &countingMetrics{}}
	o.hub = &Hub{Log: o.log}
	streamer.Metrics = o.metrics
	o.Server = &Server{
		Handler:    o,
		Addr:       "127.0.0.1:0",
		PlainAddr:  "127.0.0.1:0",
		TLSConfig:  ca.TLSConfig(),
		OnShutdown: streamer.Shutdown,
	}
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o.Shutdown(ctx)
	})
	return o
}

func (o *testOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/stream" {
		WriteProblem(w, http.StatusNotFound, "no such stream")
		return
	}
	(&LogStreams{Log: o.log, Hub: o.hub, Streamer: o.streamer}).Serve(w, r, "s", true)
}

func (o *testOrigin) url(plain bool) string {
	if plain {
		return "http://" + o.PlainListenAddr().String() + "/stream"
	}
	return "https://" + o.TLSAddr().String() + "/stream"
}

func (o *testOrigin) publish(n int) {
	for range n {
		publish(o.log, o.hub, "s")
	}
}

// countingMetrics records what a Streamer reports.
type countingMetrics struct {
	mu     sync.Mutex
	open   map[string]int
	closed map[string]int
	events atomic.Int64
}

func (m *countingMetrics) SubscriptionOpened(proto string, f Format) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.open == nil {
		m.open = map[string]int{}
	}
	m.open[proto+"/"+f.String()]++
}

func (m *countingMetrics) SubscriptionClosed(proto string, f Format, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed == nil {
		m.closed = map[string]int{}
	}
	m.closed[reason]++
}

func (m *countingMetrics) Delivered(_ string, _ Format, events, _ int) { m.events.Add(int64(events)) }
func (m *countingMetrics) Rejected(string, int)                        {}

func (m *countingMetrics) closedFor(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed[reason]
}

// collector gathers a subscription's events and signals when it has enough.
type collector struct {
	mu     sync.Mutex
	events []client.Event
	want   int
	opened chan struct{}
	full   chan struct{}
}

func newCollector(want int) *collector {
	return &collector{want: want, opened: make(chan struct{}, 16), full: make(chan struct{})}
}

func (c *collector) onOpen(client.Open) {
	select {
	case c.opened <- struct{}{}:
	default:
	}
}

func (c *collector) onEvent(e client.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
	if len(c.events) == c.want {
		close(c.full)
	}
}

func (c *collector) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, len(c.events))
	for i, e := range c.events {
		ids[i] = e.ID
	}
	return ids
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

var protocols = []struct {
	name  string
	http  string
	plain bool
}{
	{"HTTP/1.1", client.HTTP11, false},
	{"HTTP/2", client.HTTP2, false},
	{"HTTP/3", client.HTTP3, false},
	{"h2c", client.HTTP2, true},
	{"cleartext HTTP/1.1", client.HTTP11, true},
}

func TestStreamerDeliversEveryEventInOrderOverEveryProtocol(t *testing.T) {
	const events = 1000
	o := startTestOrigin(t, &Streamer{})
	for _, p := range protocols {
		for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
			t.Run(p.name+"/"+mode.String(), func(t *testing.T) {
				c, err := client.New(client.Options{Mode: mode, HTTP: p.http, CAFile: o.ca.CAFile})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				col := newCollector(events)
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() {
					done <- c.Run(ctx, &client.Subscription{URL: o.url(p.plain), OnEvent: col.onEvent, OnOpen: col.onOpen})
				}()
				waitFor(t, col.opened, "the subscription")
				first := o.log.Last() + 1
				o.publish(events)
				waitFor(t, col.full, fmt.Sprintf("%d events", events))
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v", err)
				}
				ids := col.ids()
				for i, id := range ids {
					if id != strconv.FormatUint(first+uint64(i), 10) {
						t.Fatalf("event %d has id %s, want %d", i, id, first+uint64(i))
					}
				}
				e := col.events[0]
				wantProto := map[string]string{client.HTTP11: "h1", client.HTTP2: "h2", client.HTTP3: "h3"}[p.http]
				if e.Proto != wantProto || e.Format != map[client.Mode]string{client.ModeSUB: "pub", client.ModeSSE: "sse"}[mode] {
					t.Errorf("event came over %s/%s", e.Proto, e.Format)
				}
			})
		}
	}
}

// rawSUB sends a request on a cleartext connection and returns the reader of
// the responses, for looking at the bytes on the wire.
func rawSUB(t *testing.T, addr, request string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// readResponseHead reads one response's status line and fields.
func readResponseHead(t *testing.T, r *bufio.Reader) (status string, fields []string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return status, fields
		}
		if status == "" {
			status = line
		} else {
			fields = append(fields, line)
		}
	}
}

func TestStreamerOnTheWire(t *testing.T) {
	o := startTestOrigin(t, &Streamer{KeepAlive: 50 * time.Millisecond})
	addr := o.PlainListenAddr().String()

	t.Run("SUB gets 106 with the stream's metadata, PUBs with only the event fields, and 106 keepalives", func(t *testing.T) {
		_, r := rawSUB(t, addr, "SUB /stream HTTP/1.1\r\nHost: x\r\n\r\n")
		status, fields := readResponseHead(t, r)
		if !strings.HasPrefix(status, "HTTP/1.1 106") || strings.Join(fields, "|") != "Cache-Control: public|Vary: Authorization" {
			t.Fatalf("first response %q %q", status, fields)
		}
		o.publish(1)
		for {
			status, fields = readResponseHead(t, r)
			if !strings.HasPrefix(status, "HTTP/1.1 106") {
				break
			}
		}
		if status != "HTTP/1.1 105 PUB" || len(fields) != 2 ||
			!strings.HasPrefix(fields[0], "Event: id=") || fields[1] != `Event-Data: "{}"` {
			t.Fatalf("PUB %q %q", status, fields)
		}
		status, fields = readResponseHead(t, r)
		if !strings.HasPrefix(status, "HTTP/1.1 106") || len(fields) != 0 {
			t.Errorf("keepalive %q %q", status, fields)
		}
	})
	t.Run("SUB over HTTP/1.0 is refused with 505 and no interim response", func(t *testing.T) {
		_, r := rawSUB(t, addr, "SUB /stream HTTP/1.0\r\nHost: x\r\n\r\n")
		status, _ := readResponseHead(t, r)
		if !strings.HasPrefix(status, "HTTP/1.0 505") {
			t.Errorf("status %q", status)
		}
	})
	t.Run("SSE gets the event stream headers, a retry, events and comment keepalives", func(t *testing.T) {
		_, r := rawSUB(t, addr, "GET /stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
		status, fields := readResponseHead(t, r)
		head := strings.Join(fields, "|")
		if !strings.HasPrefix(status, "HTTP/1.1 200") || !strings.Contains(head, "Content-Type: text/event-stream") ||
			!strings.Contains(head, "Cache-Control: public, no-cache") || !strings.Contains(head, "Connection: close") ||
			strings.Contains(head, "Transfer-Encoding") || strings.Contains(head, "Content-Length") {
			t.Fatalf("response %q %q: want a body delimited by the connection's close", status, fields)
		}
		seen := ""
		for !strings.Contains(seen, "retry: ") || !strings.Contains(seen, "\n:\n") {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			seen += line
		}
	})
}

func TestStreamerLimitsSubscriptionsPerClient(t *testing.T) {
	o := startTestOrigin(t, &Streamer{MaxPerClient: 2})
	c, err := client.New(client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: o.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for range 2 {
		col := newCollector(1)
		go c.Run(ctx, &client.Subscription{URL: o.url(false), OnEvent: col.onEvent, OnOpen: col.onOpen})
		waitFor(t, col.opened, "a subscription")
	}
	err = c.Run(ctx, &client.Subscription{URL: o.url(false), OnEvent: func(client.Event) {}})
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusTooManyRequests || se.RetryAfter <= 0 || !strings.Contains(se.Detail, "too many subscriptions") {
		t.Errorf("third subscription: %v", err)
	}
}

func TestStreamerShutdownEndsEveryStreamWithAFinalResponse(t *testing.T) {
	o := startTestOrigin(t, &Streamer{ShutdownSpread: time.Second})
	ends := make(chan error, 2)
	for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
		c, err := client.New(client.Options{Mode: mode, HTTP: client.HTTP2, CAFile: o.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		col := newCollector(1)
		go func() {
			ends <- c.Run(t.Context(), &client.Subscription{URL: o.url(false), OnEvent: col.onEvent, OnOpen: col.onOpen})
		}()
		waitFor(t, col.opened, "a subscription")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := o.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range 2 {
		err := <-ends
		var se *client.StatusError
		switch {
		case errors.As(err, &se):
			if se.Status != http.StatusServiceUnavailable || se.RetryAfter < time.Second {
				t.Errorf("SUB ended with %v", err)
			}
		case err.Error() != "server closed the stream":
			t.Errorf("SSE ended with %v", err)
		}
	}
	if n := o.metrics.closedFor(CloseShutdown); n != 2 {
		t.Errorf("%d subscriptions closed for shutdown, want 2", n)
	}
}

func TestStreamerEndsAStalledSubscriber(t *testing.T) {
	o := startTestOrigin(t, &Streamer{StallTimeout: 200 * time.Millisecond})
	// A client that subscribes and then never reads: the kernel buffers
	// fill, and the server's write blocks.
	conn, r := rawSUB(t, o.PlainListenAddr().String(), "GET /stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	readResponseHead(t, r)
	conn.(*net.TCPConn).SetReadBuffer(4096)
	big := []byte(strings.Repeat("x", 60<<10))
	deadline := time.Now().Add(20 * time.Second)
	for o.metrics.closedFor(CloseStalled) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled subscriber was never ended")
		}
		o.log.Publish(o.hub, "s", wire.Event{Data: big})
	}
}

func TestStreamerEndedStreamGets204(t *testing.T) {
	o := startTestOrigin(t, &Streamer{})
	c, err := client.New(client.Options{Mode: client.ModeSUB, HTTP: client.HTTP3, CAFile: o.ca.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	col := newCollector(1)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(t.Context(), &client.Subscription{URL: o.url(false), OnEvent: col.onEvent, OnOpen: col.onOpen})
	}()
	waitFor(t, col.opened, "the subscription")
	o.publish(1)
	o.hub.End("s")
	if err := <-done; !errors.Is(err, client.ErrStreamEnded) {
		t.Errorf("Run = %v, want ErrStreamEnded", err)
	}
	if len(col.ids()) != 1 {
		t.Errorf("got %d events before the end, want 1", len(col.ids()))
	}
}

func TestStreamerEndsASubscriptionWithAnEventItsFormatCannotCarry(t *testing.T) {
	o := startTestOrigin(t, &Streamer{})
	for _, tt := range []struct {
		mode  client.Mode
		event wire.Event
	}{
		{client.ModeSSE, wire.Event{Data: []byte{0xff, 0xfe}}},             // not text
		{client.ModeSUB, wire.Event{ID: "caf\xc3\xa9", Data: []byte("x")}}, // not an sf-string
	} {
		c, err := client.New(client.Options{Mode: tt.mode, HTTP: client.HTTP2, CAFile: o.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		col := newCollector(10)
		done := make(chan error, 1)
		go func() {
			done <- c.Run(t.Context(), &client.Subscription{URL: o.url(false), OnEvent: col.onEvent, OnOpen: col.onOpen})
		}()
		waitFor(t, col.opened, "the subscription")
		publish(o.log, o.hub, "s")
		o.log.Publish(o.hub, "s", tt.event)
		err = <-done
		var se *client.StatusError
		switch {
		case tt.mode == client.ModeSUB && (!errors.As(err, &se) || se.Status != http.StatusBadGateway || !strings.Contains(se.Detail, "cannot be sent")):
			t.Errorf("SUB ended with %v, want 502 naming the event", err)
		case tt.mode == client.ModeSSE && (err == nil || !strings.Contains(err.Error(), "server closed")):
			t.Errorf("SSE ended with %v", err)
		}
		if got := col.ids(); len(got) != 1 {
			t.Errorf("%v: received %d events before the end, want 1", tt.mode, len(got))
		}
	}
	if n := o.metrics.closedFor(CloseError); n != 2 {
		t.Errorf("%d subscriptions closed for an error, want 2", n)
	}
}

// TestASubscriptionLostBeforeItsFirstEventResumesFromWhereItStarted: the
// first 106 (or an id-only SSE frame) tells a client that sent no
// Last-Event-ID where the stream starts, so that events published while it
// reconnects are not lost.
func TestASubscriptionLostBeforeItsFirstEventResumesFromWhereItStarted(t *testing.T) {
	o := startTestOrigin(t, &Streamer{KeepAlive: time.Hour})
	publish(o.log, o.hub, "s")
	for _, p := range []struct {
		mode client.Mode
		http string
	}{{client.ModeSUB, client.HTTP2}, {client.ModeSSE, client.HTTP11}, {client.ModeSUB, client.HTTP11}} {
		c, err := client.New(client.Options{Mode: p.mode, HTTP: p.http, CAFile: o.ca.CAFile,
			KeepAliveTimeout: 300 * time.Millisecond, Reconnect: client.Reconnect{InitialDelay: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		col := newCollector(2)
		opened := make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go c.Run(ctx, &client.Subscription{URL: o.url(false), OnEvent: col.onEvent, OnOpen: func(client.Open) {
			select {
			case opened <- struct{}{}:
			default:
			}
		}})
		<-opened
		// Logged but not fanned out: the subscription as it is misses
		// them; only resuming from where it started finds them.
		start := o.log.Last()
		o.log.Publish(nil, "s", wire.Event{Data: []byte("{}")})
		o.log.Publish(nil, "s", wire.Event{Data: []byte("{}")})
		waitFor(t, col.full, "the events logged while the subscription was silent")
		if ids := col.ids(); ids[0] != strconv.FormatUint(start+1, 10) || ids[1] != strconv.FormatUint(start+2, 10) {
			t.Errorf("%v over %s: got %v", p.mode, p.http, ids)
		}
		cancel()
	}
}
