package stream_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// streamPath is the stream the tests subscribe to.
const streamPath = "/public/stream"

// testOrigin serves streams from memory through a Streamer that a test
// configures and whose closed subscriptions it counts.
type testOrigin struct {
	*testkit.Origin
	closes *testkit.Closes
}

// startTestOrigin starts an origin whose Streamer is the zero Streamer with
// what configure sets.
func startTestOrigin(t *testing.T, configure func(*stream.Streamer)) *testOrigin {
	t.Helper()
	o := &testOrigin{closes: &testkit.Closes{}}
	o.Origin = testkit.NewOrigin(t, func(s *stream.Streamer) {
		*s = stream.Streamer{}
		if configure != nil {
			configure(s)
		}
		s.Metrics = o.closes
	})
	return o
}

func (o *testOrigin) url(plain bool) string { return o.StreamURL(streamPath, plain) }

// publish publishes n events of data "{}".
func (o *testOrigin) publish(n int) {
	for range n {
		o.PublishEvent(streamPath, wire.Event{Type: "Add", Data: []byte("{}")})
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
	o := startTestOrigin(t, nil)
	for _, p := range protocols {
		for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
			t.Run(p.name+"/"+mode.String(), func(t *testing.T) {
				c := testkit.NewClient(t, client.Options{Mode: mode, HTTP: p.http, CAFile: o.CA.CAFile})
				f := testkit.Follow(t, c, o.url(p.plain), "", nil)
				f.WaitOpen(t)
				first := o.Log.Last() + 1
				o.publish(events)
				ids := f.WaitCount(t, events)
				f.Cancel()
				if err := f.WaitDone(t); !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v", err)
				}
				for i, id := range ids {
					if id != strconv.FormatUint(first+uint64(i), 10) {
						t.Fatalf("event %d has id %s, want %d", i, id, first+uint64(i))
					}
				}
				e := f.Events()[0]
				wantProto := map[string]string{client.HTTP11: "h1", client.HTTP2: "h2", client.HTTP3: "h3"}[p.http]
				if e.Proto != wantProto || e.Format != map[client.Mode]wire.Format{client.ModeSUB: wire.FormatPUB, client.ModeSSE: wire.FormatSSE}[mode] {
					t.Errorf("event came over %s/%s", e.Proto, e.Format)
				}
			})
		}
	}
}

func TestStreamerOnTheWire(t *testing.T) {
	o := startTestOrigin(t, func(s *stream.Streamer) { s.KeepAlive = 50 * time.Millisecond })
	addr := o.PlainAddr()

	t.Run("SUB gets 106 with the stream's metadata, PUBs with only the event fields, and 106 keepalives", func(t *testing.T) {
		c := testkit.DialRaw(t, addr)
		c.Send(t, "SUB /public/stream HTTP/1.1\r\nHost: x\r\n\r\n")
		status, fields := c.ResponseHead(t)
		if !strings.HasPrefix(status, "HTTP/1.1 106") || strings.Join(fields, "|") != "Subscription-Sharing: shared|Vary: Authorization" {
			t.Fatalf("first response %q %q", status, fields)
		}
		o.publish(1)
		for {
			status, fields = c.ResponseHead(t)
			if !strings.HasPrefix(status, "HTTP/1.1 106") {
				break
			}
		}
		if status != "HTTP/1.1 105 PUB" || len(fields) != 2 ||
			!strings.HasPrefix(fields[0], "Event: id=") || fields[1] != `Event-Data: "{}"` {
			t.Fatalf("PUB %q %q", status, fields)
		}
		status, fields = c.ResponseHead(t)
		if !strings.HasPrefix(status, "HTTP/1.1 106") || len(fields) != 0 {
			t.Errorf("keepalive %q %q", status, fields)
		}
	})
	t.Run("SUB over HTTP/1.0 is refused with 505 and no interim response", func(t *testing.T) {
		c := testkit.DialRaw(t, addr)
		c.Send(t, "SUB /public/stream HTTP/1.0\r\nHost: x\r\n\r\n")
		status, _ := c.ResponseHead(t)
		if !strings.HasPrefix(status, "HTTP/1.0 505") {
			t.Errorf("status %q", status)
		}
	})
	t.Run("SSE gets the event stream headers, a retry, events and comment keepalives", func(t *testing.T) {
		c := testkit.DialRaw(t, addr)
		c.Send(t, "GET /public/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
		status, fields := c.ResponseHead(t)
		head := strings.Join(fields, "|")
		if !strings.HasPrefix(status, "HTTP/1.1 200") || !strings.Contains(head, "Content-Type: text/event-stream") ||
			!strings.Contains(head, "Cache-Control: no-cache") || !strings.Contains(head, "Subscription-Sharing: shared") || !strings.Contains(head, "Connection: close") ||
			strings.Contains(head, "Transfer-Encoding") || strings.Contains(head, "Content-Length") {
			t.Fatalf("response %q %q: want a body delimited by the connection's close", status, fields)
		}
		seen := ""
		for !strings.Contains(seen, "retry: ") || !strings.Contains(seen, "\n:\n") {
			line, err := c.R.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			seen += line
		}
	})
}

func TestStreamerLimitsSubscriptionsPerClient(t *testing.T) {
	o := startTestOrigin(t, func(s *stream.Streamer) { s.MaxPerClient = 2 })
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: o.CA.CAFile, Reconnect: client.Reconnect{Disabled: true}})
	for range 2 {
		testkit.Follow(t, c, o.url(false), "", nil).WaitOpen(t)
	}
	err := c.Run(t.Context(), &client.Subscription{URL: o.url(false), OnEvent: func(client.Event) {}})
	var se *wire.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusTooManyRequests || se.RetryAfter <= 0 || !strings.Contains(se.Detail, "too many subscriptions") {
		t.Errorf("third subscription: %v", err)
	}
}

