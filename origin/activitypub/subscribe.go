package activitypub

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// subscribe serves a subscription to res, by SUB or by GET with Accept:
// text/event-stream: the events logged on its stream (in viewer's view,
// for a collection) after Last-Event-ID, then live ones.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, format wire.Format, res *resource, cred credential) error {
	ctx := r.Context()
	viewer := cred.actor
	if res.deleted {
		return wire.Errorf(http.StatusGone, "%s has been deleted: its stream has ended", res.id)
	}
	if err := authorizeRead(ctx, s.Store.db, res, viewer); err != nil {
		return err
	}
	last, resume, err := lastEventID(r.Header)
	if err != nil {
		return err
	}
	owner := ownerView(res, viewer)
	key := s.streamKey(res, owner)

	// On a shared store, an id another process issued a moment ago
	// resumes once this one has caught up with it, rather than as a gap.
	if resume {
		s.Store.awaitSeq(ctx, last, 2*DefaultFollowPoll)
	}
	// Everything up to newest is committed; later events are either in the
	// log by the time the feed reads it or published to the Hub after the
	// feed subscribed, so starting after newest misses nothing. The
	// stream's own position there, its newest event, is what the first 106
	// names and what the next event names as its prev; a stream that has
	// none (yet, or left after pruning) starts at newest, and its next event
	// names no prev.
	newest := s.Store.LastSeq()
	head, replayable, err := s.Store.streamPosition(ctx, key, last, newest)
	if err != nil {
		return err
	}
	after := cmp.Or(head, newest)
	var first *wire.Frame
	if resume {
		if replayable {
			after = last
		} else {
			// Unknown (from the future, or another server's), expired, or
			// not an event of this stream: the events in between cannot
			// be replayed, so say so, with the resource to refetch, and
			// continue from now. The gap stands for the events after
			// last up to the stream's newest, which the next event names
			// as its prev.
			first = wire.NewFrame(wire.Event{
				ID:   strconv.FormatUint(after, 10),
				Prev: strconv.FormatUint(last, 10),
				Gap:  res.id,
				Time: time.Now(),
			})
		}
	}
	feed := s.guard(s.hub().Subscribe(ctx, key, after, first), key, cred)

	// A deletion committed between resolving res and subscribing ended the
	// stream before this subscriber joined it: end it again, so that this
	// subscriber, too, replays the Delete and then ends.
	if now, err := s.lookup(ctx, s.Store.db, res.id); err == nil && now.deleted {
		s.hub().End(key)
	}
	s.streams.Serve(w, r, format, stream.Subscription{
		Feed:      feed,
		Shareable: res.public && !owner,
		Vary:      []string{"Authorization"},
	})
	return nil
}

// onlyStreamQuery refuses a stream request whose query has a parameter
// other than those given, which the stream defines. A stream is named by its
// path (and, at the proxy endpoint, by ?id=): anything else in the query
// would name another stream that is the same one, and an intermediary
// collapsing identical subscriptions would hold one upstream subscription
// for each, so that a client adding ?x=1, ?x=2... could exhaust what the
// origin grants the intermediary for everyone behind it. Refused, they cost
// nothing.
func onlyStreamQuery(r *http.Request, defined ...string) error {
	for name := range r.URL.Query() {
		if !slices.Contains(defined, name) {
			return wire.Errorf(http.StatusBadRequest, "query parameter %q: a stream is named by its path%s; this one defines no other parameter", name, map[bool]string{true: " and ?id="}[slices.Contains(defined, "id")])
		}
	}
	return nil
}

// probesStream reports whether r is a HEAD with the Accept of an event
// stream: it asks what a GET with the same fields would subscribe to.
func probesStream(r *http.Request) bool {
	if r.Method != http.MethodHead {
		return false
	}
	get := *r
	get.Method = http.MethodGet
	f, err := stream.Negotiate(&get)
	return err == nil && f == wire.FormatSSE
}

// probe answers a HEAD for an event stream as a GET would begin, after the
// same checks, without subscribing: 200 with the fields the stream would
// open with, or the error the subscription would get. An intermediary
// serving the stream to several subscribers asks this to confirm that a
// credential still may read it.
func (s *Server) probe(w http.ResponseWriter, r *http.Request, res *resource, cred credential) error {
	if res.deleted {
		return wire.Errorf(http.StatusGone, "%s has been deleted: its stream has ended", res.id)
	}
	if err := authorizeRead(r.Context(), s.Store.db, res, cred.actor); err != nil {
		return err
	}
	if _, _, err := lastEventID(r.Header); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", wire.ContentTypeSSE)
	stream.SetSharing(h, wire.FormatSSE, res.public && !ownerView(res, cred.actor))
	h.Set("Vary", "Authorization")
	w.WriteHeader(http.StatusOK)
	return nil
}

// lastEventID parses Last-Event-ID: the decimal id of the last event a
// subscriber saw, which it wants the events after.
func lastEventID(h http.Header) (uint64, bool, error) {
	v, err := wire.LastEventID(h)
	if err != nil || v == "" {
		return 0, false, err
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false, wire.Errorf(http.StatusBadRequest, "Last-Event-ID: %q is not an event id of this server (decimal digits)", v)
		}
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		// Digits, but more than any sequence number: an unknown id.
		return ^uint64(0), true, nil
	}
	return id, true, err
}

// serveProxyEventStream serves the endpoint an actor names as
// endpoints.proxyEventStream: the event stream of the object ?id= names,
// with ?access_token= for an EventSource, which cannot set Authorization.
// A remote object's stream is relayed by Remote, if set, to authenticated
// users (see RemoteStreams).
func (s *Server) serveProxyEventStream(w http.ResponseWriter, r *http.Request, format wire.Format) error {
	switch {
	case format == 0 && r.Method != http.MethodGet && r.Method != http.MethodHead:
		return errMethod(r.Method, proxyEventStreamPath, "GET, SUB")
	case format == 0 && !probesStream(r):
		return wire.Errorf(http.StatusNotAcceptable, "%s serves event streams only: use SUB, or GET with Accept: text/event-stream", proxyEventStreamPath)
	}
	if err := onlyStreamQuery(r, "id", accessTokenParam); err != nil {
		return err
	}
	cred, err := s.credential(r)
	if err != nil {
		return err
	}
	id := r.URL.Query().Get("id")
	if id == "" {
		return wire.Errorf(http.StatusBadRequest, "id: missing: name the object whose events to stream")
	}
	if !s.isLocal(id) {
		return s.serveRemoteEventStream(w, r, format, id, cred)
	}
	res, err := s.resolve(r.Context(), s.Store.db, id)
	if err != nil {
		return err
	}
	if format == 0 {
		return s.probe(w, r, res, cred)
	}
	return s.subscribe(w, r, format, res, cred)
}
