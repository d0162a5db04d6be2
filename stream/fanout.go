package stream

import (
	"errors"
	"net/http"
	"slices"
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
// read one topic. An HTTP/3 connection is known by its client's address
// (quic-go does not tell a handler its connection): a client with several
// connections on one UDP socket has one fan-out for them all, which is as
// correct, each stream being written on its own.
type fanoutKey struct {
	conn     *h2.Conn
	quicPeer string
	topic    *Topic
}

// fanout writes one topic to every caught-up subscription of one HTTP/2 or
// HTTP/3 connection, from one goroutine: it reads each event from the ring
// once, and queues it to all of the connection's streams in one pass. Over
// HTTP/2 that is one h2.Batch — a PUB per SUB stream, so that HPACK indexes
// the event's fields on the first stream and every further stream refers
// to them (unless the stream is private: see h2Fields); the SSE bytes,
// made once per event, as DATA on each SSE stream — which the
// connection's writer sends in one write. Over HTTP/3 each
// stream is given the same bytes (QPACK's static table makes a PUB's
// HEADERS frame the same on every stream) without waiting, and quic-go's
// packer fills each packet with the frames of many streams; a stream whose
// window or queue is full leaves for its own loop, which waits. Without it every subscriber's own loop wakes for
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
	// writing is held while a batch is written: an HTTP/3 member that
	// leaves waits for it, since its stream is written from here, not
	// through a connection that would fail the write once it is done.
	writing sync.Mutex

	writingSince atomic.Int64 // UnixNano when the current write began; 0 if none
}