func TestStreamerShutdownEndsEveryStreamWithAFinalResponse(t *testing.T) {
	o := startTestOrigin(t, func(s *stream.Streamer) { s.ShutdownSpread = time.Second })
	var followers []*testkit.Follower
	for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
		c := testkit.NewClient(t, client.Options{Mode: mode, HTTP: client.HTTP2, CAFile: o.CA.CAFile, Reconnect: client.Reconnect{Disabled: true}})
		f := testkit.Follow(t, c, o.url(false), "", nil)
		f.WaitOpen(t)
		followers = append(followers, f)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := o.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, f := range followers {
		err := f.WaitDone(t)
		var se *wire.StatusError
		switch {
		case errors.As(err, &se):
			if se.Status != http.StatusServiceUnavailable || se.RetryAfter < time.Second {
				t.Errorf("SUB ended with %v", err)
			}
		case err.Error() != "server closed the stream":
			t.Errorf("SSE ended with %v", err)
		}
	}
	if n := o.closes.Count("", stream.CloseShutdown); n != 2 {
		t.Errorf("%d subscriptions closed for shutdown, want 2", n)
	}
}

func TestStreamerEndsAStalledSubscriber(t *testing.T) {
	o := startTestOrigin(t, func(s *stream.Streamer) { s.StallTimeout = 200 * time.Millisecond })
	// A client that subscribes and then never reads: the kernel buffers
	// fill, and the server's write blocks.
	c := testkit.DialRaw(t, o.PlainAddr())
	c.Send(t, "GET /public/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	c.ResponseHead(t)
	c.Conn.(*net.TCPConn).SetReadBuffer(smallReadBuffer)
	big := []byte(strings.Repeat("x", 60<<10))
	deadline := time.Now().Add(20 * time.Second)
	for o.closes.Count("", stream.CloseStalled) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled subscriber was never ended")
		}
		o.PublishEvent(streamPath, wire.Event{Data: big})
	}
}

func TestStreamerEndedStreamGets204(t *testing.T) {
	o := startTestOrigin(t, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP3, CAFile: o.CA.CAFile})
	f := testkit.Follow(t, c, o.url(false), "", nil)
	f.WaitOpen(t)
	o.publish(1)
	o.End(streamPath)
	if err := f.WaitDone(t); !errors.Is(err, wire.ErrStreamEnded) {
		t.Errorf("Run = %v, want wire.ErrStreamEnded", err)
	}
	if len(f.IDs()) != 1 {
		t.Errorf("got %d events before the end, want 1", len(f.IDs()))
	}
}

