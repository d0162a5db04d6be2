// Package testkit is what the tests share: a Follower that records what a
// client subscription receives and waits for it, an in-process Origin that
// serves streams from memory on real listeners, a DroppingProxy that loses
// one PUB on the way, and waiting with a bound,
// so that every package's tests set up and assert on streams the same way.
package testkit

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
)

// Follower follows one stream on a client and records what it receives.
type Follower struct {
	// Name says which subscription it is in failure messages.
	Name string
	// Opened receives each establishment of the subscription and Retries
	// each failed attempt that will be retried (up to 16 unread; later
	// ones are dropped).
	Opened  chan client.Open
	Retries chan error
	// Fallbacks receives why the subscription gave up SUB for SSE (up to
	// 16 unread).
	Fallbacks chan error
	// Done receives what the subscription's Run returned.
	Done chan error
	// Cancel ends the subscription.
	Cancel context.CancelFunc

	mu      sync.Mutex
	events  []client.Event
	ids     []string
	data    []string
	gaps    int
	retried []string      // why it resubscribed, for failure messages
	changed chan struct{} // signalled (not closed) on every event
}

// Follow subscribes to url on c, from after lastID if it is not empty, with
// the extra request fields in header. The subscription ends with the test.
func Follow(t testing.TB, c *client.Client, url, lastID string, header http.Header) *Follower {
	t.Helper()
	f := &Follower{
		Name:      url,
		Opened:    make(chan client.Open, 16),
		Retries:   make(chan error, 16),
		Fallbacks: make(chan error, 16),
		Done:      make(chan error, 1),
		changed:   make(chan struct{}, 1),
	}
	ctx, cancel := context.WithCancel(t.Context())
	f.Cancel = cancel
	t.Cleanup(cancel)
	go func() {
		f.Done <- c.Run(ctx, &client.Subscription{
			URL: url, LastEventID: lastID, Header: header,
			OnOpen: func(o client.Open) {
				select {
				case f.Opened <- o:
				default:
				}
			},
			OnFallback: func(reason error) {
				select {
				case f.Fallbacks <- reason:
				default:
				}
			},
			OnRetry: func(err error, _ time.Duration) {
				f.mu.Lock()
				f.retried = append(f.retried, err.Error())
				f.mu.Unlock()
				select {
				case f.Retries <- err:
				default:
				}
			},
			OnEvent: func(e client.Event) {
				f.mu.Lock()
				f.events = append(f.events, e)
				f.ids = append(f.ids, e.ID)
				f.data = append(f.data, string(e.Data))
				if e.IsGap() {
					f.gaps++
				}
				f.mu.Unlock()
				select {
				case f.changed <- struct{}{}:
				default:
				}
			},
		})
	}()
	return f
}

// FollowMany subscribes n times to url on c, from after lastID if it is not
// empty: every subscription starts before any is waited for, so that they
// arrive together, as a crowd of subscribers does. It returns once all are
// established.
func FollowMany(t testing.TB, c *client.Client, url, lastID string, n int) []*Follower {
	t.Helper()
	fs := make([]*Follower, n)
	for i := range fs {
		fs[i] = Follow(t, c, url, lastID, nil)
	}
	for _, f := range fs {
		f.WaitOpen(t)
	}
	return fs
}

// WaitOpen waits until the subscription is established and returns what
// was said of it.
func (f *Follower) WaitOpen(t testing.TB) client.Open {
	t.Helper()
	select {
	case o := <-f.Opened:
		return o
	case err := <-f.Done:
		t.Fatalf("%s ended before opening: %v", f.Name, err)
	case <-time.After(Timeout):
		t.Fatalf("%s did not open", f.Name)
	}
	return client.Open{}
}

// WaitCount waits until n events have arrived and returns their ids.
func (f *Follower) WaitCount(t testing.TB, n int) []string {
	t.Helper()
	return f.WaitCountWithin(t, n, Timeout)
}

// WaitCountWithin is WaitCount with another timeout.
func (f *Follower) WaitCountWithin(t testing.TB, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.After(within)
	for {
		f.mu.Lock()
		got := len(f.ids)
		f.mu.Unlock()
		if got >= n {
			f.mu.Lock()
			defer f.mu.Unlock()
			return append([]string(nil), f.ids...)
		}
		select {
		case <-f.changed:
		case err := <-f.Done:
			t.Fatalf("%s ended with %d of %d events: %v", f.Name, got, n, err)
		case <-deadline:
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Fatalf("%s has %d of %d events after %v (resubscribed after: %v)", f.Name, got, n, within, f.retried)
		}
	}
}

// IDs is the ids of the events received so far, in order.
func (f *Follower) IDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ids...)
}

// Events is the events received so far, in order.
func (f *Follower) Events() []client.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]client.Event(nil), f.events...)
}

// WaitDone waits until the subscription's Run returns and returns what it
// returned.
func (f *Follower) WaitDone(t testing.TB) error {
	t.Helper()
	select {
	case err := <-f.Done:
		return err
	case <-time.After(Timeout):
		t.Fatalf("%s did not end", f.Name)
	}
	return nil
}

// Data is the data of the events received so far, in order.
func (f *Follower) Data() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.data...)
}

// Gaps counts the gap events received so far.
func (f *Follower) Gaps() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gaps
}

// Way is one way a client subscribes: a mode and an HTTP version.
type Way struct {
	Name    string
	Options client.Options
}

// EveryWay lists the six ways to subscribe: SUB and SSE over HTTP/1.1,
// HTTP/2 and HTTP/3.
var EveryWay = []Way{
	{"SUB over HTTP/1.1", client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11}},
	{"SUB over HTTP/2", client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2}},
	{"SUB over HTTP/3", client.Options{Mode: client.ModeSUB, HTTP: client.HTTP3}},
	{"SSE over HTTP/1.1", client.Options{Mode: client.ModeSSE, HTTP: client.HTTP11}},
	{"SSE over HTTP/2", client.Options{Mode: client.ModeSSE, HTTP: client.HTTP2}},
	{"SSE over HTTP/3", client.Options{Mode: client.ModeSSE, HTTP: client.HTTP3}},
}
