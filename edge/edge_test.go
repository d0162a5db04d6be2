package edge

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

func TestManySubscribersShareOneUpstreamSubscription(t *testing.T) {
	const perKind, events = 50, 200
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	var subs []*testkit.Follower
	for _, kind := range testkit.EveryWay {
		opts := kind.Options
		opts.CAFile = e.ca.CAFile
		c := testkit.NewClient(t, opts)
		for range perKind {
			s := testkit.Follow(t, c, e.url("/public/news"), "", nil)
			s.Name = kind.Name
			subs = append(subs, s)
		}
	}
	for _, s := range subs {
		s.WaitOpen(t)
	}
	if n := o.Active(); n != 1 {
		t.Fatalf("origin serves %d subscriptions for %d subscribers, want 1", n, len(subs))
	}
	first := o.Log.Last() + 1
	for i := range events {
		o.Publish("/public/news", fmt.Sprintf(`{"n":%d}`, i))
	}
	for _, s := range subs {
		assertSequence(t, s.Name, s.WaitCount(t, events), first)
	}
	if n := o.Subscriptions.Load(); n != 1 {
		t.Errorf("origin saw %d subscriptions in all, want 1", n)
	}
}

func TestPrivateStreamsNeverMeet(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
	auth := func(name string) http.Header { return http.Header{"Authorization": {"Bearer " + name}} }

	alice1 := testkit.Follow(t, c, e.url("/private/alice"), "", auth("alice"))
	alice2 := testkit.Follow(t, c, e.url("/private/alice"), "", auth("alice"))
	bob := testkit.Follow(t, c, e.url("/private/bob"), "", auth("bob"))
	for _, s := range []*testkit.Follower{alice1, alice2, bob} {
		s.WaitOpen(t)
	}
	if n := o.Active(); n != 2 {
		t.Errorf("origin serves %d subscriptions, want 2 (alice's shared by her two, bob's)", n)
	}
	// Bob asking for alice's stream is refused by the origin, not served
	// from the subscription alice opened.
	intruder := testkit.Follow(t, c, e.url("/private/alice"), "", auth("bob"))
	err := <-intruder.Done
	var se *wire.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("bob subscribing to alice's stream: %v, want 403", err)
	}
	anonymous := testkit.Follow(t, c, e.url("/private/alice"), "", nil)
	err = <-anonymous.Done
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || se.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous subscription to alice's stream: %v, want 401 with WWW-Authenticate", err)
	}
	o.Publish("/private/alice", `{"for":"alice"}`)
	o.Publish("/private/bob", `{"for":"bob"}`)
	alice1.WaitCount(t, 1)
	alice2.WaitCount(t, 1)
	bob.WaitCount(t, 1)
	for _, s := range []*testkit.Follower{alice1, alice2, bob} {
		for _, d := range s.Data() {
			if (s == bob) != strings.Contains(d, "bob") {
				t.Errorf("%s received %s", s.Name, d)
			}
		}
	}
}

func TestResumingSubscribers(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) { e.RingEvents = 50 })
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	keeper := testkit.Follow(t, c, e.url("/public/feed"), "", nil) // holds the upstream subscription open
	keeper.WaitOpen(t)
	start := o.Log.Last()
	// In steps the keeper follows, so that it never falls behind the ring
	// while the ring drops the oldest events.
	for step := 1; step <= 10; step++ {
		for range 10 {
			o.Publish("/public/feed", "{}")
		}
		keeper.WaitCount(t, 10*step)
	}

	t.Run("a Last-Event-ID in the ring is served from it", func(t *testing.T) {
		from := start + 90
		s := testkit.Follow(t, c, e.url("/public/feed"), fmt.Sprint(from), nil)
		assertSequence(t, "resumer", s.WaitCount(t, 10), from+1)
		if n := o.Subscriptions.Load(); n != 1 {
			t.Errorf("origin saw %d subscriptions, want 1: the ring should have served", n)
		}
	})
	t.Run("an older Last-Event-ID catches up upstream and joins the shared stream without gap or duplicate", func(t *testing.T) {
		from := start + 5
		s := testkit.Follow(t, c, e.url("/public/feed"), fmt.Sprint(from), nil)
		s.WaitCount(t, 95)
		for range 30 {
			o.Publish("/public/feed", "{}")
		}
		assertSequence(t, "catching up", s.WaitCount(t, 125), from+1)
		assertSequence(t, "keeper", keeper.WaitCount(t, 130), start+1)
		testkit.WaitUntil(t, "the catch-up subscription closes once joined", func() bool { return o.Active() == 1 })
	})
}

