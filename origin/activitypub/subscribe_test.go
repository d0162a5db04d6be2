package activitypub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// waitTimeout bounds every wait for something a test expects to happen.
const waitTimeout = 10 * time.Second

// testSubscription is a subscription made with net/http: SUB, reading 105
// (PUB) interim responses through httptrace, or GET reading Server-Sent
// Events. Its request runs in a goroutine until the stream ends or the
// test cancels it.
type testSubscription struct {
	events chan wire.Event
	header chan http.Header // the 106 acknowledgement's fields (SUB) or the response's (SSE)
	done   chan int         // the final status; -1 if the request failed
	cancel context.CancelFunc
}

func (e *testEnv) subscribe(format wire.Format, target, user string, header ...string) *testSubscription {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	s := &testSubscription{
		events: make(chan wire.Event, 1024),
		header: make(chan http.Header, 1),
		done:   make(chan int, 1),
		cancel: cancel,
	}
	method := wire.MethodSUB
	if format == wire.FormatSSE {
		method = http.MethodGet
		header = append(header, "Accept", wire.ContentTypeSSE)
	}
	deliver := func(ev wire.Event) error {
		select {
		case s.events <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if format == wire.FormatPUB {
		acked := false // Got1xxResponse is called from one goroutine at a time
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				switch code {
				case wire.StatusNoOperation:
					if !acked {
						acked = true
						s.header <- http.Header(h).Clone()
					}
				case wire.StatusPUB:
					f, err := wire.FrameFromPUB(http.Header(h))
					if err != nil {
						return err
					}
					return deliver(f.Event)
				}
				return nil
			},
		})
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url(target), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+tokenOf(user))
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := e.client
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			s.done <- -1
			return
		}
		defer resp.Body.Close()
		if format == wire.FormatSSE && resp.StatusCode == http.StatusOK {
			s.header <- resp.Header
			r := wire.NewSSEReader(resp.Body)
			for {
				ev, err := r.Next()
				if err != nil || deliver(ev) != nil {
					break
				}
			}
		}
		io.Copy(io.Discard, resp.Body)
		s.done <- resp.StatusCode
	}()
	e.t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// established waits for the subscription to be acknowledged and returns
// the acknowledgement's fields.
func (s *testSubscription) established(t *testing.T) http.Header {
	t.Helper()
	select {
	case h := <-s.header:
		return h
	case status := <-s.done:
		t.Fatalf("subscription ended with %d before it was established", status)
	case <-time.After(waitTimeout):
		t.Fatal("subscription not established")
	}
	return nil
}

// next waits for the next event.
func (s *testSubscription) next(t *testing.T) wire.Event {
	t.Helper()
	return testkit.Receive(t, s.events, "an event")
}

// final waits for the subscription to end and returns its final status.
func (s *testSubscription) final(t *testing.T) int {
	t.Helper()
	select {
	case status := <-s.done:
		s.done <- status // for the cleanup
		return status
	case <-time.After(waitTimeout):
		t.Fatal("subscription did not end")
	}
	return 0
}

// formats are the two ways to subscribe, with the protocols tested.
func subscriptionCases() []struct {
	name   string
	format wire.Format
	newEnv func(*testing.T, ...func(*Server)) *testEnv
} {
	return []struct {
		name   string
		format wire.Format
		newEnv func(*testing.T, ...func(*Server)) *testEnv
	}{
		{"SUB over HTTP/1.1", wire.FormatPUB, newEnv},
		{"SUB over HTTP/2", wire.FormatPUB, newEnvHTTP2},
		{"SSE over HTTP/1.1", wire.FormatSSE, newEnv},
		{"SSE over HTTP/2", wire.FormatSSE, newEnvHTTP2},
	}
}

