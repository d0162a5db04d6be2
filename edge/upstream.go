package edge

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

// upstream is one subscription to the upstream, shared by every downstream
// subscriber with the same key. Its events go into a ring (a Topic) that
// each subscriber reads at its own pace; the upstream never waits for them.
type upstream struct {
	edge     *Edge
	uri      string // target URI upstream
	header   http.Header
	openedBy string // the client it was opened for (see Edge.MaxUpstreamsPerClient)
	topic    *stream.Topic
	kind     UpstreamKind
	// startID is the Last-Event-ID the subscription was opened with: the
	// ring holds everything after it until it first evicts.
	startID string

	ctx    context.Context
	cancel context.CancelFunc

	// ready is closed once the upstream has acknowledged the subscription
	// (then policy is set) or has failed before doing so (then err is).
	ready  chan struct{}
	policy policy
	err    error
	// startedAfter is where the upstream said the subscription starts (the id
	// in its first 106), or startID.
	startedAfter string

	// auth is what the upstream last decided about the credentials of a
	// private stream.
	auth authorization

	// Owned by the registry (Edge.mu).
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

func (e *Edge) newUpstream(uri string, header http.Header, kind UpstreamKind) *upstream {
	ctx, cancel := context.WithCancel(e.ctx)
	return &upstream{
		edge:   e,
		uri:    uri,
		header: header,
		topic:  stream.NewTopic(e.RingEvents, e.RingBytes),
		kind:   kind,
		ctx:    ctx,
		cancel: cancel,
		ready:  make(chan struct{}),
	}
}

// start subscribes upstream, from lastID if it is not empty, until the
// upstream ends the stream for good or the subscription is cancelled.
func (u *upstream) start(lastID string) {
	u.startID = lastID
	e := u.edge
	e.running.Add(1)
	e.metrics().UpstreamOpened(u.kind)
	go func() {
		defer e.running.Done()
		defer e.metrics().UpstreamClosed(u.kind)
		err := e.Client.Run(u.ctx, &client.Subscription{
			URL:         u.uri,
			LastEventID: lastID,
			Header:      u.header,
			OnEvent:     u.onEvent,
			OnOpen:      u.onOpen,
			OnRetry:     u.onRetry,
		})
		u.finish(err)
	}()
}

func (u *upstream) onOpen(o client.Open) {
	u.auth.admitted(time.Now())
	u.mu.Lock()
	first := !u.opened
	u.opened = true
	u.mu.Unlock()
	p := policyFrom(o.Header, hasCredentials(u.header))
	if first {
		u.policy = p
		u.startedAfter = u.startID
		if e, err := wire.DecodePUB(o.Header); err == nil && e.ID != "" {
			u.startedAfter = e.ID
		}
		close(u.ready)
	}
	if u.kind == UpstreamShared {
		u.edge.learn(u, p)
	}
}

// onRetry is told of a failed upstream attempt. Before the subscription was
// ever acknowledged, the failure goes to the waiting subscribers (502, or
// the upstream's own error); after, they only see a delay while the client
// resumes from the last id.
func (u *upstream) onRetry(err error, _ time.Duration) {
	u.mu.Lock()
	opened := u.opened
	u.mu.Unlock()
	if !opened {
		u.fail(err)
		return
	}
	u.edge.metrics().UpstreamReconnect()
	u.edge.logger().Warn("upstream subscription lost; resuming", "uri", redact.String(u.uri), "err", err)
}

// fail ends a subscription that was never acknowledged.
func (u *upstream) fail(err error) {
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
	u.edge.forget(u)
}

// finish runs when the client gives up: the upstream ended the stream (204)
// or refused to continue. Subscribers read what is left, then end the same
// way.
func (u *upstream) finish(err error) {
	u.fail(err) // for waiting subscribers, if it was never acknowledged
	switch {
	case errors.Is(err, wire.ErrStreamEnded):
		u.topic.Close(wire.ErrStreamEnded)
	case errors.Is(err, context.Canceled):
		u.topic.Close(errUpstreamClosed)
	default:
		u.topic.Close(relayedError(err))
	}
	u.edge.forget(u)
}

// errUpstreamClosed ends subscribers of an upstream subscription the edge
// closed (on shutdown); they resume elsewhere or later.
var errUpstreamClosed = &wire.StatusError{Status: http.StatusServiceUnavailable, Detail: "upstream subscription closed", RetryAfter: time.Second}

// onEvent takes an event from the upstream connection's reader, so it must
// not block. An event by reference without data is held, with everything
// after it, until its payload has been fetched; SSE subscribers need it
// inline, and fetching it once here (through the cache) serves them all.
func (u *upstream) onEvent(ev client.Event) {
	f := ev.Frame()
	u.edge.metrics().EventReceived(ev.Latency())
	f = u.refusingForeignRef(f)
	if c := u.edge.Cache; c != nil {
		c.invalidateFromEvent(u.uri, f)
	}
	u.mu.Lock()
	if len(u.pending) > 0 || (f.Ref != "" && len(f.Data) == 0) {
		u.pending = append(u.pending, f)
		if !u.resolving {
			u.resolving = true
			// Counted with the upstream goroutines, so that Close waits
			// for it too: onEvent runs on one of them, so the count is
			// not zero here.
			u.edge.running.Go(u.resolvePending)
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
func (u *upstream) resolvePending() {
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
			if data, err := u.edge.fetchRef(u.ctx, u.uri, f.Ref, u.header); err == nil {
				f.Data = data // not yet shared: no reader can see it before Publish
			} else {
				u.edge.logger().Warn("fetching an event's payload", "ref", f.Ref, "err", err)
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

// relayedError turns an upstream's refusal into the same answer downstream.
func relayedError(err error) error {
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
	if errors.Is(err, errUpstreamTimeout) {
		return &wire.StatusError{Status: http.StatusGatewayTimeout, Detail: err.Error()}
	}
	return &wire.StatusError{Status: http.StatusBadGateway, Detail: "upstream unreachable: " + err.Error()}
}
