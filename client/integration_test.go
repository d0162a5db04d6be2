package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// originProcess runs `subpub origin` with users alice and bob. Extra flags
// come last, so they override.
func originProcess(t *testing.T, dataDir, listen string, extra ...string) *launch.Process {
	t.Helper()
	args := append([]string{"--listen", listen, "--listen-plain", "127.0.0.1:0", "--data", dataDir,
		"--user", "alice:alice-token", "--user", "bob:bob-token", "--max-per-client", "-1"}, extra...)
	p, err := launch.Start(t.Context(), "origin", launch.Options{}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

const publicNote = `{"type":"Note","content":"n%d","to":["https://www.w3.org/ns/activitystreams#Public"]}`

// publisher posts notes to alice's outbox.
type publisher struct {
	c   *client.Client
	url string
}

func newPublisher(t *testing.T, o *launch.Process) *publisher {
	t.Helper()
	c, err := client.New(client.Options{CAFile: o.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &publisher{c: c, url: o.URL("/users/alice/outbox")}
}

func (p *publisher) note(ctx context.Context, n int) error {
	_, err := p.c.Publish(ctx, p.url, "alice-token", fmt.Appendf(nil, publicNote, n))
	return err
}

// assertIncreasingWithoutRepeats checks ids are decimal and strictly
// increasing: nothing arrived twice or out of order.
func assertIncreasingWithoutRepeats(t *testing.T, who string, ids []string) {
	t.Helper()
	var last uint64
	for i, id := range ids {
		var n uint64
		if _, err := fmt.Sscan(id, &n); err != nil || n <= last {
			t.Fatalf("%s: event %d has id %q after %d", who, i, id, last)
		}
		last = n
	}
}

// TestTenThousandEventsEveryWay is also the check that the HTTP/3 path
// works with the pinned quic-go: it reads interim responses one HEADERS
// frame per RequestStream.ReadResponse call, which quic-go documents as a
// single call only.
func TestTenThousandEventsEveryWay(t *testing.T) {
	events := 10000
	if testing.Short() {
		events = 1000
	}
	o := originProcess(t, t.TempDir(), "127.0.0.1:0")
	recorders := make([]*testkit.Follower, len(testkit.EveryWay))
	for i, way := range testkit.EveryWay {
		opts := way.Options
		opts.CAFile = o.CAFile
		c := testkit.NewClient(t, opts)
		recorders[i] = testkit.Follow(t, c, o.URL("/users/alice/outbox"), "", nil)
		recorders[i].WaitOpen(t)
	}
	// Two publishers, to go faster than one request at a time.
	pub := newPublisher(t, o)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for n := next.Add(1); n <= int64(events); n = next.Add(1) {
				if err := pub.note(t.Context(), int(n)); err != nil {
					t.Errorf("publishing: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, way := range testkit.EveryWay {
		ids := recorders[i].WaitCountWithin(t, events, 2*time.Minute)
		if len(ids) != events {
			t.Errorf("%s: %d events, want %d", way.Name, len(ids), events)
		}
		assertIncreasingWithoutRepeats(t, way.Name, ids)
	}
}

func TestASubscriptionSurvivesTheOriginBeingKilledAndRestarted(t *testing.T) {
	for _, way := range testkit.EveryWay[1:4] {
		t.Run(way.Name, func(t *testing.T) {
			// A killed server says nothing: the client notices the silence
			// after its keepalive timeout (an HTTP/3 client might wait for
			// QUIC's idle timeout otherwise).
			dataDir := t.TempDir()
			o := originProcess(t, dataDir, "127.0.0.1:0", "--keepalive", "1s")
			addr := o.TLSAddr
			opts := way.Options
			opts.CAFile = o.CAFile
			opts.KeepAliveTimeout = 3 * time.Second
			opts.Reconnect = client.Reconnect{InitialDelay: 50 * time.Millisecond, MaxDelay: 500 * time.Millisecond}
			c := testkit.NewClient(t, opts)
			rec := testkit.Follow(t, c, o.URL("/users/alice/outbox"), "", nil)
			rec.WaitOpen(t)

			// Publish continuously while the origin is killed (SIGKILL)
			// and started again on the same port with the same data.
			ctx, stop := context.WithCancel(t.Context())
			var published atomic.Int64
			done := make(chan struct{})
			pub := newPublisher(t, o)
			go func() {
				defer close(done)
				for n := 0; ctx.Err() == nil; n++ {
					if pub.note(ctx, n) == nil {
						published.Add(1)
					} else {
						time.Sleep(10 * time.Millisecond) // pacing retries while the origin is down
					}
				}
			}()
			rec.WaitCountWithin(t, 50, time.Minute)
			o.Kill()
			o = originProcess(t, dataDir, addr, "--keepalive", "1s")
			rec.WaitCountWithin(t, int(published.Load())+50, time.Minute)
			stop()
			<-done

			// The log is the truth: replaying it from the first event the
			// subscriber saw gives exactly what it received live.
			live := rec.WaitCountWithin(t, 1, time.Second)
			assertIncreasingWithoutRepeats(t, "live", live)
			replay := testkit.Follow(t, c, o.URL("/users/alice/outbox"), live[0], nil)
			want := live[1:]
			got := replay.WaitCountWithin(t, len(want), time.Minute)[:len(want)]
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("live and replayed differ: %d live after the first, %d replayed", len(want), len(got))
			}
		})
	}
}

// TestAnHTTP3SubscriptionNoticesAKilledServerInSeconds: a killed server
// says nothing, and over QUIC no kernel sends a reset for it; nor does a
// restarted server answer the client's keepalive PINGs with a stateless
// reset (quic-go answers only packets longer than one, and a PING is
// shorter). So the client's QUIC idle timeout is what notices. With the
// subscription's own keepalive timeout out of the way (an hour, and the
// server's keepalives as rare), a subscription over HTTP/3 resumes after a
// kill -9 and a restart well before the 30 s idle timeout QUIC had: the
// bound waited for is half of that, five times the idle timeout now.
func TestAnHTTP3SubscriptionNoticesAKilledServerInSeconds(t *testing.T) {
	dataDir := t.TempDir()
	o := originProcess(t, dataDir, "127.0.0.1:0", "--keepalive", "1h")
	addr := o.TLSAddr
	c := testkit.NewClient(t, client.Options{
		Mode: client.ModeSUB, HTTP: client.HTTP3, CAFile: o.CAFile,
		KeepAliveTimeout: time.Hour,
		Reconnect:        client.Reconnect{InitialDelay: 50 * time.Millisecond, MaxDelay: 500 * time.Millisecond},
	})
	rec := testkit.Follow(t, c, o.URL("/users/alice/outbox"), "", nil)
	rec.WaitOpen(t)
	if err := newPublisher(t, o).note(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	rec.WaitCount(t, 1)
	o.Kill()
	o = originProcess(t, dataDir, addr, "--keepalive", "1h")
	if err := newPublisher(t, o).note(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	rec.WaitCountWithin(t, 2, 15*time.Second)
}

func TestAMissingKeepaliveMakesTheClientResubscribe(t *testing.T) {
	o := originProcess(t, t.TempDir(), "127.0.0.1:0", "--keepalive", "1h")
	for _, way := range testkit.EveryWay {
		t.Run(way.Name, func(t *testing.T) {
			opts := way.Options
			opts.CAFile = o.CAFile
			opts.KeepAliveTimeout = 300 * time.Millisecond
			opts.Reconnect = client.Reconnect{InitialDelay: 10 * time.Millisecond}
			c := testkit.NewClient(t, opts)
			rec := testkit.Follow(t, c, o.URL("/users/alice/outbox"), "", nil)
			rec.WaitOpen(t)
			if err := testkit.Receive(t, rec.Retries, "a resubscription after a silent keepalive timeout"); !errors.Is(err, client.ErrKeepAliveTimeout) {
				t.Errorf("resubscribed after %v, want ErrKeepAliveTimeout", err)
			}
			rec.WaitOpen(t) // and it subscribed again
		})
	}
}

func TestFailuresAreReportedPrecisely(t *testing.T) {
	o := originProcess(t, t.TempDir(), "127.0.0.1:0")
	pub := newPublisher(t, o)
	if err := pub.note(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

	tests := []struct {
		name   string
		mode   client.Mode
		path   string
		header http.Header
		lastID string
		status int
		detail string
	}{
		{"a private stream without a token", client.ModeSUB, "/users/alice/inbox", nil, "", 401, "authenticate"},
		{"a private stream with a wrong token", client.ModeSUB, "/users/alice/inbox", bearer("nope"), "", 401, "token"},
		{"another user's private stream", client.ModeSUB, "/users/alice/inbox", bearer("bob-token"), "", 403, "alice"},
		{"an unknown resource", client.ModeSUB, "/users/nobody/outbox", nil, "", 404, "nobody"},
		{"a malformed Last-Event-ID", client.ModeSUB, "/users/alice/outbox", nil, "x1", 400, "Last-Event-ID"},
		{"no SUB and no SSE alternative", client.ModeAuto, "/.well-known/webfinger?resource=acct:alice@localhost", nil, "", 405, "Allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testkit.NewClient(t, client.Options{Mode: tt.mode, HTTP: client.HTTP2, CAFile: o.CAFile})
			err := c.Run(t.Context(), &client.Subscription{URL: o.URL(tt.path), LastEventID: tt.lastID, Header: tt.header, OnEvent: func(client.Event) {}})
			var se *wire.StatusError
			if !errors.As(err, &se) || se.Status != tt.status || !strings.Contains(se.Error(), tt.detail) {
				t.Fatalf("got %v, want %d mentioning %q", err, tt.status, tt.detail)
			}
			if se.Detail == "" && se.Title == "" {
				t.Errorf("%v carries no problem detail", err)
			}
		})
	}

	t.Run("a deleted object's stream ends with 204 and the client stops", func(t *testing.T) {
		created, err := pub.c.Publish(t.Context(), pub.url, "alice-token", []byte(`{"type":"Note","content":"short-lived","to":["https://www.w3.org/ns/activitystreams#Public"]}`))
		if err != nil {
			t.Fatal(err)
		}
		object := objectOf(t, pub.c, created)
		c, _ := client.New(client.Options{Mode: client.ModeSUB, HTTP: client.HTTP3, CAFile: o.CAFile})
		defer c.Close()
		rec := testkit.Follow(t, c, object, "", nil)
		rec.WaitOpen(t)
		if _, err := pub.c.Publish(t.Context(), pub.url, "alice-token", []byte(`{"type":"Delete","object":"`+object+`"}`)); err != nil {
			t.Fatal(err)
		}
		if err := rec.WaitDone(t); !errors.Is(err, wire.ErrStreamEnded) {
			t.Errorf("ended with %v, want wire.ErrStreamEnded", err)
		}
		// Subscribing again is refused for good.
		err = c.Run(t.Context(), &client.Subscription{URL: object, OnEvent: func(client.Event) {}})
		var se *wire.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusGone {
			t.Errorf("resubscribing to a deleted object: %v, want 410", err)
		}
	})
	t.Run("an id the server cannot replay from is surfaced as a gap", func(t *testing.T) {
		c, _ := client.New(client.Options{Mode: client.ModeSSE, HTTP: client.HTTP11, CAFile: o.CAFile})
		defer c.Close()
		rec := testkit.Follow(t, c, o.URL("/users/alice/outbox"), "999999999", nil)
		rec.WaitCountWithin(t, 1, 10*time.Second)
		if gaps := rec.Gaps(); gaps != 1 {
			t.Errorf("%d gap events, want 1", gaps)
		}
	})
	t.Run("an unreachable server is retried, then given up with the reason", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, _ := client.New(client.Options{Reconnect: client.Reconnect{InitialDelay: time.Millisecond, MaxAttempts: 3}})
		defer c.Close()
		err = c.Run(t.Context(), &client.Subscription{URL: "http://" + addr + "/users/alice/outbox", OnEvent: func(client.Event) {}})
		if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("got %v", err)
		}
	})
}

// objectOf returns the object a Create activity created.
func objectOf(t *testing.T, c *client.Client, activity string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, activity, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Object any `json:"object"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	switch o := doc.Object.(type) {
	case string:
		return o
	case map[string]any:
		return o["id"].(string)
	}
	t.Fatalf("activity %s has no object", activity)
	return ""
}
