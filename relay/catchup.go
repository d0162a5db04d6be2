package relay

import (
	"context"

	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// catchUp serves a subscriber whose Last-Event-ID is older than the shared
// ring holds. It reads an upstream subscription of its own, opened from that
// id, until it delivers an event the shared ring also holds; from there it
// reads the ring after that event and closes its own subscription. Both
// streams come from the same upstream in the same order, so the handover
// has no gap and no duplicate.
type catchUp struct {
	shared  *Upstream
	own     *Upstream // not in the registry: nobody else shares it
	cursor  *stream.Cursor
	joined  bool
	maxLag  uint64
	release func()
}

// newCatchUp opens the subscriber's own upstream subscription and waits for
// the upstream to acknowledge it, so that a refusal (a Last-Event-ID the
// upstream rejects, say) reaches the subscriber as the upstream gave it,
// before anything has been sent downstream.
func (r *Relay) newCatchUp(ctx context.Context, shared *Upstream, lastID string, release func()) (stream.Feed, error) {
	own := r.NewUpstream(shared.uri, shared.header, CatchUp)
	c := &catchUp{shared: shared, own: own, cursor: own.topic.Head(), maxLag: r.maxLag(), release: release}
	c.cursor.SetMaxLag(c.maxLag)
	own.Start(lastID)
	if err := r.Await(ctx, own); err != nil {
		own.cancel()
		return nil, err
	}
	return c, nil
}

func (c *catchUp) Next(buf []*wire.Frame) ([]*wire.Frame, <-chan struct{}, error) {
	before := len(buf)
	buf, _, wait, err := c.cursor.Frames(buf, 0)
	if c.joined {
		return buf, wait, err
	}
	for i := before; i < len(buf); i++ {
		id := buf[i].ID
		if id == "" {
			continue
		}
		if sc, ok := c.shared.topic.After(id); ok {
			// The rest of this batch is in the ring after this event.
			c.joined = true
			c.cursor = sc
			c.cursor.SetMaxLag(c.maxLag)
			c.own.cancel()
			clear(buf[i+1:])
			return buf[:i+1], nil, nil
		}
	}
	return buf, wait, err
}

func (c *catchUp) Close() {
	c.own.cancel()
	c.release()
}

// LiveCursor implements stream.LiveFeed: once it has joined the shared
// ring, a catch-up reads only that.
func (c *catchUp) LiveCursor() *stream.Cursor {
	if !c.joined {
		return nil
	}
	return c.cursor
}
