package relay

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/redact"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// Upstream is one subscription to an upstream, shared by every local
// subscriber with the same key. Its events go into a ring (a Topic) that
// each subscriber reads at its own pace; the upstream never waits for them.
type Upstream struct {
	relay  *Relay
	uri    string // target URI upstream
	header http.Header
	topic  *stream.Topic
	kind   Kind
	// startID is the Last-Event-ID the subscription was opened with: the
	// ring holds everything after it until it first evicts.
	startID string

	ctx    context.Context
	cancel context.CancelFunc

	// ready is closed once the upstream has acknowledged the subscription
	// (then openHeader is set) or has failed before doing so (then err is).
	ready      chan struct{}
	openHeader http.Header
	err        error
	// startedAfter is where the upstream said the subscription starts (the id
	// in its first 106), or startID.
	startedAfter string

	// OnOpen, if set (before Start), is told of each acknowledgement of
	// the subscription, first says whether it is the first; it runs on
	// the upstream connection's reader and must not block.
	OnOpen func(o client.Open, first bool)
	// Data is the owner's: what it keeps of the subscription besides.
	Data any

	closedOnce sync.Once // see countClosed

	// Owned by the registry (Relay.mu).
	key    string
	refs   int
	linger *time.Timer

	// Ordering of events whose payload must be fetched first (by ref).
	mu        sync.Mutex
	seq       uint64
	pending   []*wire.Frame
	resolving bool
	opened    bool
}

// NewUpstream makes an upstream subscription to uri with the request fields
// header, and counts it open; Start runs it.
func (r *Relay) NewUpstream(uri string, header http.Header, kind Kind) *Upstream {
	r.init()
	ctx, cancel := context.WithCancel(r.ctx)
	r.metrics().UpstreamOpened(kind)
	return &Upstream{
		relay:  r,
		uri:    uri,
		header: header,
		topic:  stream.NewTopic(r.RingEvents, r.RingBytes),
		kind:   kind,
		ctx:    ctx,
		cancel: cancel,
		ready:  make(chan struct{}),
	}
}

// URI is the target URI the subscription was made for.
func (u *Upstream) URI() string { return u.uri }

// Header is the request fields it is made with (not to be changed).
func (u *Upstream) Header() http.Header { return u.header }

// Topic is the ring its events go into.
func (u *Upstream) Topic() *stream.Topic { return u.topic }

// Context is done once the subscription is closed.
func (u *Upstream) Context() context.Context { return u.ctx }

// Cancel closes the subscription upstream.
func (u *Upstream) Cancel() { u.cancel() }

// OpenHeader is the fields of the first acknowledgement (the first 106, or
// the SSE response), once Await has returned nil.
func (u *Upstream) OpenHeader() http.Header { return u.openHeader }

// Start subscribes upstream, from lastID if it is not empty, until the
// upstream ends the stream for good or the subscription is cancelled. Each
// attempt goes where the relay's Route says; when an attempt fails and
// the route says to move on, the subscription resumes at once elsewhere
// from the last event id it received (Route promises the same log there),
// else the client tries the same place again after its backoff.
func (u *Upstream) Start(lastID string) {
	u.startID = lastID
	r := u.relay
	r.running.Add(1)
	go func() {
		defer r.running.Done()
		defer u.countClosed()
		sub := &client.Subscription{LastEventID: lastID, Header: u.header, OnEvent: u.onEvent}
		for {
			a := r.route(u.uri)
			attempt, cancel := context.WithCancel(u.ctx)
			moved := false
			sub.URL = a.URL
			sub.OnOpen = func(o client.Open) {
				if a.Opened != nil {
					a.Opened()
				}
				u.onOpen(o)
			}
			sub.OnRetry = func(err error, delay time.Duration) {
				if a.Failed != nil && a.Failed(err) {
					moved = true
					cancel() // Run returns at once; resume at the next attempt's place
					r.logger().Warn("upstream subscription lost; resuming elsewhere", "uri", redact.String(sub.URL), "last_event_id", sub.LastEventID, "err", err)
					return
				}
				u.onRetry(err, delay)
			}
			err := r.Client.Run(attempt, sub)
			cancel()
			if moved && u.ctx.Err() == nil {
				if u.isOpened() {
					r.metrics().UpstreamReconnect()
				}
				continue
			}
			u.countClosed() // before finish frees its slot in the registry
			u.finish(err)
			return
		}
	}()
}

// countClosed tells the metrics that u is closed, once: when its slot in
// the registry is freed or its goroutine ends, whichever comes first, so
// that the gauge of upstream subscriptions never reads above the
// registry's count.
func (u *Upstream) countClosed() {
	u.closedOnce.Do(func() { u.relay.metrics().UpstreamClosed(u.kind) })
}

// isOpened reports whether the upstream ever acknowledged u (or it failed
// before).
func (u *Upstream) isOpened() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.opened
}

func (u *Upstream) onOpen(o client.Open) {
	u.mu.Lock()
	first := !u.opened
	u.opened = true
	u.mu.Unlock()
	if first {
		u.openHeader = o.Header
		u.startedAfter = u.startID
		if e, err := wire.DecodePUB(o.Header); err == nil && e.ID != "" {
			u.startedAfter = e.ID
		}
	}
	if u.OnOpen != nil {
		u.OnOpen(o, first)
	}
	if first {
		close(u.ready)
	}
}

