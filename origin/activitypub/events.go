package activitypub

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/subpub/subpub/wire"
)

// ownerViewSuffix ends the stream key of a collection's owner view.
const ownerViewSuffix = "#owner"

// eventsPath is where a logged event's data is served: eventsPath + seq.
const eventsPath = "/events/"

// streamKey names a stream of res for the Hub and the event log: the path of
// its URL, and for a collection's owner view the path with ownerViewSuffix.
// A fragment can never reach the server in a request, so no URL is confused
// with an owner view.
func (s *Server) streamKey(res *resource, owner bool) string {
	key := strings.TrimPrefix(res.id, s.base)
	if owner && res.kind.isCollection() {
		key += ownerViewSuffix
	}
	return key
}

// resourceStreams are all the streams of res: an object's one, or both
// views of a collection. Updates and deletions of res go to all of them.
func (s *Server) resourceStreams(res *resource) []streamRef {
	refs := []streamRef{{Key: s.streamKey(res, false), Kind: res.kind.String()}}
	if res.kind.isCollection() {
		refs = append(refs, streamRef{Key: s.streamKey(res, true), Kind: res.kind.String()})
	}
	return refs
}

// itemStreams are the streams that hear of an item of coll: its owner's
// view, and its public view if the item is public. An inbox has only its
// owner's view.
func (s *Server) itemStreams(coll *resource, itemPublic bool) []streamRef {
	refs := []streamRef{{Key: s.streamKey(coll, true), Kind: coll.kind.String()}}
	if itemPublic && coll.kind != kindInbox {
		refs = append(refs, streamRef{Key: s.streamKey(coll, false), Kind: coll.kind.String()})
	}
	return refs
}

// changeEvent is the data of an event: an Activity Streams activity saying
// what changed (see package documentation).
func changeEvent(typ, actorID string, object any, target string) doc {
	d := doc{"@context": asContext, "type": typ, "actor": actorID, "object": object}
	if target != "" {
		d["target"] = target
	}
	return d
}

// emit logs the event whose data is d, of d's type, on streams and returns
// its sequence number. It is published when the transaction commits.
func (s *Server) emit(t *tx, streams []streamRef, d doc) (uint64, error) {
	data, err := marshalJSON(d)
	if err != nil {
		return 0, err
	}
	seq := t.nextSeq()
	e := wire.Event{ID: strconv.FormatUint(seq, 10), Type: stringProp(d, "type"), Data: data}
	size, err := wire.InlineSize(&e)
	if err != nil {
		return 0, err
	}
	if size > s.inlineLimit() {
		e.Ref = eventsPath + e.ID // relative: resolved against the stream, so an edge serves it too
	}
	t.appendEvent(seq, streams, e)
	return seq, nil
}

// publish counts the events a transaction of this process committed and,
// unless the store is shared (where the follower delivers every process's
// events), delivers them.
func (s *Server) publish(events []loggedEvent, ended []string) {
	for _, e := range events {
		for _, st := range e.Streams {
			s.metrics().EventEmitted(st.Kind)
		}
	}
	if !s.Store.shared {
		s.toHub(events, ended)
	}
}

// toHub hands committed events to the Hub, in sequence order, then ends
// the streams of resources that are gone.
func (s *Server) toHub(events []loggedEvent, ended []string) {
	for _, e := range events {
		for _, st := range e.Streams {
			s.hub().Publish(st.Key, e.InStream(st.Prev))
		}
	}
	for _, key := range ended {
		s.hub().End(key)
	}
}

// streamResource resolves a stream key back to its resource and view.
func (s *Server) streamResource(ctx context.Context, key string) (*resource, bool, error) {
	path, owner := strings.CutSuffix(key, ownerViewSuffix)
	res, err := s.lookup(ctx, s.Store.db, s.base+path)
	return res, owner, err
}

// serveEvent answers GET /events/SEQ with the data of a logged event: what
// a PUB too large to carry it refers to. The data never changes, so it is
// cacheable for good; it is as visible as the most visible stream the event
// is in.
func (s *Server) serveEvent(w http.ResponseWriter, r *http.Request, format wire.Format) error {
	if err := onlyGet(r, format, "an event"); err != nil {
		return err
	}
	viewer, err := s.authenticate(r)
	if err != nil {
		return err
	}
	digits := strings.TrimPrefix(r.URL.Path, eventsPath)
	seq, err := strconv.ParseUint(digits, 10, 63)
	if err != nil {
		return wire.Errorf(http.StatusNotFound, "%s does not exist: an event URL ends in its decimal id", r.URL.Path)
	}
	e, keys, err := s.Store.event(r.Context(), seq)
	if errors.Is(err, errNotFound) {
		return wire.Errorf(http.StatusNotFound, "event %d does not exist or has expired", seq)
	}
	if err != nil {
		return err
	}
	shareable, readable := false, false
	for _, key := range keys {
		res, owner, err := s.streamResource(r.Context(), key)
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		ok, err := canRead(r.Context(), s.Store.db, res, viewer)
		if err != nil {
			return err
		}
		if ok && (!owner || ownerView(res, viewer)) {
			readable = true
			shareable = shareable || (res.public && !owner)
		}
	}
	switch {
	case !readable && viewer == "":
		return errUnauthorized("event "+e.Event.ID+" is not public: authenticate as an actor who may read its stream", false)
	case !readable:
		return wire.Errorf(http.StatusForbidden, "event %s is not in a stream %s may read", e.Event.ID, viewer)
	}
	cacheControl := "private, max-age=31536000, immutable"
	if shareable && viewer == "" {
		cacheControl = "public, max-age=31536000, immutable"
	}
	h := w.Header()
	h.Set("Cache-Control", cacheControl)
	h.Set("Vary", "Authorization")
	writeBody(w, contentTypeActivity, e.Event.Data)
	return nil
}
