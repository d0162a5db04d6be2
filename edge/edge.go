// Package edge is a caching reverse proxy that understands publish/subscribe:
// it collapses identical subscriptions from many clients into one upstream
// subscription and fans the events out, the way an HTTP cache serves one
// response to many. It keeps a ring of recent events per subscription for
// clients that resume, catches up from upstream for those further behind,
// translates between SUB and Server-Sent Events, caches ordinary GETs, and
// passes everything else through.
package edge

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/ratelog"
	"github.com/subpub/subpub/relay"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// Defaults of an Edge.
const (
	DefaultLinger                = relay.DefaultLinger
	DefaultMaxLag                = relay.DefaultMaxLag
	DefaultConnectTimeout        = relay.DefaultConnectTimeout
	DefaultMaxUpstreamsPerClient = 100
	DefaultCatchUpRate           = relay.DefaultCatchUpRate
	DefaultCatchUpBurst          = relay.DefaultCatchUpBurst
)

// Edge is the proxy. Its fields are its configuration; set them before
// serving and do not change them after.
type Edge struct {
	// Upstream is the origin (or the next edge) everything goes to.
	// Required.
	Upstream *url.URL

	// MoreUpstreams, if any, are further upstreams serving the same event
	// log as Upstream: origin processes of one cluster, on one database,
	// where an event id names the same event everywhere. Subscriptions and
	// requests are spread over the healthy ones (see balancer); when one
	// fails, its subscriptions resume on another from their last event id.
	// Nothing checks that they serve the same log: upstreams that do not
	// would make a resumption skip or repeat events.
	MoreUpstreams []*url.URL

	// UpstreamBackoff is how long an upstream that failed (no answer, or
	// an answer of 500 or more) is left out; it doubles with each failure
	// in a row, up to DefaultUpstreamMaxBackoff, and a success ends it.
	// Default DefaultUpstreamBackoff. It matters only with MoreUpstreams.
	UpstreamBackoff time.Duration

	// Client subscribes upstream; it should be in auto mode so that an
	// upstream speaking only SSE works too. Subscriptions share its HTTP/2
	// or HTTP/3 connections. Required.
	Client *client.Client

	// Transport forwards requests that are not subscriptions. Required.
	Transport http.RoundTripper

	// Streamer writes subscriptions downstream (SUB or SSE, over any HTTP
	// version, whatever the upstream speaks). Required.
	Streamer *stream.Streamer

	// Cache, if set, caches GET responses (and the payloads of events sent
	// by reference).
	Cache *Cache

	// RingEvents and RingBytes bound each subscription's ring of recent
	// events, which serves clients resuming with Last-Event-ID. Zero means
	// stream.DefaultRingEvents and stream.DefaultRingBytes.
	RingEvents, RingBytes int

	// MaxLag bounds, in bytes, how much further behind the newest event a
	// subscriber may fall than it was when it joined (or resumed) before
	// its stream is ended so that it resumes from the ring. It is the
	// per-subscriber queue bound: HTTP/2 HEADERS frames are not
	// flow-controlled, so nothing else bounds what a slow subscriber holds.
	// Default DefaultMaxLag; it should stay well below RingBytes.
	MaxLag int

	// Linger keeps an upstream subscription open this long after its last
	// subscriber leaves, for the next one. Default DefaultLinger; negative
	// means close at once.
	Linger time.Duration

	// ConnectTimeout bounds how long a subscriber waits for the upstream to
	// acknowledge a new subscription before getting 504. Default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// AuthMaxAge bounds how old the upstream's decision to serve a private
	// stream (one not marked shareable, opened with credentials) may be
	// when the edge admits another subscriber with the same credentials
	// to it: the upstream's acknowledgement of the shared subscription,
	// or, once that is older, a check the edge makes upstream (HEAD with
	// the credentials) before admitting. A refusal ends the stream for
	// all its subscribers with the upstream's answer. Default
	// DefaultAuthMaxAge.
	AuthMaxAge time.Duration

	// MaxUpstreamsPerClient bounds the upstream subscriptions the edge
	// holds open because of one client (by Streamer.ClientAddr): those it
	// was the first to ask for. Joining one that is open costs the origin
	// nothing and is not counted; past the bound, a request for another
	// stream gets 429. Zero means DefaultMaxUpstreamsPerClient, negative no
	// bound.
	MaxUpstreamsPerClient int

	// CatchUpRate bounds how many upstream catch-up subscriptions (for
	// Last-Event-IDs that no ring of the edge holds) the edge opens per
	// second, for all streams, in bursts of at most CatchUpBurst; past it,
	// a subscriber that would need a new one gets 503 with Retry-After.
	// Subscribers that share one that is open are not counted. Zero means
	// DefaultCatchUpRate and DefaultCatchUpBurst, negative no bound.
	CatchUpRate  float64
	CatchUpBurst int

	// SeparateCatchUps opens an upstream catch-up subscription for each
	// subscriber the shared ring cannot serve, instead of sharing one
	// among those resuming from the same position. It exists to measure
	// what sharing saves; a deployed edge leaves it unset.
	SeparateCatchUps bool

	// Metrics observes the edge. Default: discarded.
	Metrics Metrics

	// Logger receives upstream failures. Default slog.Default().
	Logger *slog.Logger

	initOnce  sync.Once
	ctx       context.Context // cancelled by Close: ends every upstream
	cancel    context.CancelFunc
	proxy     http.Handler
	balancer  *balancer
	transport http.RoundTripper // Transport, to a healthy upstream
	clientLog *slog.Logger      // logger at a bounded rate, for what clients provoke
	relay     *relay.Relay      // the shared upstream subscriptions
	mu        sync.Mutex        // guards policies
	policies  map[string]policy // by target URI, learned from upstream
	openedBy  map[string]int    // upstreams in the registry, by the client that opened them; guarded by the relay's registry
}

