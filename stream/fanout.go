package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/host/h2"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// A LiveFeed is a Feed that, once it has caught up, only follows a Topic
// through a cursor. Such a subscriber can be written by its connection's
// fan-out instead of by its own loop: see fanout.
type LiveFeed interface {
	Feed
	// LiveCursor is the cursor the feed reads once nothing else is
	// pending, or nil while it still has other frames to serve (a replay,
	// a gap signal) or never follows a topic. It is asked only right
	// after Next returned no frame and a channel to wait on; while the
	// Streamer holds the cursor, Next is not called.
	LiveCursor() *Cursor
}

// fanoutKey names one fan-out: the subscriptions on one connection that
// read one topic.
type fanoutKey struct {
	conn  *h2.Conn
	topic *Topic
}

// fanout writes one topic to every caught-up SUB subscription of one
// HTTP/2 connection, from one goroutine: it reads each event from the ring
// once, and queues its PUB to all of the connection's streams as one
// h2.Batch, so that HPACK indexes the event's fields on the first stream and
// every further stream refers to them, and the connection's writer sends
// them all in one write. Without it every subscriber's own loop wakes for
// every event, reads the ring and queues one PUB: per delivery, a goroutine
// wake-up and a trip through the connection's lock.
//
// Interim responses take no flow-control window, so on one connection no
// subscriber can be slower than another: what slows one (a full TCP send
// buffer, a client that stopped reading) slows them all, and the fan-out's
// writes are timed by the stall watchdog and bounded by the connection's
// write queue as a subscriber's own are. A subscriber leaves the fan-out,
// its cursor set where the fan-out stood, when the topic ends, the ring
// leaves the fan-out behind, or an event cannot be carried as PUB; its own
// loop then meets that condition and ends the subscription as it would
// have.
//
// The fan-out's goroutine runs while it has members and ends with the last.
type fanout struct {
	s    *Streamer
	key  fanoutKey
	kick chan struct{} // a member left: the goroutine checks whether any remain

	mu      sync.Mutex
	cursor  *Cursor // where every member stands
	members []*member

	writingSince atomic.Int64 // UnixNano when the current write began; 0 if none
}

// member is one subscription served by a fan-out.
type member struct {
	st     *subscriber
	out    *responseStream
	cursor *Cursor            // the subscriber's own, set on leaving
	left   chan fanoutLeaving // the fan-out let go of it
}

// fanoutLeaving says why a fan-out let go of a member.
type fanoutLeaving int

const (
	// leftFeed: the member's own loop takes over at the fan-out's
	// position, and meets whatever made it leave (the topic ended, the
	// ring moved past, an event PUB cannot carry).
	leftFeed fanoutLeaving = iota
	leftStalled
	leftConnClosed
)

// noFields is a 106's empty header section, prepared once.
var noFields = h2.NewFields(nil)

// follow serves st through its connection's fan-out for as long as it can,
// if its writer and feed allow it. It reports whether the fan-out served
// it, and, if the subscription is over, why (one of the Close* reasons;
// "" if the subscriber's own loop goes on). The feed has just reported
// that nothing is ready.
func (s *Streamer) follow(out streamWriter, feed Feed, st *subscriber, ctx context.Context) (followed bool, ended string) {
	rs, ok := out.(*responseStream)
	if !ok || rs.format != wire.FormatPUB {
		return false, ""
	}
	lf, ok := feed.(LiveFeed)
	if !ok {
		return false, ""
	}
	cursor := lf.LiveCursor()
	if cursor == nil {
		return false, ""
	}
	conn := h2.ConnOf(rs.w)
	if conn == nil {
		return false, ""
	}
	m := &member{st: st, out: rs, cursor: cursor, left: make(chan fanoutLeaving, 1)}
	g := s.join(fanoutKey{conn: conn, topic: cursor.t}, m)
	if g == nil {
		return false, "" // the fan-out is elsewhere in the ring: try later
	}
	metrics := s.metrics()
	metrics.FannedOut(rs.proto, rs.format, 1)
	defer metrics.FannedOut(rs.proto, rs.format, -1)
	select {
	case why := <-m.left:
		switch why {
		case leftStalled:
			return true, CloseStalled
		case leftConnClosed:
			return true, CloseClientGone
		}
		return true, ""
	case <-ctx.Done():
		g.leave(m)
		if st.stalled.Load() {
			// The watchdog's abort reset the stream, which ended its
			// context.
			return true, CloseStalled
		}
		return true, CloseClientGone
	case <-s.closing:
		g.leave(m)
		return true, CloseShutdown
	}
}

