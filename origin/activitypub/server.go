package activitypub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/internal/ratelog"
	"github.com/subpub/subpub/internal/redact"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/origin"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// Defaults of a Server.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultInlineLimit  = wire.RecommendedInlineLimit
	DefaultPageSize     = 20
)

// Paths the server answers besides those of actors and objects.
const (
	webfingerPath        = "/.well-known/webfinger"
	proxyEventStreamPath = "/proxy/events"
)

// Server is an ActivityPub server (the client-to-server API) whose objects
// and collections are also event streams. It serves:
//
//   - /users/NAME: local actors (Person), with their inbox, outbox,
//     followers, following and liked collections at /users/NAME/inbox etc.;
//   - the objects, activities and collections created through outboxes,
//     under /users/NAME/objects/, /activities/ and /collections/, and each
//     object's likes and shares collections at its URL plus /likes, /shares;
//   - /proxy/events?id=URL: the event stream of a resource, for clients that
//     discover it through an actor's endpoints.proxyEventStream: a local
//     one's, or a remote object's, relayed (see Remote);
//   - /events/SEQ: the data of an event too large to carry inline;
//   - /.well-known/webfinger.
//
// GET on a resource returns it as Activity Streams JSON; SUB, or GET with
// Accept: text/event-stream, subscribes to its changes (see package
// documentation). POST to an outbox posts an activity.
//
// The server does not federate: remote recipients are not supported, and
// delivery is to local inboxes only; of remote objects, it relays only
// their event streams (Remote).
//
// Fields must not change once the server is serving.
type Server struct {
	// BaseURL is the canonical origin, such as "https://example.com": ids
	// are absolute URLs built from it, stored as they are, so it must not
	// change over the life of a Store. Required.
	BaseURL string

	// Store holds the server's state and event log. Required.
	Store *Store

	// Hub fans events out to subscribers. Its Log must be Store. Default: a
	// Hub of its own.
	Hub *origin.Hub

	// Streamer writes subscriptions. Default: a zero Streamer of its own,
	// which nothing shuts down; a program that shuts down gracefully gives
	// one and calls its Shutdown.
	Streamer *stream.Streamer

	// Logger receives errors and, at debug level, requests (access tokens
	// redacted). Default: discarded.
	Logger *slog.Logger

	// Metrics observes activities and events. Default: discarded.
	Metrics Metrics

	// MaxBodyBytes bounds a posted activity; a larger one gets 413.
	// Default DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// InlineLimit is the size of the 105 (PUB) response (as HTTP/1.1
	// writes it: see wire.InlineSize) above which a PUB carries a
	// reference (its ref, a URL under /events/) instead of the data.
	// Default DefaultInlineLimit.
	InlineLimit int

	// PageSize is the number of items in a collection page. Default
	// DefaultPageSize.
	PageSize int

	// EventRetention is how long events are kept for replay; older ones are
	// pruned, at most once a minute (or once per EventRetention if that is
	// shorter), when something is written. A subscriber resuming from a
	// pruned event is told it missed events. Zero keeps events forever.
	EventRetention time.Duration

	// Remote, if set, relays the event streams of remote objects at
	// /proxy/events?id=URL to authenticated users. Without it a remote id
	// there gets 404.
	Remote *RemoteStreams

	// RevocationCheck is how often, while subscriptions made with bearer
	// tokens are open, the server checks whether a token was revoked (by
	// any process using the Store) or has expired; it ends their
	// subscriptions (SUB with a final 401; SSE by closing the stream)
	// within about this long. Default DefaultRevocationCheck.
	RevocationCheck time.Duration

	initOnce sync.Once
	initErr  error
	base     string // BaseURL without a trailing slash
	host     string // BaseURL's host, for acct: URIs
	live     *origin.Hub
	streams  *stream.Streamer
	log      *slog.Logger
	// boundedLog is log at a bounded rate, for what may repeat with every
	// request: what clients provoke, storage failures.
	boundedLog *slog.Logger

	lastPrune atomic.Int64 // UnixNano of the last pruning

	guardMu         sync.Mutex
	guarded         map[*guardedFeed]struct{} // open authenticated subscriptions
	credentialCheck *time.Timer
}

var _ http.Handler = (*Server)(nil)

func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.boundedLog = ratelog.Logger(s.log)
		u, err := url.Parse(s.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			s.initErr = fmt.Errorf("activitypub: BaseURL %q is not an http(s) origin such as https://example.com", s.BaseURL)
			return
		}
		if s.Store == nil {
			s.initErr = errors.New("activitypub: Server.Store is nil")
			return
		}
		s.base = u.Scheme + "://" + u.Host
		s.host = u.Host
		s.live = s.Hub
		if s.live == nil {
			s.live = &origin.Hub{Log: s.Store}
		}
		s.streams = s.Streamer
		if s.streams == nil {
			s.streams = &stream.Streamer{Logger: s.log}
		}
		s.Store.Follow(s.toHub, 0)
	})
	return s.initErr
}

func (s *Server) hub() *origin.Hub { return s.live }

func (s *Server) metrics() Metrics { return cmp.Or(s.Metrics, Metrics(discardMetrics{})) }

func (s *Server) maxBodyBytes() int64 {
	return setting.Or(s.MaxBodyBytes, DefaultMaxBodyBytes)
}

func (s *Server) inlineLimit() int {
	return setting.Or(s.InlineLimit, DefaultInlineLimit)
}

