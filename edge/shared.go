package edge

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/relay"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// shared is what the edge keeps of an upstream subscription besides what
// the relay keeps (relay.Upstream.Data).
type shared struct {
	// policy is what the upstream said of the stream in its first 106.
	policy policy
	// auth is what the upstream last decided about the credentials of a
	// private stream.
	auth authorization
	// openedBy is the client it was opened for (see
	// Edge.MaxUpstreamsPerClient).
	openedBy string
}

// sharedOf is the edge's part of u, a shared subscription (or a
// catch-up's, which has an empty one).
func sharedOf(u *relay.Upstream) *shared {
	if s, ok := u.Data.(*shared); ok {
		return s
	}
	return &shared{}
}

// newRelay is the relay of the edge's upstream subscriptions: its settings,
// the balancer choosing where each attempt goes, the cache invalidated by
// events and serving the payloads of events by reference.
func (e *Edge) newRelay() *relay.Relay {
	return &relay.Relay{
		Client:           e.Client,
		RingEvents:       e.RingEvents,
		RingBytes:        e.RingBytes,
		MaxLag:           setting.Or(e.MaxLag, DefaultMaxLag),
		Linger:           setting.Or(e.Linger, DefaultLinger),
		ConnectTimeout:   setting.Or(e.ConnectTimeout, DefaultConnectTimeout),
		CatchUpRate:      e.CatchUpRate,
		CatchUpBurst:     e.CatchUpBurst,
		SeparateCatchUps: e.SeparateCatchUps,
		Route:            e.route,
		Observe: func(u *relay.Upstream, f *wire.Frame) {
			if c := e.Cache; c != nil {
				c.invalidateFromEvent(u.URI(), f)
			}
		},
		Resolve: func(ctx context.Context, u *relay.Upstream, ref string) ([]byte, error) {
			return e.fetchRef(ctx, u.URI(), ref, u.Header())
		},
		OnRemove: func(u *relay.Upstream) {
			opener := sharedOf(u).openedBy
			if e.openedBy[opener]--; e.openedBy[opener] <= 0 {
				delete(e.openedBy, opener)
			}
		},
		Metrics: e.metrics(),
		Logger:  e.logger(),
	}
}

// route sends an attempt of a subscription to uri to the healthy upstream
// the balancer picks, and moves it on to another healthy one when it fails.
func (e *Edge) route(uri string) relay.Attempt {
	host, _ := e.balancer.pick(uri, nil)
	return relay.Attempt{
		URL:    e.balancer.at(uri, host),
		Opened: func() { e.balancer.succeeded(host) },
		Failed: func(err error) bool {
			e.balancer.observe(host, 0, err)
			other, healthy := e.balancer.pick(uri, host)
			return healthy && other != host
		},
	}
}

// join finds the upstream subscription r can share, opening one if there is
// none, and counts the caller in (see relay.Relay.Join).
func (e *Edge) join(r *http.Request) (u *relay.Upstream, created bool, cursor *stream.Cursor, err error) {
	uri := e.upstreamURL(r)
	e.mu.Lock()
	defer e.mu.Unlock()
	var known *policy
	if p, ok := e.policies[uri]; ok {
		known = &p
	}
	key := subscriptionKey(uri, r, known)
	return e.relay.Join(key, func() (*relay.Upstream, error) {
		// Under the relay's lock, which guards openedBy.
		opener := e.Streamer.ClientAddr(r)
		if limit := setting.Or(e.MaxUpstreamsPerClient, DefaultMaxUpstreamsPerClient); e.MaxUpstreamsPerClient >= 0 && e.openedBy[opener] >= limit {
			return nil, &wire.StatusError{
				Status:     http.StatusTooManyRequests,
				Detail:     "too many distinct streams opened upstream for " + opener + " (at most " + strconv.Itoa(limit) + "); join one that is open, or retry later",
				RetryAfter: 10 * time.Second,
			}
		}
		header := upstreamHeader(r, known)
		// On behalf of the subscriber who opened it, so that the origin's
		// per-client bound counts it against that client, not against
		// the edge's address for everyone behind it (the origin trusts
		// this field only from proxies it is told to trust).
		if addr, err := netip.ParseAddr(opener); err == nil {
			header.Set("Forwarded", stream.ForwardedFor(addr))
		}
		u := e.relay.NewUpstream(uri, header, relay.Shared)
		s := &shared{openedBy: opener}
		u.Data = s
		u.OnOpen = func(o client.Open, first bool) {
			s.auth.admitted(time.Now())
			p := policyFrom(o.Header, hasCredentials(header))
			if first {
				s.policy = p
			}
			e.learn(u, p)
		}
		e.openedBy[opener]++
		return u, nil
	})
}

// learn records what the upstream said about a stream. If it may be shared,
// the subscription moves to the key later subscribers will compute, which no
// longer holds the first subscriber's credentials. The key is computed from
// the fields actually sent upstream, since they are what the stream
// reflects.
func (e *Edge) learn(u *relay.Upstream, p policy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.policies[u.URI()] = p
	e.relay.Rekey(u, subscriptionKey(u.URI(), &http.Request{Header: u.Header()}, &p))
}
