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

// fanout writes one topic to every caught-up subscription of one HTTP/2
// connection, from one goroutine: it reads each event from the ring once,
// and queues it to all of the connection's streams as one h2.Batch — a PUB
// per SUB stream, so that HPACK indexes the event's fields on the first
// stream and every further stream refers to them; the SSE bytes, made once
// per event, as DATA on each SSE stream — and the connection's writer sends
// them all in one write. Without it every subscriber's own loop wakes for
// every event, reads the ring and queues its write: per delivery, a
// goroutine wake-up and a trip through the connection's lock.
//
// Interim responses take no flow-control window, so on one connection no
// SUB subscriber can be slower than another: what slows one (a full TCP
// send buffer, a client that stopped reading) slows them all, and the
// fan-out's writes are timed by the stall watchdog and bounded by the
// connection's write queue as a subscriber's own are. An SSE stream whose
// window does not take a batch leaves the fan-out, and its own loop waits
// for the window as before. A subscriber also leaves, its cursor set where
// the fan-out stood, when the topic ends, the ring leaves the fan-out
// behind, or an event cannot be carried in its format; its own loop then
// meets that condition and ends the subscription as it would have. A
// subscriber whose own loop catches up again rejoins.
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
	// behind is how many frames before the fan-out's position the member
	// leaves at: those of a batch its stream did not take.
	behind uint64
	// inBatch tells that the member is one of the batch being written,
	// and dataQueued whether that batch's DATA (SSE) was queued for it.
	// Both belong to the fan-out's goroutine.
	inBatch, dataQueued bool
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
	if !ok {
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
			m.cursor.pos = g.cursor.pos - m.behind
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
		g.write(members, frames)
		clear(frames)
		timer.Reset(keepAlive)
	}
}

// write queues frames (a keepalive if there are none) to the members'
// streams as one batch: for SUB a PUB per event, for SSE the events' bytes
// as one DATA. Members whose writes stalled or whose connection closed
// leave the fan-out, and so do SSE members whose flow-control window did
// not take the batch: their own loops write it as the window opens. If a
// frame cannot be carried in a member's format, the frames before it are
// written and every member leaves, positioned at it.
func (g *fanout) write(members []*member, frames []*wire.Frame) {
	s := g.s
	var pub, sse bool
	for _, m := range members {
		pub = pub || m.out.format == wire.FormatPUB
		sse = sse || m.out.format == wire.FormatSSE
	}
	carried, pubBytes := g.carried(frames, pub, sse)
	var data []byte // the SSE bytes of frames[:carried]
	switch {
	case !sse:
	case len(frames) == 0:
		data = wire.SSEKeepalive
	case carried == 1:
		data = frames[0].SSE() // made once per event; never changes
	default:
		for _, f := range frames[:carried] {
			data = append(data, f.SSE()...)
		}
	}
	for _, m := range members {
		m.inBatch = true
	}
	g.writingSince.Store(time.Now().UnixNano())
	_, err := g.key.conn.Batch(func(b *h2.Batch) {
		for _, m := range members {
			switch {
			case m.out.format == wire.FormatSSE && len(data) > 0:
				b.Data(m.out.w, data, &m.dataQueued)
			case m.out.format == wire.FormatPUB && len(frames) == 0:
				b.Interim(m.out.w, wire.StatusNoOperation, noFields)
			}
		}
		for _, f := range frames[:carried] {
			if !pub {
				break
			}
			fields := h2Fields(f)
			for _, m := range members {
				if m.out.format == wire.FormatPUB {
					b.Interim(m.out.w, wire.StatusPUB, fields)
				}
			}
		}
	})
	g.writingSince.Store(0)
	var pubSent, sseSent int
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(func(m *member) (fanoutLeaving, bool) {
		switch {
		case m.st.stalled.Load():
			return leftStalled, true
		case err != nil:
			return leftConnClosed, true
		case !m.inBatch:
			// Joined while the batch was being queued, at the position
			// after it.
			return leftFeed, carried < len(frames)
		case m.out.format == wire.FormatSSE && len(frames) > 0 && !m.dataQueued:
			m.behind = uint64(len(frames))
			return leftFeed, true
		}
		if m.out.format == wire.FormatPUB {
			pubSent++
		} else {
			sseSent++
		}
		if carried < len(frames) {
			// The frames from the first one a format cannot carry go
			// back to the members' own loops.
			m.behind = uint64(len(frames) - carried)
			return leftFeed, true
		}
		return 0, false
	})
	g.cursor.pos -= uint64(len(frames) - carried)
	for _, m := range members {
		m.inBatch = false
	}
	if carried > 0 {
		proto := members[0].out.proto
		if pubSent > 0 {
			s.metrics().Delivered(proto, wire.FormatPUB, pubSent*carried, pubSent*pubBytes)
		}
		if sseSent > 0 {
			s.metrics().Delivered(proto, wire.FormatSSE, sseSent*carried, sseSent*len(data))
		}
	}
}

// carried is how many of frames, from the first, every member's format
// can carry, and the PUB bytes of those.
func (g *fanout) carried(frames []*wire.Frame, pub, sse bool) (n, pubBytes int) {
	for _, f := range frames {
		if sse && f.SSEErr() != nil {
			break
		}
		if pub {
			fields, err := f.PUB()
			if err != nil {
				break
			}
			pubBytes += pubStatusLineSize + fields.Size()
		}
		n++
	}
	return n, pubBytes
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
