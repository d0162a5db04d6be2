package relay

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// gauge counts shared upstream subscriptions opened and closed, as a
// Prometheus gauge would (catch-ups are not in the registry).
type gauge struct {
	discardMetrics
	mu   sync.Mutex
	open int
}

func (g *gauge) UpstreamOpened(k Kind) { g.add(k, 1) }
func (g *gauge) UpstreamClosed(k Kind) { g.add(k, -1) }
func (g *gauge) add(k Kind, n int) {
	if k == Shared {
		g.mu.Lock()
		g.open += n
		g.mu.Unlock()
	}
}
func (g *gauge) value() int { g.mu.Lock(); defer g.mu.Unlock(); return g.open }

func newTestRelay(t *testing.T, o *testkit.Origin, g *gauge) *Relay {
	t.Helper()
	c := testkit.NewClient(t, client.Options{CAFile: o.CA.CAFile, Reconnect: client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	r := &Relay{Client: c, Linger: -1, Metrics: g}
	t.Cleanup(func() { r.Close() })
	return r
}

// join joins key's subscription to uri, starting it if new, and returns
// its feed once the upstream has acknowledged it.
func join(t *testing.T, r *Relay, key, uri, lastID string) (*Upstream, stream.Feed) {
	t.Helper()
	u, created, cursor, err := r.Join(key, func() (*Upstream, error) { return r.NewUpstream(uri, http.Header{}, Shared), nil })
	if err != nil {
		t.Fatal(err)
	}
	if created {
		u.Start(lastID)
	}
	if err := r.Await(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	feed, err := r.Feed(t.Context(), u, cursor, lastID, created, func() { r.Leave(u) })
	if err != nil {
		t.Fatal(err)
	}
	return u, feed
}

// read reads n events from feed.
func read(t *testing.T, feed stream.Feed, n int) []string {
	t.Helper()
	var ids []string
	deadline := time.After(testkit.Timeout)
	for len(ids) < n {
		frames, wait, err := feed.Next(make([]*wire.Frame, 0, 64))
		if err != nil {
			t.Fatalf("after %v: %v", ids, err)
		}
		for _, f := range frames {
			if f.ID != "" && f.Type != "" {
				ids = append(ids, f.ID)
			}
		}
		if len(frames) == 0 {
			select {
			case <-wait:
			case <-deadline:
				t.Fatalf("%d of %d events: %v", len(ids), n, ids)
			}
		}
	}
	return ids
}

// TestSubscribersOfOneKeyShareOneUpstream joins ten subscribers to one
// stream: the origin serves one subscription, each subscriber reads every
// event in order, one resuming from the ring and one from before it (by
// catching up) miss nothing, and once all have left, the subscription is
// closed and the gauge reads what the registry holds at every step.
func TestSubscribersOfOneKeyShareOneUpstream(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	g := &gauge{}
	r := newTestRelay(t, o, g)
	r.RingEvents = 5
	uri := o.StreamURL("/public/news", false)
	var feeds []stream.Feed
	var u *Upstream
	for range 10 {
		var feed stream.Feed
		u, feed = join(t, r, "news", uri, "")
		feeds = append(feeds, feed)
	}
	if n := o.Active(); n != 1 {
		t.Fatalf("the origin serves %d subscriptions for 10 subscribers of one key, want 1", n)
	}
	if g.value() != r.Len() {
		t.Fatalf("the gauge reads %d with %d in the registry", g.value(), r.Len())
	}
	// One event at a time, read by all before the next: the ring holds 5.
	var want []string
	for i := range 8 {
		id := o.Publish("/public/news", fmt.Sprintf(`{"n":%d}`, i)).Event.ID
		want = append(want, id)
		for j, f := range feeds {
			if got := read(t, f, 1); !slices.Equal(got, []string{id}) {
				t.Fatalf("subscriber %d read %v, want %s", j, got, id)
			}
		}
	}
	// The ring holds the last 5: after the 6th, a resumption reads the
	// ring; after the 3rd, it catches up upstream (through a ring of the
	// same size, which the 5 events it replays fit) and joins the shared
	// ring.
	for _, from := range []int{5, 2} {
		_, feed := join(t, r, "news", uri, want[from])
		if got := read(t, feed, len(want)-from-1); !slices.Equal(got, want[from+1:]) {
			t.Fatalf("resuming after %s: %v, want %v", want[from], got, want[from+1:])
		}
		feeds = append(feeds, feed)
	}
	for _, f := range feeds {
		f.Close()
	}
	if r.Len() != 0 || u.Context().Err() == nil {
		t.Fatalf("%d in the registry after every subscriber left (Linger < 0), want 0, closed", r.Len())
	}
	if g.value() > r.Len() {
		t.Fatalf("the gauge reads %d with %d in the registry", g.value(), r.Len())
	}
	testkit.WaitUntil(t, "the origin's subscriptions to end", func() bool { return o.Active() == 0 })
}

// TestUpstreamRefusalReachesTheSubscriber: a refused subscription (here a
// 404) is the subscriber's answer, and leaves nothing in the registry.
func TestUpstreamRefusalReachesTheSubscriber(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	g := &gauge{}
	r := newTestRelay(t, o, g)
	u, _, _, err := r.Join("nowhere", func() (*Upstream, error) {
		return r.NewUpstream(o.StreamURL("/nowhere/x", false), http.Header{}, Shared), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	u.Start("")
	var se *wire.StatusError
	if err := Error(r.Await(t.Context(), u)); !errors.As(err, &se) || se.Status != http.StatusNotFound {
		t.Fatalf("subscribing to a stream that does not exist: %v, want 404", err)
	}
	testkit.WaitUntil(t, "the registry to forget it", func() bool { return r.Len() == 0 && g.value() == 0 })
}

// TestCatchUpSourceLingersForTheNextResumer: two subscribers resuming from
// an id the shared ring never held share one catch-up subscription; once
// both have left, it stays open for Linger, so a third resuming from the
// same id reads it without another upstream subscription. With Linger
// negative (the negative control), it ends with its last reader and the
// third opens a new one.
func TestCatchUpSourceLingersForTheNextResumer(t *testing.T) {
	for _, tt := range []struct {
		name            string
		linger          time.Duration
		wantOpenAfter   int
		wantNewForThird int64
	}{
		{"lingering", time.Minute, 1, 0},
		{"no linger (negative control)", -1, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, nil)
			r := newTestRelay(t, o, &gauge{})
			r.Linger = tt.linger
			uri := o.StreamURL("/public/lag", false)
			var ids []string
			for i := range 10 {
				ids = append(ids, o.Publish("/public/lag", fmt.Sprintf(`{"n":%d}`, i)).Event.ID)
			}
			_, keeper := join(t, r, "lag", uri, "") // the shared subscription, from now
			defer keeper.Close()
			from := ids[5]
			before := o.Subscriptions.Load()
			var resumers []stream.Feed
			for range 2 {
				_, feed := join(t, r, "lag", uri, from)
				if got := read(t, feed, 4); !slices.Equal(got, ids[6:]) {
					t.Fatalf("resuming after %s: %v, want %v", from, got, ids[6:])
				}
				resumers = append(resumers, feed)
			}
			if n := o.Subscriptions.Load() - before; n != 1 {
				t.Fatalf("two subscribers resuming from %s cost the origin %d catch-up subscriptions, want 1", from, n)
			}
			for _, f := range resumers {
				f.Close()
			}
			if n := r.catchUpsOpen(); n != tt.wantOpenAfter {
				t.Fatalf("%d catch-up subscriptions open after their readers left, want %d", n, tt.wantOpenAfter)
			}
			before = o.Subscriptions.Load()
			_, third := join(t, r, "lag", uri, from)
			defer third.Close()
			if got := read(t, third, 4); !slices.Equal(got, ids[6:]) {
				t.Fatalf("the third resuming after %s: %v, want %v", from, got, ids[6:])
			}
			if n := o.Subscriptions.Load() - before; n != tt.wantNewForThird {
				t.Errorf("the third resumer cost the origin %d subscriptions, want %d", n, tt.wantNewForThird)
			}
		})
	}
}
