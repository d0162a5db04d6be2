package origin

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// LogEvent is an event as the durable log holds it: with the sequence number
// that orders the log. An origin's event ids are these numbers in decimal.
type LogEvent struct {
	Seq   uint64
	Event wire.Event
}

// InStream is the event as stream members see it, naming prev, the
// sequence number of the stream's event before it (0: none), as its Prev.
// One event may be in several streams, with a predecessor in each.
func (e LogEvent) InStream(prev uint64) LogEvent {
	e.Event.Prev = ""
	if prev != 0 {
		e.Event.Prev = strconv.FormatUint(prev, 10)
	}
	return e
}

// Log is a durable, ordered event log that subscriptions replay from.
type Log interface {
	// ReadAfter returns, in order, up to limit events of the stream key
	// whose sequence numbers are greater than after, each naming the
	// stream's event before it as its Prev (see LogEvent.InStream), as it
	// did when it was published.
	ReadAfter(ctx context.Context, key string, after uint64, limit int) ([]LogEvent, error)
}

// DefaultReplayPage is how many events a subscriber replaying the log reads
// at once: a batch the Streamer writes in one go, and a bound on what one
// catching-up subscriber holds.
const DefaultReplayPage = 256

// Hub fans the events of a durable log out to live subscribers. Streams are
// named by keys the application chooses. A stream has a stream.Topic only while it
// has subscribers; events published to a stream without one are simply in
// the log, which is where a later subscriber replays them from.
//
// The application must publish each stream's events in sequence order, after
// they are durable: a subscriber replays the log up to where its cursor
// starts, so an event may be both replayed and seen live, and the sequence
// number tells which copy to drop.
type Hub struct {
	// Log is where subscriptions replay from. Required.
	Log Log
	// RingEvents and RingBytes bound each stream's ring of recent events
	// (zero means stream.DefaultRingEvents and stream.DefaultRingBytes).
	RingEvents, RingBytes int
	// ReplayPage is how many events one log read returns. Default
	// DefaultReplayPage.
	ReplayPage int

	mu     sync.Mutex
	topics map[string]*hubTopic
}

type hubTopic struct {
	*stream.Topic
	refs int
	// next is the topic that replaced this one (see Wake): its feeds move
	// there, and its subscribers are counted there.
	next *hubTopic
}

// current is the topic that serves ht's subscribers now. The caller holds
// Hub.mu.
func (ht *hubTopic) current() *hubTopic {
	for ht.next != nil {
		ht = ht.next
	}
	return ht
}

// errReplaced closes a topic that Wake replaced.
var errReplaced = errors.New("origin: the stream's topic was replaced")

// Publish delivers an event of stream key to its live subscribers, if any.
func (h *Hub) Publish(key string, e LogEvent) {
	h.mu.Lock()
	ht := h.topics[key]
	h.mu.Unlock()
	if ht != nil {
		ht.Publish(wire.NewFrame(e.Event), e.Seq)
	}
}

// End closes stream key: its subscribers read what is left, then their
// feeds report wire.ErrStreamEnded.
func (h *Hub) End(key string) {
	h.mu.Lock()
	ht := h.topics[key]
	if ht != nil {
		delete(h.topics, key)
	}
	h.mu.Unlock()
	if ht != nil {
		ht.Close(wire.ErrStreamEnded)
	}
}

// Wake makes every subscriber of stream key read its feed again at once,
// without an event: an application that has decided that some of them must
// end (their credentials were revoked, say) and whose feeds will say so
// when read uses it to make that happen now rather than at the next event.
// The others carry on where they were, reading the log for what was
// published meanwhile. It costs each subscriber one read of the log, so it
// is for rare decisions, not for every event.
func (h *Hub) Wake(key string) {
	h.mu.Lock()
	ht := h.topics[key]
	if ht == nil {
		h.mu.Unlock()
		return
	}
	next := &hubTopic{Topic: stream.NewTopic(h.RingEvents, h.RingBytes), refs: ht.refs}
	ht.next, ht.refs = next, 0
	h.topics[key] = next
	h.mu.Unlock()
	ht.Close(errReplaced)
}

// moved returns the topic that replaced ht.
func (h *Hub) moved(ht *hubTopic) *hubTopic {
	h.mu.Lock()
	defer h.mu.Unlock()
	return ht.current()
}

