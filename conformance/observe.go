package conformance

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// response is one response to a subscription request as the client saw it:
// an interim one (106, 105) or the final one, with its fields exactly as
// received, so that checks can parse them themselves.
type response struct {
	Status int
	Header http.Header
	At     time.Time
}

// recording follows one subscription with the client and keeps everything
// it saw: the responses in order, the events decoded from them, and how the
// subscription ended. Reconnection is off: every check sees one exchange.
type recording struct {
	Version string // client.HTTP11, HTTP2, HTTP3 or HTTPAuto
	Mode    client.Mode

	cancel  context.CancelFunc
	done    chan struct{}
	changed chan struct{} // signalled after every response and event

	mu        sync.Mutex
	opened    bool
	proto     string
	responses []response
	events    []client.Event
	err       error     // what Run returned, once done
	stoppedAt time.Time // when stop was first called
}

// follow starts a recording of a subscription to url with c, after lastID
// when it is not empty, with header's fields besides the client's. It runs until stop, or until the subscription ends.
func follow(ctx context.Context, c *client.Client, version string, mode client.Mode, url, lastID string, header http.Header) *recording {
	ctx, cancel := context.WithCancel(ctx)
	r := &recording{Version: version, Mode: mode, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{}, 1)}
	sub := &client.Subscription{
		URL:         url,
		LastEventID: lastID,
		Header:      header,
		OnOpen: func(o client.Open) {
			r.mu.Lock()
			r.opened, r.proto = true, o.Proto
			r.mu.Unlock()
			r.signal()
		},
		OnEvent: func(e client.Event) {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
			r.signal()
		},
		Trace: &client.Trace{Response: func(proto string, status int, h http.Header) {
			r.mu.Lock()
			r.proto = proto
			r.responses = append(r.responses, response{Status: status, Header: h.Clone(), At: time.Now()})
			r.mu.Unlock()
			r.signal()
		}},
	}
	go func() {
		defer close(r.done)
		err := c.Run(ctx, sub)
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		r.signal()
	}()
	return r
}

func (r *recording) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// stop ends the subscription and waits until it has.
func (r *recording) stop() {
	r.mu.Lock()
	if r.stoppedAt.IsZero() {
		r.stoppedAt = time.Now()
	}
	r.mu.Unlock()
	r.cancel()
	<-r.done
}

// ended reports whether the subscription is over.
func (r *recording) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitUntil waits until cond holds of what the recording saw, the
// subscription ends, or timeout passes, and says whether cond held.
func (r *recording) waitUntil(ctx context.Context, timeout time.Duration, cond func(r *recording) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return true
		}
		if r.ended() {
			r.mu.Lock()
			defer r.mu.Unlock()
			return cond(r)
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// receivedIDs waits until n events have arrived, the subscription ends,
// or timeout passes, and returns the ids of the events that arrived and
// how the subscription ended, if it did.
func (r *recording) receivedIDs(ctx context.Context, timeout time.Duration, n int) ([]string, error) {
	r.waitUntil(ctx, timeout, hasEvents(n))
	_, events, err, _ := r.snapshot()
	return ids(events), err
}

// snapshot returns copies of what the recording saw so far.
func (r *recording) snapshot() (responses []response, events []client.Event, err error, opened bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]response(nil), r.responses...), append([]client.Event(nil), r.events...), r.err, r.opened
}

// hasEvents is a condition: at least n events arrived.
func hasEvents(n int) func(*recording) bool {
	return func(r *recording) bool { return len(r.events) >= n }
}

// isOpen is a condition: the subscription was established, or refused.
func isOpen(r *recording) bool {
	return r.opened || len(r.responses) > 0 && r.responses[len(r.responses)-1].Status >= 200
}

// interims are the interim responses among responses.
func interims(responses []response) []response {
	var out []response
	for _, resp := range responses {
		if resp.Status >= 100 && resp.Status < 200 {
			out = append(out, resp)
		}
	}
	return out
}

// pubs are the 105 (PUB) responses among responses.
func pubs(responses []response) []response {
	var out []response
	for _, resp := range responses {
		if resp.Status == wire.StatusPUB {
			out = append(out, resp)
		}
	}
	return out
}

// ids are the ids of events, in order.
func ids(events []client.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}