// TestResumingFromTheAnnouncedStart: a subscriber that resumes from the
// position the edge's first 106 announced, before any event, is served from
// the ring, not caught up upstream.
func TestResumingFromTheAnnouncedStart(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	o.Publish("/public/start", "{}")
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	first := testkit.Follow(t, c, e.url("/public/start"), "", nil)
	start, _ := wire.DecodePUB(first.WaitOpen(t).Header)
	if start.ID == "" {
		t.Fatal("the first 106 announces no position")
	}
	resumed := testkit.Follow(t, c, e.url("/public/start"), start.ID, nil)
	resumed.WaitOpen(t)
	id := o.Publish("/public/start", "{}").Event.ID
	for _, f := range []*testkit.Follower{first, resumed} {
		if got := f.WaitCount(t, 1); got[0] != id {
			t.Errorf("received %v, want %s", got, id)
		}
	}
	if n := o.Subscriptions.Load(); n != 1 {
		t.Errorf("the origin served %d subscriptions, want 1: the resumption is the ring's", n)
	}
}

func TestAStalledSubscriberDoesNotDelayTheOthers(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	closes := &testkit.Closes{}
	e := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) {
		e.MaxLag = 256 << 10
		e.Streamer.StallTimeout = time.Second
		e.Streamer.Metrics = closes
	})
	// A subscriber that never reads, over cleartext HTTP/1.1, with a small
	// receive window so that the edge's writes to it soon block.
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := dialer.Dial("tcp", e.srv.PlainListenAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	stalled := testkit.NewRawConn(t, conn)
	stalled.Send(t, "GET /public/busy HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	if status, _ := stalled.ResponseHead(t); !strings.Contains(status, "200") {
		t.Fatalf("stalled subscriber got %q", status)
	}
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSSE, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	others := []*testkit.Follower{testkit.Follow(t, c, e.url("/public/busy"), "", nil), testkit.Follow(t, c, e.url("/public/busy"), "", nil)}
	for _, s := range others {
		s.WaitOpen(t)
	}
	first := o.Log.Last() + 1
	payload := `{"pad":"` + strings.Repeat("x", 8<<10) + `"}`
	const readerPace = 8 // events of 8 KiB: 64 KiB, a quarter of MaxLag
	// Publish until the edge has ended the stalled subscriber's stream
	// (the kernel's socket buffers take some megabytes first, and then a
	// blocked write takes StallTimeout to be noticed: on a fast machine
	// that is thousands of events, so the bound is time, not a count).
	published := 0
	deadline := time.Now().Add(testkit.Timeout)
	for closes.Count("h1", stream.CloseStalled)+closes.Count("h1", stream.CloseLagged) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled subscriber was never cut off after %d events (subscriptions closed: %v)", published, closes)
		}
		o.Publish("/public/busy", payload)
		published++
		if published%readerPace == 0 {
			// Keep the readers' pace, so that they stay well within
			// MaxLag: whatever they miss is the stalled one's doing.
			for _, s := range others {
				s.WaitCount(t, published)
			}
		}
	}
	for _, s := range others {
		assertSequence(t, "reader", s.WaitCount(t, published), first)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, stalled.R); err != nil {
		t.Errorf("the stalled subscriber's connection was not closed: %v", err)
	}
}

func TestUpstreamRestartIsOnlyADelay(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP3, CAFile: e.ca.CAFile})
	s := testkit.Follow(t, c, e.url("/public/r"), "", nil)
	s.WaitOpen(t)
	first := o.Log.Last() + 1
	for range 10 {
		o.Publish("/public/r", "{}")
	}
	s.WaitCount(t, 10)
	o.Stop()
	for range 10 {
		o.Publish("/public/r", "{}") // while the origin is down: in its log only
	}
	o.Start()
	for range 10 {
		o.Publish("/public/r", "{}")
	}
	assertSequence(t, "subscriber", s.WaitCount(t, 30), first)
	select {
	case err := <-s.Done:
		t.Errorf("the downstream subscription ended: %v", err)
	default:
	}
}

// TestALostUpstreamEventIsOnlyADelay: a proxy between the edge and the
// origin drops one PUB. The edge's upstream subscription sees the next
// event's prev, resumes from the last event it received, and relays each
// event once, in order, with the origin's prev: its subscribers, over SUB
// and SSE, see no failure and check the chain themselves.
func TestALostUpstreamEventIsOnlyADelay(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	proxy := testkit.NewDroppingProxy(t, o.PlainAddr(), 2)
	e := newTestEdge(t, &url.URL{Scheme: "http", Host: proxy.Addr()}, "", nil)
	var followers []*testkit.Follower
	for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
		c := testkit.NewClient(t, client.Options{Mode: mode, CAFile: e.ca.CAFile})
		f := testkit.Follow(t, c, e.url("/public/lossy"), "", nil)
		f.WaitOpen(t)
		followers = append(followers, f)
	}
	first := o.Log.Last() + 1
	for range 6 {
		o.Publish("/public/lossy", "{}")
	}
	for _, f := range followers {
		assertSequence(t, "subscriber", f.WaitCount(t, 6), first)
		for i, ev := range f.Events()[1:] {
			if ev.Prev != f.Events()[i].ID {
				t.Errorf("event %s names %q as its prev, want %s", ev.ID, ev.Prev, f.Events()[i].ID)
			}
		}
		if len(f.Retries) > 0 {
			t.Errorf("a subscriber resubscribed: %v", <-f.Retries)
		}
	}
	if n := o.Subscriptions.Load(); n != 2 {
		t.Errorf("the origin served %d subscriptions, want 2: the edge's first and its resumption", n)
	}
}

