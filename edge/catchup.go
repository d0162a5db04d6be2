package edge

import (
	"context"
	"sync"
	"time"

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
	shared  *upstream
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
// ring holds, reads it instead of opening another (unless the edge has
// SeparateCatchUps). It is ended when its last reader has reached the
// shared ring or left, after Linger as a shared subscription is: the
// subscribers of a restarted edge, say, come back over a few seconds, and a
// source open for the first of them serves those that follow.
type catchUpSource struct {
	own  *upstream
	from string // the Last-Event-ID it was opened with
	// Guarded by catchUpSources.mu.
	readers int
	linger  *time.Timer
}

// catchUpSources are the open catch-up sources, by the shared subscription
// their readers hand over to.
type catchUpSources struct {
	mu       sync.Mutex
	byShared map[*upstream][]*catchUpSource
}

// newCatchUp positions a subscriber resuming from lastID, which the shared
// ring does not hold, in a catch-up source: one open already whose ring
// holds lastID (or that was opened from it), or a new one, which the
// catch-up limit may refuse. It waits for the source's acknowledgement, so
// that a refusal (a Last-Event-ID the upstream rejects, say) reaches the
// subscriber as the upstream gave it, before anything has been sent
// downstream.
func (e *Edge) newCatchUp(ctx context.Context, shared *upstream, lastID string, release func()) (stream.Feed, error) {
	src, cursor, err := e.catchUpSource(shared, lastID)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	c := &catchUp{shared: shared, source: src, cursor: cursor, maxLag: e.maxLag(), release: release,
		leave: func() { once.Do(func() { e.leaveCatchUp(shared, src) }) }}
	c.cursor.SetMaxLag(c.maxLag)
	if err := e.awaitAcknowledgement(ctx, src.own); err != nil {
		c.leave()
		return nil, err
	}
	return c, nil
}

// catchUpSource finds the source a subscriber resuming from lastID reads,
// with its cursor there, or opens one.
func (e *Edge) catchUpSource(shared *upstream, lastID string) (*catchUpSource, *stream.Cursor, error) {
	s := &e.catchUps
	s.mu.Lock()
	defer s.mu.Unlock()
	if !e.SeparateCatchUps {
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
				e.metrics().CatchUp(CatchUpShared)
				return src, cursor, nil
			}
		}
	}
	if err := e.admitCatchUp(); err != nil {
		e.metrics().CatchUp(CatchUpRefused)
		return nil, nil, err
	}
	src := &catchUpSource{own: e.newUpstream(shared.uri, shared.header, UpstreamCatchUp), from: lastID, readers: 1}
	if s.byShared == nil {
		s.byShared = make(map[*upstream][]*catchUpSource)
	}
	s.byShared[shared] = append(s.byShared[shared], src)
	cursor := src.own.topic.Head() // before it starts: from its first event
	src.own.start(lastID)
	e.metrics().CatchUp(CatchUpOpened)
	return src, cursor, nil
}

// leaveCatchUp counts a reader out of src; the last one ends it, after
// Linger unless someone joins in the meantime.
func (e *Edge) leaveCatchUp(shared *upstream, src *catchUpSource) {
	s := &e.catchUps
	s.mu.Lock()
	defer s.mu.Unlock()
	if src.readers--; src.readers > 0 {
		return
	}
	linger := setting.Or(e.Linger, DefaultLinger)
	if e.Linger < 0 || e.SeparateCatchUps || src.own.ctx.Err() != nil {
		// Nobody could join it.
		e.closeCatchUpLocked(shared, src)
		return
	}
	src.linger = time.AfterFunc(linger, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if src.readers == 0 {
			e.closeCatchUpLocked(shared, src)
		}
	})
}

// closeCatchUpLocked ends src and forgets it; the caller holds
// e.catchUps.mu.
func (e *Edge) closeCatchUpLocked(shared *upstream, src *catchUpSource) {
	s := &e.catchUps
	src.own.cancel()
	sources := s.byShared[shared]
	for i, other := range sources {
		if other == src {
			sources = append(sources[:i:i], sources[i+1:]...)
			break
		}
	}
	if len(sources) == 0 {
		delete(s.byShared, shared)
	} else {
		s.byShared[shared] = sources
	}
}

// catchUpsOpen counts the catch-up sources open now.
func (e *Edge) catchUpsOpen() int {
	s := &e.catchUps
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
