package relay

import (
	"context"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/multimap"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// catchUp serves a subscriber whose Last-Event-ID the shared ring does not
// hold. It reads the ring of a catch-up source (an upstream subscription
// opened from further back, see catchUpSource) until it delivers an event
// the shared ring also holds; from there it reads the shared ring after
// that event and leaves the source. Both streams come from the same
// upstream in the same order, so the handover has no gap and no duplicate.
type catchUp struct {
	shared  *Upstream
	source  *catchUpSource
	cursor  *stream.Cursor
	joined  bool
	maxLag  uint64
	leave   func() // leaves the source, once
	release func()
}

// catchUpSource is an upstream subscription opened from a Last-Event-ID the
// shared ring did not hold. It is not in the registry, but it is shared
// too: a later subscriber resuming from the same id, or from any id its
// ring holds, reads it instead of opening another (unless the relay has
// SeparateCatchUps). It is ended when its last reader has reached the
// shared ring or left, after Linger as a shared subscription is: the
// subscribers of a restarted edge, say, come back over a few seconds, and a
// source open for the first of them serves those that follow.
type catchUpSource struct {
	own  *Upstream
	from string // the Last-Event-ID it was opened with
	// Guarded by catchUpSources.mu.
	readers int
	linger  *time.Timer
}

// catchUpSources are the open catch-up sources, by the shared subscription
// their readers hand over to.
type catchUpSources struct {
	mu       sync.Mutex
	byShared map[*Upstream][]*catchUpSource
}

// newCatchUp positions a subscriber resuming from lastID, which the shared
// ring does not hold, in a catch-up source: one open already whose ring
// holds lastID (or that was opened from it), or a new one, which the
// catch-up limit may refuse. It waits for the source's acknowledgement, so
// that a refusal (a Last-Event-ID the upstream rejects, say) reaches the
// subscriber as the upstream gave it, before anything has been sent
// downstream.
func (r *Relay) newCatchUp(ctx context.Context, shared *Upstream, lastID string, release func()) (stream.Feed, error) {
	src, cursor, err := r.catchUpSource(shared, lastID)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	c := &catchUp{shared: shared, source: src, cursor: cursor, maxLag: r.maxLag(), release: release,
		leave: func() { once.Do(func() { r.leaveCatchUp(shared, src) }) }}
	c.cursor.SetMaxLag(c.maxLag)
	if err := r.Await(ctx, src.own); err != nil {
		c.leave()
		return nil, err
	}
	return c, nil
}

// catchUpSource finds the source a subscriber resuming from lastID reads,
// with its cursor there, or opens one.
func (r *Relay) catchUpSource(shared *Upstream, lastID string) (*catchUpSource, *stream.Cursor, error) {
	s := &r.catchUps
	s.mu.Lock()
	defer s.mu.Unlock()
	if !r.SeparateCatchUps {
		for _, src := range s.byShared[shared] {
			if src.own.ctx.Err() != nil {
				continue // refused or ended: it serves nobody new
			}
			cursor, ok := src.own.topic.After(lastID)
			if !ok && src.from == lastID {
				cursor, ok = src.own.topic.Start()
			}
			if ok {
				src.readers++
				if src.linger != nil {
					src.linger.Stop()
					src.linger = nil
				}
				r.metrics().CatchUp(CatchUpShared)
				return src, cursor, nil
			}
		}
	}
	if err := r.admitCatchUp(); err != nil {
		r.metrics().CatchUp(CatchUpRefused)
		return nil, nil, err
	}
	src := &catchUpSource{own: r.NewUpstream(shared.uri, shared.header, CatchUp), from: lastID, readers: 1}
	if s.byShared == nil {
		s.byShared = make(map[*Upstream][]*catchUpSource)
	}
	s.byShared[shared] = append(s.byShared[shared], src)
	cursor := src.own.topic.Head() // before it starts: from its first event
	src.own.Start(lastID)
	r.metrics().CatchUp(CatchUpOpened)
	return src, cursor, nil
}

// leaveCatchUp counts a reader out of src; the last one ends it, after
// Linger unless someone joins in the meantime.
func (r *Relay) leaveCatchUp(shared *Upstream, src *catchUpSource) {
	s := &r.catchUps
	s.mu.Lock()
	defer s.mu.Unlock()
	if src.readers--; src.readers > 0 {
		return
	}
	if r.Linger < 0 || r.SeparateCatchUps || src.own.ctx.Err() != nil {
		// Nobody could join it.
		r.closeCatchUpLocked(shared, src)
		return
	}
	src.linger = time.AfterFunc(setting.Or(r.Linger, DefaultLinger), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if src.readers == 0 {
			r.closeCatchUpLocked(shared, src)
		}
	})
}

// closeCatchUpLocked ends src and forgets it; the caller holds
// r.catchUps.mu.
func (r *Relay) closeCatchUpLocked(shared *Upstream, src *catchUpSource) {
	s := &r.catchUps
	src.own.cancel()
	multimap.Remove(s.byShared, shared, src)
}

// catchUpsOpen counts the catch-up sources open now.
func (r *Relay) catchUpsOpen() int {
	s := &r.catchUps
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sources := range s.byShared {
		n += len(sources)
	}
	return n
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
			c.leave()
			clear(buf[i+1:])
			return buf[:i+1], nil, nil
		}
	}
	return buf, wait, err
}

func (c *catchUp) Close() {
	c.leave()
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
