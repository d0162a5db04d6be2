package relay

import (
	"context"

	"github.com/subpub/subpub/stream"
)

// Feed positions a subscriber in u, which it joined at joined (Join's
// cursor). Without Last-Event-ID it reads from where it joined. With one,
// it reads from the ring when the ring still holds that event (or the
// subscription started right after it); otherwise it catches up through an
// upstream subscription of its own, which hands over to the ring at the
// first event both have. created says the subscriber opened u, from
// lastID: it reads it from the start. release is called once the
// subscriber is done with the feed (it should Leave u).
func (r *Relay) Feed(ctx context.Context, u *Upstream, joined *stream.Cursor, lastID string, created bool, release func()) (stream.Feed, error) {
	m := r.metrics()
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
			return r.newCatchUp(ctx, u, lastID, release)
		}
	}
	cursor.SetMaxLag(r.maxLag())
	start := cursor.PrevID()
	if start == "" && cursor.AtStart() {
		start = u.startedAfter // nothing yet: where the upstream subscription began
	}
	return &stream.TopicFeed{Cursor: cursor, OnClose: release, Start: start}, nil
}