// member is one subscription served by a fan-out.
type member struct {
	st     *subscriber
	format wire.Format
	proto  string
	h2w    http.ResponseWriter // HTTP/2: the stream's response
	// private: the stream is not shared, and its PUBs are never indexed
	// in HPACK (see h2Fields).
	private bool
	qs      *quicStream        // HTTP/3: the stream
	cursor  *Cursor            // the subscriber's own, set on leaving
	left    chan fanoutLeaving // the fan-out let go of it
	// behind is how many frames before the fan-out's position the member
	// leaves at: those of a batch its stream did not take.
	behind uint64
	// inBatch tells that the member is one of the batch being written,
	// sent whether that batch was queued for it, and failed that its
	// stream failed (HTTP/3). They belong to the fan-out's goroutine.
	inBatch, sent, failed bool
	// gone tells that the member's own loop took it back (leave); the
	// fan-out's mu guards it.
	gone bool
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
func (s *Streamer) follow(out streamWriter, feed Feed, st *subscriber, r *http.Request, expire <-chan time.Time) (followed bool, ended string) {
	lf, ok := feed.(LiveFeed)
	if !ok {
		return false, ""
	}
	cursor := lf.LiveCursor()
	if cursor == nil {
		return false, ""
	}
	m := &member{st: st, cursor: cursor, left: make(chan fanoutLeaving, 1)}
	key := fanoutKey{topic: cursor.t}
	switch out := out.(type) {
	case *responseStream:
		if key.conn = h2.ConnOf(out.w); key.conn == nil {
			return false, ""
		}
		m.format, m.proto, m.h2w, m.private = out.format, out.proto, out.w, out.private
	case *quicStream:
		key.quicPeer = r.RemoteAddr
		m.format, m.proto, m.qs = out.format, wire.ProtoHTTP3, out
	default:
		return false, ""
	}
	start := cursor.pos
	g := s.join(key, m)
	if g == nil {
		return false, "" // the fan-out is elsewhere in the ring: try later
	}
	// The fan-out sets the cursor where the member left it: what it wrote
	// for the subscriber lies between.
	defer func() { st.delivered += int(cursor.pos - start) }()
	metrics := s.metrics()
	metrics.FannedOut(m.proto, m.format, 1)
	defer metrics.FannedOut(m.proto, m.format, -1)
	ctx := r.Context()
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
	case <-expire:
		g.leave(m)
		return true, CloseLifetime
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
	m.gone = true
	g.mu.Unlock()
	if m.qs != nil {
		g.writing.Lock()
		g.writing.Unlock()
	}
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
// streams as one pass: for SUB a PUB per event, for SSE the events' bytes
// as one DATA. Members whose writes stalled or whose connection or stream
// closed leave the fan-out, and so do members whose stream did not take the
// batch at once (an SSE stream's HTTP/2 window, an HTTP/3 stream's window
// or queue): their own loops write it, waiting as they do. If a frame
// cannot be carried in a member's format, the frames before it are
// written and every member leaves, positioned at it.
func (g *fanout) write(members []*member, frames []*wire.Frame) {
	g.writing.Lock()
	defer g.writing.Unlock()
	// A member that left after run listed it, before this pass began, is
	// its own loop's to write now: leave waited for no pass of it.
	g.mu.Lock()
	members = slices.DeleteFunc(members, func(m *member) bool { return m.gone })
	g.mu.Unlock()
	if len(members) == 0 {
		return
	}
	var pub, sse bool
	for _, m := range members {
		pub = pub || m.format == wire.FormatPUB
		sse = sse || m.format == wire.FormatSSE
		m.inBatch, m.sent, m.failed = true, false, false
	}
	carried, pubBytes := g.carried(frames, pub, sse)
	g.writingSince.Store(time.Now().UnixNano())
	var err error
	var sseBytes int
	if g.key.conn != nil {
		sseBytes, err = g.writeH2(members, frames[:carried], len(frames) == 0, pub, sse)
	} else {
		sseBytes = g.writeQUIC(members, frames[:carried], len(frames) == 0, pub, sse)
	}
	g.writingSince.Store(0)

	var pubSent, sseSent int
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(func(m *member) (fanoutLeaving, bool) {
		switch {
		case m.st.stalled.Load():
			return leftStalled, true
		case err != nil || m.failed:
			return leftConnClosed, true
		case !m.inBatch:
			// Joined while the batch was being queued, at the position
			// after it.
			return leftFeed, carried < len(frames)
		case len(frames) > 0 && !m.sent:
			m.behind = uint64(len(frames))
			return leftFeed, true
		}
		if m.format == wire.FormatPUB {
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
		metrics, proto := g.s.metrics(), members[0].proto
		if pubSent > 0 {
			metrics.Delivered(proto, wire.FormatPUB, pubSent*carried, pubSent*pubBytes)
		}
		if sseSent > 0 {
			metrics.Delivered(proto, wire.FormatSSE, sseSent*carried, sseSent*sseBytes)
		}
	}
}

// writeH2 queues frames to HTTP/2 members as one h2.Batch, or keepalives,
// and returns the bytes of SSE each SSE member was given, and the error
// that ended the connection, if one did.
func (g *fanout) writeH2(members []*member, frames []*wire.Frame, keepalive, pub, sse bool) (int, error) {
	var data []byte // the SSE bytes of frames
	switch {
	case !sse:
	case keepalive:
		data = wire.SSEKeepalive
	case len(frames) == 1:
		data = frames[0].SSE() // made once per event; never changes
	default:
		for _, f := range frames {
			data = append(data, f.SSE()...)
		}
	}
	_, err := g.key.conn.Batch(func(b *h2.Batch) {
		for _, m := range members {
			switch {
			case m.format == wire.FormatSSE && len(data) > 0:
				b.Data(m.h2w, data, &m.sent)
			case m.format == wire.FormatPUB && keepalive:
				b.Interim(m.h2w, wire.StatusNoOperation, noFields)
			case m.format == wire.FormatPUB:
				m.sent = true // a batch is queued whole, or the connection is over
			}
		}
		for _, f := range frames {
			if !pub {
				break
			}
			// The members of a shared stream take one Fields, indexed
			// by the first and referred to by the others; a private
			// stream's are never indexed (see h2Fields).
			var shared, private *h2.Fields
			for _, m := range members {
				if m.format != wire.FormatPUB {
					continue
				}
				fields := &shared
				if m.private {
					fields = &private
				}
				if *fields == nil {
					*fields = h2Fields(f, m.private)
				}
				b.Interim(m.h2w, wire.StatusPUB, *fields)
			}
		}
	})
	if tooLarge := (*h2.FieldSectionTooLargeError)(nil); errors.As(err, &tooLarge) {
		// Nothing was queued: each member's own loop writes the batch,
		// and meets the event the client's SETTINGS_MAX_HEADER_LIST_SIZE
		// refuses after those before it.
		for _, m := range members {
			m.sent = false
		}
		return 0, nil
	}
	return len(data), err
}

// writeQUIC queues frames to HTTP/3 members, or keepalives, each stream
// its bytes without waiting (see quicStream.tryWrite), made once for all:
// the HEADERS frames of the PUBs, or one DATA frame of the SSE events. It
// returns the bytes of SSE each SSE member was given.
func (g *fanout) writeQUIC(members []*member, frames []*wire.Frame, keepalive, pub, sse bool) int {
	var pubFrames, sseFrame []byte
	sseSize := 0
	switch {
	case keepalive:
		pubFrames, sseFrame = http3NoOperation, http3SSEComment
	case len(frames) == 0:
	default:
		if pub {
			if len(frames) == 1 {
				pubFrames = http3PUB(frames[0])
			} else {
				for _, f := range frames {
					pubFrames = append(pubFrames, http3PUB(f)...)
				}
			}
		}
		if sse {
			sseFrame, sseSize = http3SSEData(frames)
		}
	}
	for _, m := range members {
		b := pubFrames
		if m.format == wire.FormatSSE {
			b = sseFrame
		}
		if len(b) == 0 {
			continue
		}
		ok, err := m.qs.tryWrite(b)
		m.sent, m.failed = ok, err != nil
	}
	return sseSize
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
