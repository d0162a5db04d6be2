package edge

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// join finds the upstream subscription r can share, opening one if there is
// none, and counts the caller in. The cursor is taken now, under the
// registry's lock, so that a subscriber misses nothing the upstream delivers
// while it waits for the acknowledgement.
func (e *Edge) join(r *http.Request) (u *upstream, created bool, cursor *stream.Cursor, err error) {
	uri := e.upstreamURL(r)
	e.mu.Lock()
	defer e.mu.Unlock()
	var known *policy
	if p, ok := e.policies[uri]; ok {
		known = &p
	}
	key := subscriptionKey(uri, r, known)
	u = e.upstreams[key]
	if u == nil {
		client := e.Streamer.ClientAddr(r)
		if limit := setting.Or(e.MaxUpstreamsPerClient, DefaultMaxUpstreamsPerClient); e.MaxUpstreamsPerClient >= 0 && e.openedBy[client] >= limit {
			return nil, false, nil, &wire.StatusError{
				Status:     http.StatusTooManyRequests,
				Detail:     "too many distinct streams opened upstream for " + client + " (at most " + strconv.Itoa(limit) + "); join one that is open, or retry later",
				RetryAfter: 10 * time.Second,
			}
		}
		header := upstreamHeader(r, known)
		// On behalf of the subscriber who opened it, so that the origin's
		// per-client bound counts it against that client, not against
		// the edge's address for everyone behind it (the origin trusts
		// this field only from proxies it is told to trust).
		if client, err := netip.ParseAddr(e.Streamer.ClientAddr(r)); err == nil {
			header.Set("Forwarded", stream.ForwardedFor(client))
		}
		u = e.newUpstream(uri, header, UpstreamShared)
		u.key = key
		u.openedBy = client
		e.upstreams[key] = u
		e.openedBy[client]++
		created = true
	}
	u.refs++
	if u.linger != nil {
		u.linger.Stop()
		u.linger = nil
	}
	return u, created, u.topic.Head(), nil
}

// leave counts a subscriber out. The last one leaving closes the upstream
// subscription after Linger, unless someone joins in the meantime.
func (e *Edge) leave(u *upstream) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u.refs--
	if u.refs > 0 {
		return
	}
	linger := e.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	if linger < 0 || u.ctx.Err() != nil {
		e.closeLocked(u)
		return
	}
	u.linger = time.AfterFunc(linger, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if u.refs == 0 {
			e.closeLocked(u)
		}
	})
}

func (e *Edge) closeLocked(u *upstream) {
	e.removeLocked(u)
	u.cancel()
}

// forget removes an upstream subscription that ended, so that the next
// subscriber opens a new one.
func (e *Edge) forget(u *upstream) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.removeLocked(u)
}

// removeLocked takes u out of the registry, if it is there, and out of the
// count of its opener's.
func (e *Edge) removeLocked(u *upstream) {
	if e.upstreams[u.key] != u {
		return
	}
	delete(e.upstreams, u.key)
	u.countClosed()
	if e.openedBy[u.openedBy]--; e.openedBy[u.openedBy] <= 0 {
		delete(e.openedBy, u.openedBy)
	}
}

// learn records what the upstream said about a stream. If it may be shared,
// the subscription moves to the key later subscribers will compute, which no
// longer holds the first subscriber's credentials. The key is computed from
// the fields actually sent upstream, since they are what the stream
// reflects.
func (e *Edge) learn(u *upstream, p policy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.policies[u.uri] = p
	key := subscriptionKey(u.uri, &http.Request{Header: u.header}, &p)
	if key != u.key && e.upstreams[u.key] == u && e.upstreams[key] == nil {
		delete(e.upstreams, u.key)
		e.upstreams[key] = u
		u.key = key
	}
}