// join adds m to the fan-out of key, starting one if there is none, and
// returns it; nil if the fan-out stands elsewhere in the ring than m.
func (s *Streamer) join(key fanoutKey, m *member) *fanout {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fanouts == nil {
		s.fanouts = make(map[fanoutKey]*fanout)
	}
	g := s.fanouts[key]
	if g == nil {
		c := *m.cursor
		g = &fanout{s: s, key: key, kick: make(chan struct{}, 1), cursor: &c}
		s.fanouts[key] = g
		g.members = append(g.members, m)
		go g.run()
		return g
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cursor.pos != m.cursor.pos {
		return nil
	}
	g.members = append(g.members, m)
	return g
}

// leave removes m, if the fan-out still has it.
func (g *fanout) leave(m *member) {
	g.mu.Lock()
	for i, x := range g.members {
		if x == m {
			last := len(g.members) - 1
			g.members[i] = g.members[last]
			g.members[last] = nil
			g.members = g.members[:last]
			break
		}
	}
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// release lets go of the members that match, setting each one's cursor
// to where the fan-out stands. The caller holds g.mu.
func (g *fanout) releaseLocked(why func(*member) (fanoutLeaving, bool)) {
	kept := g.members[:0]
	for _, m := range g.members {
		if w, ok := why(m); ok {
			m.cursor.pos = g.cursor.pos
			m.left <- w
			continue
		}
		kept = append(kept, m)
	}
	clear(g.members[len(kept):])
	g.members = kept
}

// end removes the fan-out from its Streamer if it has no members left,
// and reports whether it did.
func (g *fanout) end() bool {
	s := g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.members) > 0 {
		return false
	}
	if s.fanouts[g.key] == g {
		delete(s.fanouts, g.key)
	}
	return true
}

// run is the fan-out's goroutine.
func (g *fanout) run() {
	s := g.s
	buf := s.batches.Get().(*[]*wire.Frame)
	defer s.batches.Put(buf)
	var members []*member
	keepAlive := setting.Or(s.KeepAlive, DefaultKeepAlive)
	timer := time.NewTimer(keepAlive)
	defer timer.Stop()
	for {
		g.mu.Lock()
		if len(g.members) == 0 {
			g.mu.Unlock()
			if g.end() {
				return
			}
			continue
		}
		frames, _, wait, err := g.cursor.Frames((*buf)[:0], 0)
		if err != nil {
			g.releaseLocked(func(*member) (fanoutLeaving, bool) { return leftFeed, true })
			g.mu.Unlock()
			continue
		}
		members = append(members[:0], g.members...)
		g.mu.Unlock()

		if len(frames) == 0 {
			select {
			case <-wait:
			case <-g.kick:
			case <-timer.C:
				g.write(members, nil)
				timer.Reset(keepAlive)
			}
			continue
		}
		sent := g.write(members, frames)
		if sent < len(frames) {
			// The frames from sent on go back to the members' own loops.
			g.mu.Lock()
			g.cursor.pos -= uint64(len(frames) - sent)
			g.releaseLocked(func(*member) (fanoutLeaving, bool) { return leftFeed, true })
			g.mu.Unlock()
		}
		clear(frames)
		timer.Reset(keepAlive)
	}
}

// write queues frames (a 106 if there are none) to the members' streams as
// one batch, and returns how many frames it queued: fewer than given when
// one cannot be carried as PUB. Members whose writes stalled or whose
// connection closed leave the fan-out.
func (g *fanout) write(members []*member, frames []*wire.Frame) int {
	s := g.s
	carried := len(frames)
	bytes := 0
	g.writingSince.Store(time.Now().UnixNano())
	queued, err := g.key.conn.Batch(func(b *h2.Batch) {
		if len(frames) == 0 {
			for _, m := range members {
				b.Interim(m.out.w, wire.StatusNoOperation, noFields)
			}
			return
		}
		for i, f := range frames {
			fields, err := f.PUB()
			if err != nil {
				carried = i
				return
			}
			prepared := h2Fields(f)
			for _, m := range members {
				b.Interim(m.out.w, wire.StatusPUB, prepared)
			}
			bytes += pubStatusLineSize + fields.Size()
		}
	})
	g.writingSince.Store(0)
	if carried > 0 && queued > 0 {
		// bytes is one member's: queued/carried is how many members took them.
		s.metrics().Delivered(members[0].out.proto, wire.FormatPUB, queued, bytes*queued/carried)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(func(m *member) (fanoutLeaving, bool) {
		switch {
		case m.st.stalled.Load():
			return leftStalled, true
		case err != nil:
			return leftConnClosed, true
		}
		return 0, false
	})
	return carried
}

// abortStalled aborts the writes of a fan-out whose write has been
// blocked for longer than limit, as the watchdog does a subscriber's.
func (g *fanout) abortStalled(now time.Time, limit time.Duration) {
	since := g.writingSince.Load()
	if since == 0 || now.Sub(time.Unix(0, since)) <= limit {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if !m.st.stalled.Swap(true) {
			m.st.abort()
		}
	}
}