// Subscribers counts the live subscribers of stream key.
func (h *Hub) Subscribers(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ht := h.topics[key]; ht != nil {
		return ht.refs
	}
	return 0
}

// Subscribe opens a feed of stream key: first the logged events after
// sequence number after, then live ones. If first is not nil it is served
// before anything else (a gap signal, say).
func (h *Hub) Subscribe(ctx context.Context, key string, after uint64, first *wire.Frame) stream.Feed {
	h.mu.Lock()
	if h.topics == nil {
		h.topics = make(map[string]*hubTopic)
	}
	ht := h.topics[key]
	if ht == nil {
		ht = &hubTopic{Topic: stream.NewTopic(h.RingEvents, h.RingBytes)}
		h.topics[key] = ht
	}
	ht.refs++
	h.mu.Unlock()
	f := &logFeed{hub: h, ctx: ctx, key: key, topic: ht, last: after, start: after, replaying: true}
	if first != nil {
		f.pending = []*wire.Frame{first}
	}
	f.cursor = ht.Head()
	return f
}

func (h *Hub) release(key string, ht *hubTopic) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ht = ht.current()
	ht.refs--
	if ht.refs == 0 && h.topics[key] == ht {
		delete(h.topics, key)
	}
}

// logFeed replays the log until it has caught up, then follows the topic.
// If it falls behind the topic's ring it goes back to the log: the log holds
// everything, so a slow subscriber at the origin is never cut off for lag.
type logFeed struct {
	hub   *Hub
	ctx   context.Context
	key   string
	topic *hubTopic

	pending   []*wire.Frame
	replaying bool
	last      uint64 // sequence number of the last event served
	start     uint64 // where the feed began
	cursor    *stream.Cursor
}

// Position implements stream.PositionedFeed: log sequence numbers are event ids.
func (f *logFeed) Position() string {
	if f.start == 0 || len(f.pending) > 0 {
		return "" // nothing before it, or a gap signal says where it is
	}
	return strconv.FormatUint(f.start, 10)
}

func (f *logFeed) Next(buf []*wire.Frame) ([]*wire.Frame, <-chan struct{}, error) {
	if len(f.pending) > 0 {
		buf = append(buf, f.pending...)
		f.pending = nil
		return buf, nil, nil
	}
	for {
		room := cap(buf) - len(buf)
		if room == 0 {
			return buf, nil, nil
		}
		if f.replaying {
			page := setting.Or(f.hub.ReplayPage, DefaultReplayPage)
			events, err := f.hub.Log.ReadAfter(f.ctx, f.key, f.last, min(page, room))
			if err != nil {
				return buf, nil, err
			}
			for _, e := range events {
				buf = append(buf, wire.NewFrame(e.Event))
				f.last = e.Seq
			}
			if len(events) < min(page, room) {
				f.replaying = false // caught up with the log as of now
			}
			if len(buf) > 0 {
				return buf, nil, nil
			}
		}
		before := len(buf)
		var last uint64
		var wait <-chan struct{}
		var err error
		buf, last, wait, err = f.cursor.Frames(buf, f.last)
		if errors.Is(err, stream.ErrLagged) {
			f.cursor = f.topic.Head()
			f.replaying = true
			continue
		}
		if errors.Is(err, errReplaced) {
			// As for a lag: follow the new topic from now, and read
			// the log for what came before.
			f.topic = f.hub.moved(f.topic)
			f.cursor = f.topic.Head()
			f.replaying = true
			continue
		}
		f.last = max(f.last, last)
		if len(buf) == before && err == nil && wait == nil {
			continue // everything read was a duplicate of the replay
		}
		return buf, wait, err
	}
}

func (f *logFeed) Close() { f.hub.release(f.key, f.topic) }

// LiveCursor implements stream.LiveFeed. It is asked right after Next found
// the topic's cursor at its end. Once the frame before the cursor is one the
// feed has served (not one the replay got ahead of, which the topic has yet
// to publish), every frame published after it is new to the feed, so the
// cursor alone follows the stream.
func (f *logFeed) LiveCursor() *stream.Cursor {
	if f.replaying || len(f.pending) > 0 {
		return nil
	}
	if f.last == 0 {
		return f.cursor // every event is new to the feed
	}
	if seq, ok := f.cursor.PrevSeq(); !ok || seq < f.last {
		return nil
	}
	return f.cursor
}