func (s *Server) pageSize() int {
	return setting.Or(s.PageSize, DefaultPageSize)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.init(); err != nil {
		s.log.Error("misconfigured", "err", err)
		stream.WriteError(w, err)
		return
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("request", "method", r.Method, "uri", redact.String(r.URL.RequestURI()), "proto", r.Proto)
	}
	if err := s.route(w, r); err != nil {
		if r.Context().Err() != nil {
			// The client went away before the answer: its doing, which
			// it can repeat as fast as it sends requests (twenty
			// thousand streams opened and reset), so it is counted, and
			// logged at debug level at a bounded rate.
			s.metrics().RequestCanceled()
			s.boundedLog.Debug("request canceled by the client", "method", r.Method, "uri", redact.String(r.URL.RequestURI()), "err", err)
			return
		}
		if se := storageError(err); se != nil {
			// Every request fails so while it lasts: counted, and
			// logged at a bounded rate.
			s.metrics().StorageError(storageCondition(err))
			s.boundedLog.Error("storage unavailable", "method", r.Method, "uri", redact.String(r.URL.RequestURI()), "status", se.Status, "err", err)
			stream.WriteError(w, se)
			return
		}
		var se *wire.StatusError
		if !errors.As(err, &se) || se.Status >= 500 {
			s.log.Error("request failed", "method", r.Method, "uri", redact.String(r.URL.RequestURI()), "err", err)
		}
		stream.WriteError(w, err)
	}
}

// route dispatches a request. Errors it returns have not been written.
func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	format, err := stream.Negotiate(r)
	if err != nil {
		return err
	}
	switch path := r.URL.Path; {
	case path == webfingerPath:
		return s.serveWebfinger(w, r, format)
	case path == proxyEventStreamPath:
		return s.serveProxyEventStream(w, r, format)
	case strings.HasPrefix(path, eventsPath):
		return s.serveEvent(w, r, format)
	}
	cred, err := s.credential(r)
	if err != nil {
		return err
	}
	viewer := cred.actor
	res, err := s.resolve(r.Context(), s.Store.db, s.base+r.URL.Path)
	if err != nil {
		return err
	}
	if format != 0 || probesStream(r) {
		if err := onlyStreamQuery(r, accessTokenParam); err != nil {
			return err
		}
		if format == 0 {
			return s.probe(w, r, res, cred)
		}
		return s.subscribe(w, r, format, res, cred)
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return s.serveResource(w, r, res, viewer)
	case r.Method == http.MethodPost && res.kind == kindOutbox:
		return s.postOutbox(w, r, res, viewer)
	}
	allow := "GET, HEAD, SUB"
	if res.kind == kindOutbox {
		allow = "GET, HEAD, POST, SUB"
	}
	return errMethod(r.Method, res.id, allow)
}

// serveResource answers GET with the representation of res, or a page of
// it if res is a collection and paging parameters are given.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, res *resource, viewer string) error {
	ctx := r.Context()
	if res.deleted {
		if ok, err := canRead(ctx, s.Store.db, res, viewer); err == nil && ok && res.obj != nil {
			// ActivityPub §6.4: a deleted object answers 410 with its
			// Tombstone.
			return s.writeDoc(w, r, http.StatusGone, res.obj.data, false)
		}
		return wire.Errorf(http.StatusGone, "%s has been deleted", res.id)
	}
	if err := authorizeRead(ctx, s.Store.db, res, viewer); err != nil {
		return err
	}
	if _, ok := negotiateJSON(r.Header.Values("Accept")); !ok {
		return wire.Errorf(http.StatusNotAcceptable, "%s is served as %s or %s", res.id, contentTypeActivity, contentTypeLD)
	}
	var d doc
	var err error
	pq, isPage, err := parsePageQuery(r.URL.Query())
	switch {
	case err != nil:
		return err
	case res.kind.isCollection() && isPage:
		d, err = s.collectionPage(ctx, s.Store.db, res, viewer, pq)
	default:
		d, err = s.render(ctx, s.Store.db, res, viewer)
	}
	if err != nil {
		return err
	}
	return s.writeDoc(w, r, http.StatusOK, d, res.public && viewer == "")
}

// write runs fn in a write transaction and publishes its events once it has
// committed; then it prunes the event log if that is due.
func (s *Server) write(ctx context.Context, fn func(*tx) error) error {
	err := s.Store.update(ctx, fn, s.publish)
	s.pruneIfDue(ctx)
	return err
}

// pruneIfDue deletes events older than EventRetention, at most once a
// minute (or once per EventRetention if shorter).
func (s *Server) pruneIfDue(ctx context.Context) {
	if s.EventRetention <= 0 {
		return
	}
	now := time.Now()
	last := s.lastPrune.Load()
	if now.Sub(time.Unix(0, last)) < min(s.EventRetention, time.Minute) || !s.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	n, err := s.Store.PruneEvents(ctx, now.Add(-s.EventRetention))
	if err != nil {
		s.log.Error("pruning events", "err", err)
		return
	}
	if n > 0 {
		s.metrics().EventsPruned(n)
		s.log.Debug("pruned events", "count", n, "watermark", s.Store.PrunedSeq())
	}
}

// errMethod is a 405 naming the methods res allows.
func errMethod(method, what, allow string) error {
	return &wire.StatusError{
		Status: http.StatusMethodNotAllowed,
		Detail: method + " is not supported on " + what + " (allowed: " + allow + ")",
		Header: http.Header{"Allow": {allow}},
	}
}