func TestStreamerEndsASubscriptionWithAnEventItsFormatCannotCarry(t *testing.T) {
	o := startTestOrigin(t, nil)
	for _, tt := range []struct {
		mode  client.Mode
		event wire.Event
	}{
		{client.ModeSSE, wire.Event{Data: []byte{0xff, 0xfe}}},             // not text
		{client.ModeSUB, wire.Event{ID: "caf\xc3\xa9", Data: []byte("x")}}, // not an sf-string
	} {
		c := testkit.NewClient(t, client.Options{Mode: tt.mode, HTTP: client.HTTP2, CAFile: o.CA.CAFile, Reconnect: client.Reconnect{Disabled: true}})
		f := testkit.Follow(t, c, o.url(false), "", nil)
		f.WaitOpen(t)
		o.publish(1)
		o.PublishEvent(streamPath, tt.event)
		err := f.WaitDone(t)
		var se *wire.StatusError
		switch {
		case tt.mode == client.ModeSUB && (!errors.As(err, &se) || se.Status != http.StatusBadGateway || !strings.Contains(se.Detail, "cannot be sent")):
			t.Errorf("SUB ended with %v, want 502 naming the event", err)
		case tt.mode == client.ModeSSE && (err == nil || !strings.Contains(err.Error(), "server closed")):
			t.Errorf("SSE ended with %v", err)
		}
		if got := f.IDs(); len(got) != 1 {
			t.Errorf("%v: received %d events before the end, want 1", tt.mode, len(got))
		}
	}
	if n := o.closes.Count("", stream.CloseError); n != 2 {
		t.Errorf("%d subscriptions closed for an error, want 2", n)
	}
}

// TestASubscriptionLostBeforeItsFirstEventResumesFromWhereItStarted: the
// first 106 (or an id-only SSE frame) tells a client that sent no
// Last-Event-ID where the stream starts, so that events published while it
// reconnects are not lost.
func TestASubscriptionLostBeforeItsFirstEventResumesFromWhereItStarted(t *testing.T) {
	o := startTestOrigin(t, func(s *stream.Streamer) { s.KeepAlive = time.Hour })
	o.publish(1)
	for _, p := range []struct {
		mode client.Mode
		http string
	}{{client.ModeSUB, client.HTTP2}, {client.ModeSSE, client.HTTP11}, {client.ModeSUB, client.HTTP11}} {
		c := testkit.NewClient(t, client.Options{Mode: p.mode, HTTP: p.http, CAFile: o.CA.CAFile,
			KeepAliveTimeout: 300 * time.Millisecond, Reconnect: client.Reconnect{InitialDelay: time.Millisecond}})
		f := testkit.Follow(t, c, o.url(false), "", nil)
		f.WaitOpen(t)
		// Logged but not fanned out: the subscription as it is misses
		// them; only resuming from where it started finds them.
		start := o.Log.Last()
		o.Log.Publish(nil, streamPath, wire.Event{Data: []byte("{}")})
		o.Log.Publish(nil, streamPath, wire.Event{Data: []byte("{}")})
		if ids := f.WaitCount(t, 2); ids[0] != strconv.FormatUint(start+1, 10) || ids[1] != strconv.FormatUint(start+2, 10) {
			t.Errorf("%v over %s: got %v", p.mode, p.http, ids)
		}
		f.Cancel()
	}
}

// failingFeed ends at once with err.
type failingFeed struct{ err error }

func (f failingFeed) Next(buf []*wire.Frame) ([]*wire.Frame, <-chan struct{}, error) {
	return buf, nil, f.err
}
func (failingFeed) Close() {}

// TestAFinalAnswerFromTheFeedIsNotLoggedAsAnError: a feed that ends with a
// refusal from its source (a revoked credential's 401, which an edge relays
// to every subscriber of the stream) gives each subscriber that answer and
// logs no error; a feed that fails (502) does.
func TestAFinalAnswerFromTheFeedIsNotLoggedAsAnError(t *testing.T) {
	for _, tt := range []struct {
		status int
		logged bool
	}{
		{http.StatusUnauthorized, false},
		{http.StatusBadGateway, true},
	} {
		var log testkit.LogBuffer
		s := &stream.Streamer{Logger: slog.New(slog.NewTextHandler(&log, nil))}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.Serve(w, r, wire.FormatPUB, stream.Subscription{Feed: failingFeed{&wire.StatusError{Status: tt.status, Detail: "no"}}})
		}))
		req, _ := http.NewRequest(wire.MethodSUB, srv.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("final %d, want %d", resp.StatusCode, tt.status)
		}
		if got := strings.Contains(log.String(), "level=ERROR"); got != tt.logged {
			t.Errorf("%d: logged an error: %v, want %v:\n%s", tt.status, got, tt.logged, log.String())
		}
	}
}
