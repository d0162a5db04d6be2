package stream

import (
	"errors"
	"sync"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// Defaults for a Topic's ring.
const (
	DefaultRingEvents = 4096
	DefaultRingBytes  = 8 << 20
)

// ErrLagged reports that a subscriber fell so far behind that the events it
// had yet to read left the ring (or exceeded its own lag bound).
var ErrLagged = errors.New("subscriber fell behind the stream")

// Topic is a stream's bounded ring of recent frames, read by any number of
// subscribers through their own Cursors.
//
// Publishing never waits for subscribers: each keeps only a position in the
// ring, so the only per-subscriber state is a cursor, and the bound on what a
// slow subscriber can hold back is the ring's bound (by count and bytes).
// A subscriber whose unread events leave the ring gets ErrLagged and resumes
// by event id, from the ring or from further back.
type Topic struct {
	maxEvents int
	maxBytes  int

	mu    sync.RWMutex
	ring  []entry
	first uint64 // absolute position of the oldest entry held
	next  uint64 // absolute position of the next entry
	bytes int    // size of the entries held
	total uint64 // bytes ever appended: the offset of the next entry
	ids   map[string]uint64
	wake  chan struct{} // closed (and replaced) on every append and on close
	err   error         // set once the topic is closed
}

// entry is one frame of the ring, with its position in the stream's order
// (which only increases) and what it counts against the ring's bounds.
type entry struct {
	Frame  *wire.Frame
	Seq    uint64
	size   int
	offset uint64 // bytes appended before this entry
}

// NewTopic returns a Topic holding at most maxEvents frames and maxBytes of
// them (zero means the package default).
func NewTopic(maxEvents, maxBytes int) *Topic {
	maxEvents = setting.Or(maxEvents, DefaultRingEvents)
	return &Topic{
		maxEvents: maxEvents,
		maxBytes:  setting.Or(maxBytes, DefaultRingBytes),
		ring:      make([]entry, maxEvents),
		ids:       make(map[string]uint64),
		wake:      make(chan struct{}),
	}
}

// Publish appends a frame and wakes every waiting subscriber. Publishing to a
// closed topic does nothing.
func (t *Topic) Publish(f *wire.Frame, seq uint64) {
	size := f.Size()
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return
	}
	for t.next-t.first >= uint64(t.maxEvents) || (t.bytes+size > t.maxBytes && t.next > t.first) {
		t.evictLocked()
	}
	t.ring[t.next%uint64(len(t.ring))] = entry{Frame: f, Seq: seq, size: size, offset: t.total}
	if f.ID != "" {
		t.ids[f.ID] = t.next
	}
	t.next++
	t.bytes += size
	t.total += uint64(size)
	wake := t.wake
	t.wake = make(chan struct{})
	t.mu.Unlock()
	close(wake)
}

func (t *Topic) evictLocked() {
	i := t.first % uint64(len(t.ring))
	e := &t.ring[i]
	if pos, ok := t.ids[e.Frame.ID]; ok && pos == t.first {
		delete(t.ids, e.Frame.ID)
	}
	t.bytes -= e.size
	*e = entry{}
	t.first++
}

// Close ends the topic: subscribers read what is left and then get err.
func (t *Topic) Close(err error) {
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return
	}
	t.err = err
	wake := t.wake
	t.mu.Unlock()
	close(wake)
}

// held is the number of frames held.
func (t *Topic) held() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return int(t.next - t.first)
}

// Head returns a cursor that will read only frames published from now on.
func (t *Topic) Head() *Cursor {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return &Cursor{t: t, pos: t.next}
}

// Start returns a cursor at the first frame ever published, or false if the
// ring has evicted some.
func (t *Topic) Start() (*Cursor, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.first > 0 {
		return nil, false
	}
	return &Cursor{t: t}, true
}

// After returns a cursor positioned just after the frame with the given id,
// or false if the ring no longer (or never) held it.
func (t *Topic) After(id string) (*Cursor, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	pos, ok := t.ids[id]
	if !ok {
		return nil, false
	}
	return &Cursor{t: t, pos: pos + 1}, true
}

// Cursor is one subscriber's position in a Topic. It is not safe for
// concurrent use; each subscriber owns its own.
type Cursor struct {
	t      *Topic
	pos    uint64
	maxLag uint64 // see SetMaxLag; zero: only the ring's bound
}

// SetMaxLag bounds, in bytes, how much further behind the newest frame the
// cursor may fall than it is now, before Next reports ErrLagged. Counting
// from where the cursor is, rather than from the newest frame, lets a
// subscriber that resumes from far back in the ring catch up: it is cut
// off only if it falls further behind.
func (c *Cursor) SetMaxLag(n uint64) {
	t := c.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	c.maxLag = n
	if c.pos >= t.first && c.pos < t.next {
		c.maxLag += t.total - t.ring[c.pos%uint64(len(t.ring))].offset
	}
}

// lagged reports whether the cursor fell past its lag bound. The caller
// holds t.mu and has checked that c.pos is in the ring.
func (c *Cursor) lagged() bool {
	t := c.t
	return c.maxLag > 0 && t.total-t.ring[c.pos%uint64(len(t.ring))].offset > c.maxLag
}

// Frames appends to buf the frames after the cursor whose sequence numbers
// exceed skipThrough (a replay may have served the others), reading at most
// cap(buf)-len(buf) of them, advances past what it read, and returns the
// sequence number of the last frame read (0 if none). When there is nothing
// to read it returns a channel that is closed when there may be; once the
// topic is closed and drained, the topic's error. It needs no scratch
// space, so an idle subscriber holds no buffer.
func (c *Cursor) Frames(buf []*wire.Frame, skipThrough uint64) ([]*wire.Frame, uint64, <-chan struct{}, error) {
	t := c.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	if c.pos < t.first {
		return buf, 0, nil, ErrLagged
	}
	if c.pos == t.next {
		if t.err != nil {
			return buf, 0, nil, t.err
		}
		return buf, 0, t.wake, nil
	}
	if c.lagged() {
		return buf, 0, nil, ErrLagged
	}
	var last uint64
	for n := cap(buf) - len(buf); c.pos < t.next && n > 0; n-- {
		e := &t.ring[c.pos%uint64(len(t.ring))]
		if e.Seq > skipThrough {
			buf = append(buf, e.Frame)
		}
		last = e.Seq
		c.pos++
	}
	return buf, last, nil, nil
}

// PrevID is the id of the frame just before the cursor, if the ring holds
// it.
func (c *Cursor) PrevID() string {
	t := c.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	if c.pos == 0 || c.pos-1 < t.first || c.pos-1 >= t.next {
		return ""
	}
	return t.ring[(c.pos-1)%uint64(len(t.ring))].Frame.ID
}

// PrevSeq is the sequence number of the frame just before the cursor, if
// the ring holds it.
func (c *Cursor) PrevSeq() (uint64, bool) {
	t := c.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	if c.pos == 0 || c.pos-1 < t.first || c.pos-1 >= t.next {
		return 0, false
	}
	return t.ring[(c.pos-1)%uint64(len(t.ring))].Seq, true
}

// AtStart reports whether the cursor is before the first frame the topic
// ever held (and still holds).
func (c *Cursor) AtStart() bool {
	t := c.t
	t.mu.RLock()
	defer t.mu.RUnlock()
	return c.pos == 0 && t.first == 0
}
