package draft_test

import (
	"net/http"
	"strings"
	"time"
)

// scenario is what replaying one example needs beyond its text: how the
// servers are configured, the state the example presupposes, and what
// happens while it runs (an event published, a server shut down).
type scenario struct {
	// originFlags configure the origin; frontFlags the server the
	// example's client talks to, the origin itself or the edge in front
	// of it.
	originFlags, frontFlags []string
	// prepare puts the servers in the state the example presupposes and
	// says how its request is rewritten. Nil: nothing to prepare, and the
	// request is sent as written (but for Host).
	prepare func(w *world) rewrite
	// after[n] makes happen, once the n-th step (counted from 1) has
	// arrived, what the example shows happening next.
	after map[int]func(w *world)
	// check verifies, after the exchange, what the text around the
	// example says follows it.
	check func(w *world)
}

// keepalive is short, so that the examples that show a keepalive take two
// seconds rather than fifteen, and long enough that no keepalive comes
// between an action of the test and the event it publishes, even on a
// loaded machine.
var keepalive = []string{"--keepalive", "2s"}

// bearer is the Authorization value of actor name; the examples' own
// token, mF_9.B5f-4.1JqM, is alice's.
func bearer(name string) string { return "Bearer " + tokens[name] }

// scenarios holds a scenario for every example of the draft, by anchor.
// Each entry returns a fresh scenario, whose closures share the state of
// one replay.
var scenarios = map[string]func() scenario{
	// A public object's stream, updated once before: the Update and
	// Delete are published once the subscription is acknowledged, the
	// Delete after a keepalive.
	"example-basic": func() scenario {
		var note string
		return scenario{
			frontFlags: keepalive,
			prepare: func(w *world) rewrite {
				note = w.note("alice", "Hello", public)
				events := w.watch(path(note), "")
				w.update("alice", note, "Hi")
				events.next(w.t)
				return rewrite{target: path(note)}
			},
			after: map[int]func(*world){
				1: func(w *world) { w.update("alice", note, "Hi!") }, // the acknowledgement
				3: func(w *world) { w.delete("alice", note) },        // the keepalive
			},
		}
	},

	// Alice's inbox holds two Creates from bob; she resumes after the
	// first, and bob's Like arrives once the second has been replayed.
	"example-resume": func() scenario {
		var liked string
		return scenario{
			prepare: func(w *world) rewrite {
				liked = w.note("alice", "Like me", public)
				inbox := w.watch("/users/alice/inbox", "alice")
				w.note("bob", "Hello, alice", actor("alice"))
				first := inbox.next(w.t)
				w.note("bob", "Hello again", actor("alice"))
				inbox.next(w.t)
				return rewrite{fields: map[string]string{"Authorization": bearer("alice"), "Last-Event-ID": first.ID}}
			},
			after: map[int]func(*world){
				2: func(w *world) { w.like("bob", liked, actor("alice")) }, // the replayed event
			},
		}
	},

	// The origin keeps events for a millisecond; the client resumes from
	// an event older than those it still has.
	"example-gap": func() scenario {
		return scenario{
			originFlags: []string{"--event-retention", "1ms"},
			prepare: func(w *world) rewrite {
				outbox := w.watch("/users/alice/outbox", "")
				w.note("alice", "One", public)
				first := outbox.next(w.t)
				w.note("alice", "Two", public)
				second := outbox.next(w.t)
				// Pruning happens as the origin writes, once events are
				// older than the retention period.
				deadline := time.Now().Add(stepTimeout)
				for !w.eventGone(second.ID) {
					if time.Now().After(deadline) {
						w.t.Fatalf("event %s is still retained after %v", second.ID, stepTimeout)
					}
					w.note("alice", "More", public)
				}
				return rewrite{fields: map[string]string{"Last-Event-ID": first.ID}}
			},
			after: map[int]func(*world){
				2: func(w *world) { w.note("alice", "Hello", public) }, // the gap
			},
		}
	},

	// A note larger than the origin's inline limit (8 KiB) follows the
	// event the client resumes from.
	"example-ref": func() scenario {
		var ref string
		return scenario{
			prepare: func(w *world) rewrite {
				outbox := w.watch("/users/alice/outbox", "")
				w.note("alice", "Hello", public)
				first := outbox.next(w.t)
				w.note("alice", strings.Repeat("Hello! ", 1300), public)
				if ref = outbox.next(w.t).Ref; ref == "" {
					w.t.Fatal("a note of 9 KB is not sent by reference")
				}
				return rewrite{fields: map[string]string{"Last-Event-ID": first.ID}}
			},
			// "A subscriber that needs the payload retrieves [the ref]
			// with GET; the response is cacheable."
			check: func(w *world) {
				resp, err := w.http.Get(w.front.PlainURL(path(ref)))
				if err != nil {
					w.t.Fatal(err)
				}
				resp.Body.Close()
				cc := listNames(resp.Header.Values("Cache-Control"), true)
				if resp.StatusCode != http.StatusOK || !strings.Contains(strings.Join(cc, " "), "public") {
					w.t.Errorf("GET %s: %s, Cache-Control %q: want 200 and a response a shared cache may store", ref, resp.Status, resp.Header.Get("Cache-Control"))
				}
			},
		}
	},

	// The object of example-basic, updated twice before the client
	// resumes after the first Update; deleted after a keepalive.
	"example-sse": func() scenario {
		var note string
		var events *watcher
		return scenario{
			frontFlags: keepalive,
			prepare: func(w *world) rewrite {
				note = w.note("alice", "Hello", public)
				events = w.watch(path(note), "")
				w.update("alice", note, "Hi")
				first := events.next(w.t)
				w.update("alice", note, "Hi!")
				events.next(w.t)
				return rewrite{target: path(note), fields: map[string]string{"Last-Event-ID": first.ID}}
			},
			after: map[int]func(*world){
				4: func(w *world) { w.delete("alice", note) }, // the comment
			},
			// "When the client reconnects, the server answers 410 (Gone),
			// and EventSource stops."
			check: func(w *world) {
				deleted := events.next(w.t)
				again := w.resend(rewrite{target: path(note), fields: map[string]string{"Last-Event-ID": deleted.ID}})
				if again.resp.StatusCode != http.StatusGone {
					w.t.Errorf("reconnecting after the Delete: %s; want 410", again.resp.Status)
				}
			},
		}
	},

	// An event's payload, at /events/ID, which has no stream.
	"example-405": func() scenario { return scenario{} },

	"example-505": func() scenario { return scenario{} },

	"example-401": func() scenario { return scenario{} },

	// One subscription per client address, which the client already has.
	"example-429": func() scenario {
		return scenario{
			frontFlags: []string{"--max-per-client", "1"},
			prepare: func(w *world) rewrite {
				w.hold("/users/alice/outbox")
				return rewrite{fields: map[string]string{"Authorization": bearer("alice")}}
			},
		}
	},

	// The client resumes after the first of two notes; the server shuts
	// down once the second has been replayed.
	"example-503": func() scenario {
		return scenario{
			prepare: func(w *world) rewrite {
				outbox := w.watch("/users/alice/outbox", "")
				w.note("alice", "Hi", public)
				first := outbox.next(w.t)
				w.note("alice", "Hello", public)
				outbox.next(w.t)
				return rewrite{fields: map[string]string{"Last-Event-ID": first.ID}}
			},
			after: map[int]func(*world){
				2: func(w *world) { w.stopFront() }, // the replayed event
			},
			// Ending its subscriptions is part of a clean shutdown.
			check: func(w *world) {
				if err := w.frontStopped(); err != nil {
					w.t.Errorf("the %s did not shut down cleanly: %v\n%s", w.front.Role, err, w.front.Output())
				}
			},
		}
	},
}
