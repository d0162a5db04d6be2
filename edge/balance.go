package edge

import (
	"context"
	"errors"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// Defaults of the upstreams' health.
const (
	// DefaultUpstreamBackoff is how long an upstream that just failed is
	// left out; each further failure in a row doubles it, up to
	// DefaultUpstreamMaxBackoff.
	DefaultUpstreamBackoff    = 500 * time.Millisecond
	DefaultUpstreamMaxBackoff = 30 * time.Second
)

// upstreamHost is one of the upstreams the edge may send a request to, and
// what the edge has observed of its health. Health is learned from real
// traffic, never configured or probed: a failure (no answer, or an answer
// of 500 or more) leaves the upstream out for a backoff that grows with
// each failure in a row; a success brings it back at once.
type upstreamHost struct {
	base *url.URL
	name string // base as a string: the metrics label

	mu        sync.Mutex
	failures  int       // in a row
	downUntil time.Time // zero while healthy
}

// healthy reports whether h is to be chosen at now.
func (h *upstreamHost) healthy(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !now.Before(h.downUntil)
}

// balancer spreads the edge's requests over its upstreams, which all serve
// the same event log (the origin processes of one cluster, on one
// database): an event id means the same event on every one of them, so a
// subscription resumes on another with Last-Event-ID, losing and repeating
// nothing.
type balancer struct {
	hosts      []*upstreamHost
	backoff    time.Duration
	maxBackoff time.Duration
	metrics    func() Metrics
}

func newBalancer(bases []*url.URL, backoff, maxBackoff time.Duration, metrics func() Metrics) *balancer {
	b := &balancer{
		backoff:    setting.Or(backoff, DefaultUpstreamBackoff),
		maxBackoff: setting.Or(maxBackoff, DefaultUpstreamMaxBackoff),
		metrics:    metrics,
	}
	for _, base := range bases {
		h := &upstreamHost{base: base, name: base.String()}
		b.hosts = append(b.hosts, h)
		metrics().UpstreamHealth(h.name, true)
	}
	return b
}

// pick chooses the upstream for what is named key (a stream's URI, a
// request's path): among the healthy upstreams, the one that ranks key
// highest (rendezvous hashing, so that when an upstream goes down only what
// it served moves, and spreads over the others). When none is healthy it
// is the one that will be tried again soonest, and healthy is false.
func (b *balancer) pick(key string, except *upstreamHost) (h *upstreamHost, healthy bool) {
	now := time.Now()
	var best, soonest *upstreamHost
	var bestRank uint64
	var soonestAt time.Time
	for _, c := range b.hosts {
		if c == except {
			continue
		}
		c.mu.Lock()
		down := c.downUntil
		c.mu.Unlock()
		if now.Before(down) {
			if soonest == nil || down.Before(soonestAt) {
				soonest, soonestAt = c, down
			}
			continue
		}
		if r := rank(key, c.name); best == nil || r > bestRank {
			best, bestRank = c, r
		}
	}
	switch {
	case best != nil:
		return best, true
	case soonest != nil:
		return soonest, false
	}
	return except, false // the only upstream
}

// rank is key's weight for the upstream named host.
func rank(key, host string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(key))
	f.Write([]byte{0})
	f.Write([]byte(host))
	return f.Sum64()
}

// failed records a failure of h: it is left out for its backoff.
func (b *balancer) failed(h *upstreamHost) {
	h.mu.Lock()
	h.failures++
	wasUp := h.downUntil.IsZero()
	h.downUntil = time.Now().Add(min(b.backoff<<min(h.failures-1, 20), b.maxBackoff))
	h.mu.Unlock()
	if wasUp {
		b.metrics().UpstreamHealth(h.name, false)
	}
}

// succeeded records a success of h: it is healthy again.
func (b *balancer) succeeded(h *upstreamHost) {
	h.mu.Lock()
	wasDown := !h.downUntil.IsZero()
	h.failures = 0
	h.downUntil = time.Time{}
	h.mu.Unlock()
	if wasDown {
		b.metrics().UpstreamHealth(h.name, true)
	}
}

// observe records the outcome of a request to h, or of an attempt to
// subscribe there. A cancelled request says nothing of the upstream, nor
// does an answer below 500: a 404 or a 429 is the upstream working.
func (b *balancer) observe(h *upstreamHost, status int, err error) {
	var se *wire.StatusError
	switch {
	case errors.Is(err, context.Canceled):
	case errors.As(err, &se):
		b.observe(h, se.Status, nil)
	case err != nil, status >= 500:
		b.failed(h)
	default:
		b.succeeded(h)
	}
}

// at is uri, a URL under the first upstream (every key and policy is
// computed with it, so that they do not depend on where a request goes),
// moved under h.
func (b *balancer) at(uri string, h *upstreamHost) string {
	first := b.hosts[0]
	if h == first {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	return b.moved(u, h).String()
}

// moved is u, under the first upstream, moved under h.
func (b *balancer) moved(u *url.URL, h *upstreamHost) *url.URL {
	first := b.hosts[0].base
	out := *u
	out.Scheme, out.Host, out.User = h.base.Scheme, h.base.Host, h.base.User
	out.Path = singleJoiningSlash(h.base.Path, strings.TrimPrefix(u.Path, strings.TrimSuffix(first.Path, "/")))
	out.RawPath = ""
	return &out
}

// balancedTransport sends each request, addressed to the first upstream,
// to a healthy one, and observes the outcome. A request that may be sent
// again (a safe method, without a body) and got no answer is sent to
// another healthy upstream, once.
type balancedTransport struct {
	b    *balancer
	next http.RoundTripper
}

func (t *balancedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h, _ := t.b.pick(req.URL.Path, nil)
	resp, err := t.send(req, h)
	if err == nil || req.Context().Err() != nil || !isSafe(req.Method) || (req.Body != nil && req.Body != http.NoBody) {
		return resp, err
	}
	if other, healthy := t.b.pick(req.URL.Path, h); healthy && other != h {
		return t.send(req, other)
	}
	return resp, err
}

func (t *balancedTransport) send(req *http.Request, h *upstreamHost) (*http.Response, error) {
	out := req
	if h != t.b.hosts[0] {
		out = req.Clone(req.Context())
		out.URL = t.b.moved(req.URL, h)
		if req.Host == req.URL.Host {
			out.Host = ""
		}
	}
	resp, err := t.next.RoundTrip(out)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	t.b.observe(h, status, err)
	return resp, err
}
