package edge

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/setting"
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
		u.start(lastID)
	}
	var once sync.Once
	release := func() { once.Do(func() { e.leave(u) }) }
	var feed stream.Feed
	err = e.awaitAcknowledgement(r.Context(), u)
	if err == nil && !created {
		err = e.authorize(r.Context(), u)
	}
	if err == nil {
		feed, err = e.feedFor(r.Context(), u, cursor, lastID, created, release)
	}
	if err != nil {
		release()
		if r.Context().Err() == nil {
			stream.WriteError(w, e.localError(r, relayedError(err)))
		}
		return
	}
	e.Streamer.Serve(w, r, format, stream.Subscription{Feed: feed, Shareable: u.policy.shareable, Vary: u.policy.vary})
}

// awaitAcknowledgement waits until the upstream has acknowledged u (nil) or
// refused it (its error), at most ConnectTimeout.
func (e *Edge) awaitAcknowledgement(ctx context.Context, u *upstream) error {
	timer := time.NewTimer(setting.Or(e.ConnectTimeout, DefaultConnectTimeout))
	defer timer.Stop()
	select {
	case <-u.ready:
		return u.err
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errUpstreamTimeout
	}
}

// feedFor positions a subscriber in the shared stream. Without Last-Event-ID
// it reads from where it joined. With one, it reads from the ring when the
// ring still holds that event (or the upstream subscription started right
// after it);
// otherwise it catches up through an upstream subscription of its own, which
// hands over to the ring at the first event both have.
func (e *Edge) feedFor(ctx context.Context, u *upstream, joined *stream.Cursor, lastID string, created bool, release func()) (stream.Feed, error) {
	m := e.metrics()
	cursor := joined
	switch {
	case lastID == "" || created:
	default:
		if c, ok := u.topic.After(lastID); ok {
			cursor = c
			m.Replay(true)
		} else if c, ok := u.topic.Start(); ok && (lastID == u.startID || lastID == u.startedAfter) {
			// The ring holds everything since the upstream subscription
			// began, after the id it was opened with or the one its first
			// 106 announced (which the edge announces to its subscribers
			// in turn, and they resume from before any event).
			cursor = c
			m.Replay(true)
		} else {
			m.Replay(false)
			return e.newCatchUp(ctx, u, lastID, release)
		}
	}
	cursor.SetMaxLag(e.maxLag())
	start := cursor.PrevID()
	if start == "" && cursor.AtStart() {
		start = u.startedAfter // nothing yet: where the upstream subscription began
	}
	return &stream.TopicFeed{Cursor: cursor, OnClose: release, Start: start}, nil
}