func TestUpstreamFailuresBeforeTheFirstEvent(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
	t.Run("an upstream error is relayed", func(t *testing.T) {
		err := c.Run(t.Context(), &client.Subscription{URL: e.url("/nowhere"), OnEvent: func(client.Event) {}})
		var se *wire.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound || !strings.Contains(se.Detail, "no such stream") {
			t.Errorf("got %v, want the origin's 404", err)
		}
	})
	t.Run("an unreachable upstream is a 502", func(t *testing.T) {
		dead := newTestEdge(t, mustParse("https://127.0.0.1:1"), o.CA.CAFile, nil)
		c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: dead.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
		err := c.Run(t.Context(), &client.Subscription{URL: dead.url("/public/x"), OnEvent: func(client.Event) {}})
		var se *wire.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusBadGateway || !strings.Contains(se.Detail, "upstream unreachable") {
			t.Errorf("got %v, want 502", err)
		}
	})
	t.Run("past the subscription bound a subscriber gets 503 with Retry-After", func(t *testing.T) {
		full := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) { e.Streamer.MaxSubscriptions = 1 })
		c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: full.ca.CAFile, Reconnect: client.Reconnect{Disabled: true}})
		s := testkit.Follow(t, c, full.url("/public/cap"), "", nil)
		s.WaitOpen(t)
		err := c.Run(t.Context(), &client.Subscription{URL: full.url("/public/cap"), OnEvent: func(client.Event) {}})
		var se *wire.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.RetryAfter == 0 {
			t.Errorf("got %v, want 503 with Retry-After", err)
		}
	})
}

func TestTwoTiers(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	tier1 := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	tier2 := newTestEdge(t, mustParse("https://"+tier1.srv.TLSAddr().String()), tier1.ca.CAFile, nil)
	var subs []*testkit.Follower
	for _, kind := range testkit.EveryWay {
		opts := kind.Options
		opts.CAFile = tier2.ca.CAFile
		s := testkit.Follow(t, testkit.NewClient(t, opts), tier2.url("/public/tiers"), "", nil)
		s.Name = kind.Name
		subs = append(subs, s)
	}
	for _, s := range subs {
		s.WaitOpen(t)
	}
	if o.Active() != 1 || tier1.Streamer.Active() != 1 {
		t.Errorf("origin serves %d, tier 1 serves %d subscriptions; want 1 and 1", o.Active(), tier1.Streamer.Active())
	}
	first := o.Log.Last() + 1
	for range 50 {
		o.Publish("/public/tiers", "{}")
	}
	for _, s := range subs {
		assertSequence(t, s.Name, s.WaitCount(t, 50), first)
	}
}

func TestTranslationBetweenSUBAndSSE(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	o.SSEOnly.Store(true)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	s := testkit.Follow(t, c, e.url("/public/sse-only"), "", nil)
	s.WaitOpen(t)
	first := o.Log.Last() + 1
	o.Publish("/public/sse-only", `{"a":1}`)
	assertSequence(t, "SUB subscriber of an SSE upstream", s.WaitCount(t, 1), first)
}

func TestEventsByReferenceAreFetchedOnceForAllSSESubscribers(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSSE, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	subs := testkit.FollowMany(t, c, e.url("/public/refs"), "", 20)
	big := `{"big":"` + strings.Repeat("y", 20<<10) + `"}`
	o.PublishEvent("/public/refs", eventByRef(o, big))
	for _, s := range subs {
		s.WaitCount(t, 1)
		if got := s.Data()[0]; got != big {
			t.Errorf("SSE subscriber got %d bytes, want the %d-byte payload inline", len(got), len(big))
		}
	}
	if n := o.RefFetches.Load(); n != 1 {
		t.Errorf("origin served the payload %d times, want 1", n)
	}
}

func TestNoGoroutineIsLeftAfterManySubscribeUnsubscribeCycles(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	e := newTestEdge(t, o.URL(), o.CA.CAFile, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	cycle := func() {
		s := testkit.Follow(t, c, e.url("/public/churn"), "", nil)
		s.WaitOpen(t)
		s.Cancel()
		<-s.Done
	}
	cycle() // connections and pools exist from here on
	testkit.WaitUntil(t, "the first cycle is over", func() bool { return e.Upstreams() == 0 && o.Active() == 0 })
	before := runtime.NumGoroutine()
	cycles := 10000
	if testing.Short() {
		cycles = 1000
	}
	for range cycles {
		cycle()
	}
	testkit.WaitUntil(t, "every subscription is gone", func() bool {
		return e.Upstreams() == 0 && o.Active() == 0 && e.Streamer.Active() == 0 && runtime.NumGoroutine() <= before+5
	})
}

func mustParse(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}

// eventByRef is an event whose payload the origin also serves at a URL,
// which a PUB carries instead of the payload.
func eventByRef(o *testkit.Origin, data string) wire.Event {
	return wire.Event{
		Type: "Create",
		Data: []byte(data),
		Ref:  fmt.Sprintf("/events/%d", o.Log.Last()+1), // relative, as the origin writes it
	}
}