// TestSubscription checks live events, resumption and the end of a stream,
// for SUB and SSE over HTTP/1.1 and HTTP/2.
func TestSubscription(t *testing.T) {
	for _, c := range subscriptionCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Run("a subscriber receives the events logged after it subscribed", func(t *testing.T) {
				e := c.newEnv(t)
				sub := e.subscribe(c.format, "/users/alice/outbox", "")
				h := sub.established(t)
				if sharing := h.Get(wire.FieldSubscriptionSharing); sharing != wire.SharingShared {
					t.Errorf("Subscription-Sharing %q: the public view of a public collection is shareable", sharing)
				}
				if h.Get("Vary") != "Authorization" {
					t.Errorf("Vary %q", h.Get("Vary"))
				}
				c1, _ := e.postNote("alice", "one", publicCollection)
				c2, _ := e.postNote("alice", "two", publicCollection)
				logged, err := e.store.ReadAfter(t.Context(), "/users/alice/outbox", 0, 10)
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range []string{c1["id"].(string), c2["id"].(string)} {
					ev := sub.next(t)
					got := decodeEvent(t, ev.ID, ev.Type, ev.Data)
					if ev.Type != "Add" || got.Object() != want || ev.ID != logged[i].Event.ID {
						t.Errorf("event %d: %s %s %s, want Add %s %s", i, ev.ID, ev.Type, got.Object(), logged[i].Event.ID, want)
					}
					if ev.Time.IsZero() || !ev.Time.Equal(logged[i].Event.Time) {
						t.Errorf("event %d: time %v, logged with %v", i, ev.Time, logged[i].Event.Time)
					}
				}
			})
			t.Run("a subscriber resuming with Last-Event-ID gets what it missed, then live events", func(t *testing.T) {
				e := c.newEnv(t)
				var ids []string
				for _, content := range []string{"a", "b", "c"} {
					cr, _ := e.postNote("alice", content, publicCollection)
					ids = append(ids, cr["id"].(string))
				}
				logged := e.loggedEvents("/users/alice/outbox")
				sub := e.subscribe(c.format, "/users/alice/outbox", "", "Last-Event-ID", logged[0].ID)
				sub.established(t)
				for i := 1; i < 3; i++ {
					if ev := sub.next(t); ev.ID != logged[i].ID {
						t.Errorf("replayed %s, want %s", ev.ID, logged[i].ID)
					}
				}
				cr, _ := e.postNote("alice", "d", publicCollection)
				if got := decodeEvent(t, "", "Add", sub.next(t).Data); got.Object() != cr["id"] {
					t.Errorf("live event for %s, want %s", got.Object(), cr["id"])
				}
			})
			t.Run("a deleted object's stream carries the Delete and ends", func(t *testing.T) {
				e := c.newEnv(t)
				_, note := e.postNote("alice", "short-lived", publicCollection)
				sub := e.subscribe(c.format, note, "")
				sub.established(t)
				e.post("alice", doc{"type": "Update", "object": doc{"id": note, "content": "changed"}})
				if ev := sub.next(t); ev.Type != "Update" || decodeEvent(t, ev.ID, ev.Type, ev.Data).Data["object"].(doc)["content"] != "changed" {
					t.Errorf("event %s %s", ev.Type, ev.Data)
				}
				e.post("alice", doc{"type": "Delete", "object": note})
				if ev := sub.next(t); ev.Type != "Delete" {
					t.Errorf("event %s %s", ev.Type, ev.Data)
				}
				want := http.StatusNoContent // do not resubscribe
				if c.format == wire.FormatSSE {
					want = http.StatusOK // the event stream just ends
				}
				if status := sub.final(t); status != want {
					t.Errorf("final status %d, want %d", status, want)
				}
				if status := e.subscribe(c.format, note, "").final(t); status != http.StatusGone {
					t.Errorf("subscribing to a deleted object: %d, want 410", status)
				}
			})
			t.Run("an owner's inbox stream is private and carries deliveries", func(t *testing.T) {
				e := c.newEnv(t)
				sub := e.subscribe(c.format, "/users/bob/inbox", "bob")
				if sharing := sub.established(t).Get(wire.FieldSubscriptionSharing); sharing != wire.SharingPerCredential {
					t.Errorf("Subscription-Sharing %q", sharing)
				}
				create, note := e.postNote("alice", "to bob", actorURL("bob"))
				ev := decodeEvent(t, "", "Add", sub.next(t).Data)
				if ev.Object() != create["id"] || ev.Target() != actorURL("bob")+"/inbox" || ev.Data["object"].(doc)["object"].(doc)["id"] != note {
					t.Errorf("inbox event %v", ev.Data)
				}
			})
		})
	}
}