// onRetry is told of a failed upstream attempt. Before the subscription was
// ever acknowledged, the failure goes to the waiting subscribers (502, or
// the upstream's own error); after, they only see a delay while the client
// resumes from the last id.
func (u *Upstream) onRetry(err error, _ time.Duration) {
	if !u.isOpened() {
		u.fail(err)
		return
	}
	u.relay.metrics().UpstreamReconnect()
	u.relay.logger().Warn("upstream subscription lost; resuming", "uri", redact.String(u.uri), "err", err)
}

// fail ends a subscription that was never acknowledged.
func (u *Upstream) fail(err error) {
	u.mu.Lock()
	if u.opened {
		u.mu.Unlock()
		return
	}
	u.opened = true // no later onOpen may close ready again
	u.mu.Unlock()
	u.err = err
	close(u.ready)
	u.cancel()
	u.relay.Forget(u)
}

// finish runs when the client gives up: the upstream ended the stream (204)
// or refused to continue. Subscribers read what is left, then end the same
// way.
func (u *Upstream) finish(err error) {
	u.fail(err) // for waiting subscribers, if it was never acknowledged
	switch {
	case errors.Is(err, wire.ErrStreamEnded):
		u.topic.Close(wire.ErrStreamEnded)
	case errors.Is(err, context.Canceled):
		u.topic.Close(errUpstreamClosed)
	default:
		u.topic.Close(Error(err))
	}
	u.relay.Forget(u)
}

// End ends u for every subscriber with err (after what they have not read
// yet) and closes it upstream: the next subscriber opens a new one.
func (u *Upstream) End(err error) {
	u.topic.Close(err)
	u.relay.Forget(u)
	u.cancel()
}

// errUpstreamClosed ends subscribers of an upstream subscription the relay
// closed (on shutdown); they resume elsewhere or later.
var errUpstreamClosed = &wire.StatusError{Status: http.StatusServiceUnavailable, Detail: "upstream subscription closed", RetryAfter: time.Second}

// onEvent takes an event from the upstream connection's reader, so it must
// not block. An event whose ref names another origin becomes a gap (see
// refusingForeignRef). An event by reference without data is held, with
// everything after it, until its payload has been fetched (by the relay's
// Resolve); SSE subscribers need it inline, and fetching it once here
// serves them all.
func (u *Upstream) onEvent(ev client.Event) {
	f := ev.Frame()
	r := u.relay
	r.metrics().EventReceived(ev.Latency())
	f = u.refusingForeignRef(f)
	if r.Observe != nil {
		r.Observe(u, f)
	}
	u.mu.Lock()
	if len(u.pending) > 0 || (r.Resolve != nil && f.Ref != "" && len(f.Data) == 0) {
		u.pending = append(u.pending, f)
		if !u.resolving {
			u.resolving = true
			// Counted with the upstream goroutines, so that Close waits
			// for it too: onEvent runs on one of them, so the count is
			// not zero here.
			r.running.Go(u.resolvePending)
		}
		u.mu.Unlock()
		return
	}
	u.seq++
	seq := u.seq
	u.mu.Unlock()
	u.topic.Publish(f, seq)
}

// resolvePending fetches the payloads of held events and publishes them in
// order. Publishing happens before the queue is seen empty, so onEvent's
// fast path never overtakes it.
func (u *Upstream) resolvePending() {
	for {
		u.mu.Lock()
		if len(u.pending) == 0 {
			u.resolving = false
			u.mu.Unlock()
			return
		}
		f := u.pending[0]
		u.mu.Unlock()
		if f.Ref != "" && len(f.Data) == 0 {
			if data, err := u.relay.Resolve(u.ctx, u, f.Ref); err == nil {
				f.Data = data // not yet shared: no reader can see it before Publish
			} else {
				u.relay.logger().Warn("fetching an event's payload", "ref", f.Ref, "err", err)
			}
		}
		u.mu.Lock()
		u.pending = u.pending[1:]
		u.seq++
		seq := u.seq
		u.mu.Unlock()
		u.topic.Publish(f, seq)
	}
}

// Error turns an upstream's refusal into the same answer downstream.
func Error(err error) error {
	var se *wire.StatusError
	if errors.As(err, &se) {
		out := &wire.StatusError{Status: se.Status, Detail: se.Detail, RetryAfter: se.RetryAfter, Header: http.Header{}}
		if out.Detail == "" {
			out.Detail = "upstream: " + http.StatusText(se.Status)
		}
		for _, name := range []string{"Allow", "Www-Authenticate"} {
			if v := se.Header.Values(name); len(v) > 0 {
				out.Header[name] = v
			}
		}
		return out
	}
	if errors.Is(err, ErrTimeout) {
		return &wire.StatusError{Status: http.StatusGatewayTimeout, Detail: err.Error()}
	}
	return &wire.StatusError{Status: http.StatusBadGateway, Detail: "upstream unreachable: " + err.Error()}
}