func (e *Edge) init() {
	e.initOnce.Do(func() {
		e.ctx, e.cancel = context.WithCancel(context.Background())
		e.openedBy = make(map[string]int)
		e.policies = make(map[string]policy)
		e.balancer = newBalancer(append([]*url.URL{e.Upstream}, e.MoreUpstreams...), e.UpstreamBackoff, DefaultUpstreamMaxBackoff, e.metrics)
		e.transport = &balancedTransport{b: e.balancer, next: e.Transport}
		e.relay = e.newRelay()
		e.proxy = e.newPassthrough()
		e.clientLog = ratelog.Logger(e.logger())
	})
}

func (e *Edge) metrics() Metrics { return cmp.Or(e.Metrics, Metrics(discardMetrics{})) }

func (e *Edge) logger() *slog.Logger { return cmp.Or(e.Logger, slog.Default()) }

// ServeHTTP serves subscriptions from shared upstream subscriptions, GETs
// from the cache, and passes everything else to the upstream.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.init()
	format, err := stream.Negotiate(r)
	if err != nil {
		stream.WriteError(w, err)
		return
	}
	if format != 0 {
		e.serveSubscription(w, r, format)
		return
	}
	if e.Cache != nil && r.Method == http.MethodGet {
		e.serveGET(w, r)
		return
	}
	e.proxy.ServeHTTP(newRelayWriter(w, r), withClientBody(r))
}

// serveGET answers a GET from the cache, or from upstream through it,
// relaying the upstream's interim responses. A response that satisfies the
// client's If-None-Match or If-Modified-Since is answered with 304 here
// (RFC 9110 §13.2), whether stored or just fetched.
func (e *Edge) serveGET(w http.ResponseWriter, r *http.Request) {
	interim := &interimRelay{w: w, r: r}
	traced := r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{Got1xxResponse: interim.got1xx}))
	resp, outcome, err := e.Cache.do(traced, e.forward)
	interim.stop()
	e.metrics().Cache(outcome)
	if err != nil {
		if r.Context().Err() != nil {
			e.canceled(r, err)
			return
		}
		var refusal *wire.StatusError
		if errors.As(err, &refusal) {
			stream.WriteError(w, refusal) // the cache's own answer
			return
		}
		e.logger().Warn("fetching upstream", "path", r.URL.Path, "err", err)
		stream.WriteError(w, relay.Error(err))
		return
	}
	e.localizeProblem(r, resp)
	defer resp.Body.Close()
	resp.Header.Add("Via", viaEntry(resp.ProtoMajor, resp.ProtoMinor))
	if notModifiedFor(r, resp.StatusCode, resp.Header) {
		e.Cache.writeNotModified(w, resp)
		return
	}
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// canceled counts a request whose client went away before the answer, and
// logs it at debug level at a bounded rate: a client can do that as fast as
// it sends requests (twenty thousand streams opened and reset).
func (e *Edge) canceled(r *http.Request, err error) {
	e.metrics().RequestCanceled()
	e.clientLog.Debug("request canceled by the client", "method", r.Method, "path", r.URL.Path, "err", err)
}

// Close ends every upstream subscription and waits for them.
func (e *Edge) Close() error {
	e.init()
	e.cancel()
	return e.relay.Close()
}

// Upstreams counts the upstream subscriptions open now.
func (e *Edge) Upstreams() int {
	e.init()
	return e.relay.Len()
}

// upstreamURL is where a request goes upstream: the same path and query
// under the first upstream's base (the balancer moves it to the upstream
// it chooses).
func (e *Edge) upstreamURL(r *http.Request) string {
	u := *e.Upstream
	u.Path = singleJoiningSlash(e.Upstream.Path, r.URL.Path)
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	return u.String()
}

func singleJoiningSlash(a, b string) string {
	switch {
	case a == "" || a == "/":
		return b
	case a[len(a)-1] == '/' && len(b) > 0 && b[0] == '/':
		return a + b[1:]
	case a[len(a)-1] != '/' && (len(b) == 0 || b[0] != '/'):
		return a + "/" + b
	}
	return a + b
}