// TestEventsNameTheirPredecessor checks the prev chain: each event names
// the event before it in its own stream (one event is in several streams,
// and the log's sequence has others' events in between), live as when
// replayed; a fresh subscription's first 106 names the position the first
// event names; a Last-Event-ID that is not an event of the stream cannot be
// placed in it, and gets a gap.
func TestEventsNameTheirPredecessor(t *testing.T) {
	for _, c := range subscriptionCases()[:3] {
		t.Run(c.name, func(t *testing.T) {
			e := c.newEnv(t)
			e.postNote("alice", "before", publicCollection)
			e.postNote("bob", "in between, elsewhere", publicCollection)
			sub := e.subscribe(c.format, "/users/alice/outbox", "")
			h := sub.established(t)
			logged, err := e.store.ReadAfter(t.Context(), "/users/alice/outbox", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			head := logged[len(logged)-1].Event.ID
			if c.format == wire.FormatPUB {
				if start, _ := wire.DecodePUB(h); start.ID != head {
					t.Errorf("the first 106 names %q, want the stream's newest event %q", start.ID, head)
				}
			}
			e.postNote("alice", "one", publicCollection)
			e.postNote("bob", "elsewhere again", publicCollection)
			e.postNote("alice", "two", publicCollection)
			last := head
			for range 2 {
				ev := sub.next(t)
				if ev.Prev != last {
					t.Errorf("live event %s names %q as its prev, want %q", ev.ID, ev.Prev, last)
				}
				last = ev.ID
			}
			replayed, err := e.store.ReadAfter(t.Context(), "/users/alice/outbox", 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			for i, le := range replayed {
				want := ""
				if i > 0 {
					want = replayed[i-1].Event.ID
				}
				if le.Event.Prev != want {
					t.Errorf("replayed event %s names %q as its prev, want %q", le.Event.ID, le.Event.Prev, want)
				}
			}
			bobs, _ := e.store.ReadAfter(t.Context(), "/users/bob/outbox", 0, 10)
			resumed := e.subscribe(c.format, "/users/alice/outbox", "", "Last-Event-ID", bobs[0].Event.ID)
			if ev := resumed.next(t); !ev.IsGap() || ev.Prev != bobs[0].Event.ID || ev.ID != last {
				t.Errorf("resuming from another stream's event %s: first event %+v, want a gap up to %s", bobs[0].Event.ID, ev, last)
			}
		})
	}
}

// TestEventStreamsMigrateToPrev opens a database made before events named
// their predecessor: event_streams gains prev, and the events logged before
// read back naming none, as a stream's first does, which a client does not
// judge.
func TestEventStreamsMigrateToPrev(t *testing.T) {
	dir := olderSQLite(t, `
		CREATE TABLE events (seq BIGINT PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, ref TEXT NOT NULL, created_at BIGINT NOT NULL);
		CREATE TABLE event_streams (stream TEXT NOT NULL, seq BIGINT NOT NULL REFERENCES events (seq), PRIMARY KEY (stream, seq));
		INSERT INTO events VALUES (1, 'Add', '{}', '', 1), (2, 'Add', '{}', '', 2);
		INSERT INTO event_streams VALUES ('/s', 1), ('/s', 2);`)
	openTwice(t, dir, func(store *Store) {
		events, err := store.ReadAfter(t.Context(), "/s", 0, 10)
		if err != nil || len(events) != 2 || events[1].Event.Prev != "" {
			t.Errorf("the events logged before: %+v, %v", events, err)
		}
	})
}

// TestResumeGap checks that a subscriber whose Last-Event-ID cannot be
// replayed is told so, never skipped silently.
func TestResumeGap(t *testing.T) {
	outbox := actorURL("alice") + "/outbox"
	for _, c := range subscriptionCases()[:3] {
		t.Run(c.name, func(t *testing.T) {
			t.Run("an unknown id gets a gap with the resource to refetch", func(t *testing.T) {
				e := c.newEnv(t)
				e.postNote("alice", "x", publicCollection)
				newest := e.store.LastSeq()
				sub := e.subscribe(c.format, "/users/alice/outbox", "", "Last-Event-ID", strconv.FormatUint(newest+100, 10))
				ev := sub.next(t)
				logged := e.loggedEvents("/users/alice/outbox")
				head := logged[len(logged)-1].ID
				if !ev.IsGap() || ev.Gap != outbox || ev.ID != head || ev.Prev != strconv.FormatUint(newest+100, 10) || ev.Type != "" {
					t.Errorf("first event %+v, want a gap %s after %d up to the stream's newest, %s", ev, outbox, newest+100, head)
				}
				cr, _ := e.postNote("alice", "y", publicCollection)
				if got := decodeEvent(t, "", "Add", sub.next(t).Data); got.Object() != cr["id"] {
					t.Errorf("after the gap: %v", got.Data)
				}
			})
			t.Run("an expired id gets a gap", func(t *testing.T) {
				e := c.newEnv(t)
				e.postNote("alice", "x", publicCollection)
				e.postNote("alice", "y", publicCollection)
				first := e.loggedEvents("/users/alice/outbox")[0].ID
				if n, err := e.store.PruneEvents(t.Context(), time.Now().Add(time.Hour)); err != nil || n == 0 {
					t.Fatalf("pruned %d: %v", n, err)
				}
				sub := e.subscribe(c.format, "/users/alice/outbox", "", "Last-Event-ID", first)
				// Nothing of the stream is left in the log, but its newest
				// event is still where it stands: the gap names it, and the
				// next event names it as its prev.
				gap := sub.next(t)
				if !gap.IsGap() || gap.ID != strconv.FormatUint(e.store.LastSeq(), 10) || gap.Prev != first {
					t.Errorf("first event %+v, want a gap after %s", gap, first)
				}
				e.postNote("alice", "z", publicCollection)
				if ev := sub.next(t); ev.Prev != gap.ID {
					t.Errorf("the event after the gap names %q as its prev, want the gap's id %s", ev.Prev, gap.ID)
				}
			})
			t.Run("the id at the pruning watermark is replayed from without a gap", func(t *testing.T) {
				e := c.newEnv(t)
				e.postNote("alice", "x", publicCollection)
				if _, err := e.store.PruneEvents(t.Context(), time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				watermark := e.store.PrunedSeq()
				cr, _ := e.postNote("alice", "y", publicCollection)
				sub := e.subscribe(c.format, "/users/alice/outbox", "", "Last-Event-ID", strconv.FormatUint(watermark, 10))
				if got := decodeEvent(t, "", "Add", sub.next(t).Data); got.Object() != cr["id"] {
					t.Errorf("first event %v", got.Data)
				}
			})
		})
	}
}

// TestShareable checks what a subscription tells intermediaries about
// sharing it.
func TestShareable(t *testing.T) {
	e := newEnv(t)
	_, public := e.postNote("alice", "x", publicCollection)
	_, private := e.postNote("alice", "x", actorURL("bob"))
	tests := []struct {
		name, target, user, want string
	}{
		{"a public object's stream is shareable", public, "", wire.SharingShared},
		{"a public collection's public view is shareable, even for another actor", "/users/alice/outbox", "bob", wire.SharingShared},
		{"a collection's owner view is per credential", "/users/alice/outbox", "alice", wire.SharingPerCredential},
		{"an inbox is per credential", "/users/alice/inbox", "alice", wire.SharingPerCredential},
		{"a non-public object's stream is per credential", private, "bob", wire.SharingPerCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := e.subscribe(wire.FormatPUB, tt.target, tt.user).established(t)
			if got := h.Get(wire.FieldSubscriptionSharing); got != tt.want {
				t.Errorf("Subscription-Sharing %q, want %q", got, tt.want)
			}
			if cc := h.Get("Cache-Control"); cc != "" {
				t.Errorf("the 106 has Cache-Control %q, which RFC 9111 defines for no 1xx", cc)
			}
		})
	}
}

// TestLargeEventsByReference checks that an event larger than InlineLimit
// is carried in PUB by reference, served with the visibility of its
// stream, and inline in SSE.
func TestLargeEventsByReference(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.InlineLimit = 2048 })
	pub := e.subscribe(wire.FormatPUB, "/users/alice/outbox", "alice")
	pub.established(t)
	sse := e.subscribe(wire.FormatSSE, "/users/alice/outbox", "alice")
	sse.established(t)
	e.postNote("alice", "small", actorURL("bob"))
	e.postNote("alice", strings.Repeat("large ", 600), actorURL("bob"))

	if ev := pub.next(t); ev.Ref != "" || len(ev.Data) == 0 {
		t.Errorf("small event: ref %q, %d bytes of data", ev.Ref, len(ev.Data))
	}
	byRef := pub.next(t)
	if byRef.Ref != "/events/"+byRef.ID || len(byRef.Data) != 0 {
		t.Fatalf("large event: ref %q, %d bytes of data", byRef.Ref, len(byRef.Data))
	}
	sse.next(t)
	inline := sse.next(t)
	if inline.Ref != byRef.Ref || len(inline.Data) <= 2048 {
		t.Errorf("SSE: ref %q, %d bytes of data inline", inline.Ref, len(inline.Data))
	}

	ref := testBase + byRef.Ref // resolved against the stream's URL
	status, h, d := e.do(http.MethodGet, ref, "alice", nil)
	if status != http.StatusOK || !strings.Contains(h.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET ref: %d %v", status, h)
	}
	if want, _ := decodeDoc(inline.Data); !jsonEqual(d, want) {
		t.Errorf("GET ref: %v, want %v", d, want)
	}
	for user, want := range map[string]int{"": http.StatusUnauthorized, "bob": http.StatusForbidden} {
		if status, _, _ := e.do(http.MethodGet, ref, user, nil); status != want {
			t.Errorf("GET ref of an owner-view event as %q: %d, want %d", user, status, want)
		}
	}
	e.get("", "/events/999999", http.StatusNotFound)
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// TestProxyEventStream checks the endpoint an actor names for EventSource
// clients: a local id and an access token in the query, which the request
// log redacts.
func TestProxyEventStream(t *testing.T) {
	var logs testkit.LogBuffer
	e := newEnv(t, func(s *Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	actor := e.get("", actorURL("alice"), http.StatusOK)
	endpoint := actor["endpoints"].(doc)["proxyEventStream"].(string)
	if endpoint != testBase+"/proxy/events" {
		t.Fatalf("proxyEventStream %q", endpoint)
	}
	target := endpoint + "?id=" + actorURL("alice") + "/inbox&access_token=" + tokenOf("alice")
	sub := e.subscribe(wire.FormatSSE, target, "")
	sub.established(t)
	create, _ := e.postNote("bob", "hello alice", actorURL("alice"))
	if got := decodeEvent(t, "", "Add", sub.next(t).Data); got.Object() != create["id"] {
		t.Errorf("event %v", got.Data)
	}
	if out := logs.String(); strings.Contains(out, tokenOf("alice")) || !strings.Contains(out, "access_token=********") {
		t.Errorf("request log does not redact the token:\n%s", out)
	}
}

// TestStreamsRefuseQueryParametersTheyDoNotDefine: a subscription (SUB,
// SSE, or the HEAD that probes one) with a query parameter its stream does
// not define is 400, so that distinct query strings cannot make distinct
// upstream subscriptions of one stream at an edge; the parameters a stream
// defines, and the queries of what is not a stream, still work.
func TestStreamsRefuseQueryParametersTheyDoNotDefine(t *testing.T) {
	e := newEnv(t)
	outbox := actorURL("alice") + "/outbox"
	proxy := testBase + "/proxy/events?id=" + outbox
	sse := []string{"Accept", wire.ContentTypeSSE}
	for _, tt := range []struct {
		method, target string
		header         []string
		want           int
	}{
		{wire.MethodSUB, outbox + "?x=1", nil, http.StatusBadRequest},
		{http.MethodGet, outbox + "?x=1", sse, http.StatusBadRequest},
		{http.MethodHead, outbox + "?x=1", sse, http.StatusBadRequest},
		{http.MethodHead, outbox + "?access_token=" + tokenOf("alice") + "&cachebuster=2", sse, http.StatusBadRequest},
		{http.MethodHead, proxy + "&x=1", sse, http.StatusBadRequest},
		// Negative controls: what the streams define, and a collection's
		// own query.
		{http.MethodHead, outbox, sse, http.StatusOK},
		{http.MethodHead, outbox + "?access_token=" + tokenOf("alice"), sse, http.StatusOK},
		{http.MethodHead, proxy, sse, http.StatusOK},
		{http.MethodGet, outbox + "?page=true", nil, http.StatusOK},
	} {
		resp := e.request(t.Context(), tt.method, tt.target, "", nil, tt.header...)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d, want %d\n%s", tt.method, tt.target, resp.StatusCode, tt.want, body)
		}
		if tt.want == http.StatusBadRequest && tt.method != http.MethodHead && !strings.Contains(string(body), "query parameter") {
			t.Errorf("%s %s: the problem does not name the parameter: %s", tt.method, tt.target, body)
		}
	}
}

// TestEventsCarryTheirJSONAsWritten checks that an event whose activity
// holds text beyond ASCII reaches a PUB subscriber and an SSE subscriber
// with the same bytes, the characters as UTF-8 rather than rewritten as
// \u escapes: the payload is what the server wrote, and what a signature
// over it would cover.
func TestEventsCarryTheirJSONAsWritten(t *testing.T) {
	const content = "caf\u00e9, \u65e5\u672c\u8a9e, \U0001F600, 100 % \"quoted\""
	e := newEnv(t)
	pub := e.subscribe(wire.FormatPUB, "/users/alice/outbox", "")
	pub.established(t)
	sse := e.subscribe(wire.FormatSSE, "/users/alice/outbox", "")
	sse.established(t)
	e.postNote("alice", content, publicCollection)
	got, viaSSE := pub.next(t), sse.next(t)
	quoted, _ := json.Marshal(content)
	if !bytes.Contains(got.Data, quoted) || bytes.Contains(got.Data, []byte(`\u00e9`)) {
		t.Errorf("the PUB's payload does not hold the content as UTF-8: %s", got.Data)
	}
	if !bytes.Equal(got.Data, viaSSE.Data) || got.ID != viaSSE.ID {
		t.Errorf("PUB and SSE carry other bytes:\n%s\n%s", got.Data, viaSSE.Data)
	}
	if d := decodeEvent(t, got.ID, "Add", got.Data); d.Object() == "" {
		t.Errorf("the event's activity has no object: %s", got.Data)
	}
}
