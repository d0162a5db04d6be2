package edge

import (
	"net/http"
	"sync"

	"github.com/subpub/subpub/relay"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// serveSubscription serves a SUB or SSE request from the shared upstream
// subscription for its key.
func (e *Edge) serveSubscription(w http.ResponseWriter, r *http.Request, format wire.Format) {
	lastID, err := wire.LastEventID(r.Header)
	if err != nil {
		stream.WriteError(w, err)
		return
	}
	u, created, cursor, err := e.join(r)
	if err != nil {
		stream.WriteError(w, err)
		return
	}
	if created {
		u.Start(lastID)
	}
	var once sync.Once
	release := func() { once.Do(func() { e.relay.Leave(u) }) }
	var feed stream.Feed
	err = e.relay.Await(r.Context(), u)
	if err == nil && !created {
		err = e.authorize(r.Context(), u)
	}
	if err == nil {
		feed, err = e.relay.Feed(r.Context(), u, cursor, lastID, created, release)
	}
	if err != nil {
		release()
		if r.Context().Err() == nil {
			stream.WriteError(w, e.localError(r, relay.Error(err)))
		}
		return
	}
	p := sharedOf(u).policy
	e.Streamer.Serve(w, r, format, stream.Subscription{Feed: feed, Shareable: p.shareable, Vary: p.vary})
}
