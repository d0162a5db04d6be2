package load

import (
	"bytes"
	"errors"
	"sync/atomic"

	"golang.org/x/net/http2/hpack"
)

// qpackFields reads what the lean HTTP/3 reader needs of a HEADERS
// frame's field section: its status and its Event field's `t`. The client
// gives the server no dynamic table (quic-go's client announces none), so
// every field line refers to the static table or carries its name: the
// section is read in place, only the status and the Event value are
// Huffman-decoded (the server encodes every string so), and Event-Data is
// skipped unread. scratch holds the decoded strings; it is reused.
type qpackFields struct {
	status  int
	tMS     int64
	hasT    bool
	scratch appendWriter
	// events, when set, is shared by the streams of a connection: the
	// server encodes an event's HEADERS frame once for all of them, so
	// each Event value arrives as the same bytes on every stream, and
	// only the first to see it decodes it.
	events *eventTimeCache
}

// eventTimeCache remembers the times read from the latest Event values: a
// few, since a connection's streams are not all at the same event.
type eventTimeCache struct {
	slots [8]atomic.Pointer[cachedEventTime]
	next  atomic.Uint32
}

func (c *eventTimeCache) lookup(raw []byte, huff bool) (*cachedEventTime, bool) {
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil && e.huff == huff && bytes.Equal(e.raw, raw) {
			return e, true
		}
	}
	return nil, false
}

func (c *eventTimeCache) store(e *cachedEventTime) {
	c.slots[c.next.Add(1)%uint32(len(c.slots))].Store(e)
}

type cachedEventTime struct {
	raw  []byte // as encoded
	huff bool
	tMS  int64
	ok   bool
}

var (
	errQPACKDynamic   = errors.New("benchmarks: QPACK field section refers to a dynamic table")
	errQPACKTruncated = errors.New("benchmarks: truncated QPACK field section")
	errQPACKIndex     = errors.New("benchmarks: QPACK static index out of range")
)

// qpackStaticEntries is the size of QPACK's static table (RFC 9204
// Appendix A).
const qpackStaticEntries = 99

// qpackStaticStatus holds the codes of the static table's :status
// entries (0 for the other entries).
var qpackStaticStatus = [qpackStaticEntries]int{
	24: 103, 25: 200, 26: 304, 27: 404, 28: 503,
	63: 100, 64: 204, 65: 206, 66: 302, 67: 400, 68: 403, 69: 421, 70: 425, 71: 500,
}

// huffmanEvent is "event" Huffman-coded: the code is canonical, so a
// Huffman-coded name is "event" exactly when its bytes are these.
var huffmanEvent = hpack.AppendHuffmanString(nil, "event")

func (q *qpackFields) read(p []byte) error {
	q.status, q.hasT = 0, false
	ric, p, err := qpackInt(p, 8)
	if err != nil {
		return err
	}
	base, p, err := qpackInt(p, 7)
	if err != nil {
		return err
	}
	if ric != 0 || base != 0 {
		return errQPACKDynamic
	}
	for len(p) > 0 {
		b := p[0]
		switch {
		case b&0x80 != 0: // indexed field line
			var i uint64
			if i, p, err = qpackStaticRef(p, 0x40, 6); err != nil {
				return err
			}
			if code := qpackStaticStatus[i]; code != 0 {
				q.status = code
			}
		case b&0xc0 == 0x40: // literal field line with name reference
			var i uint64
			if i, p, err = qpackStaticRef(p, 0x10, 4); err != nil {
				return err
			}
			var v []byte
			var huff bool
			if v, huff, p, err = qpackString(p, 7); err != nil {
				return err
			}
			if qpackStaticStatus[i] != 0 {
				if v, err = q.decode(v, huff); err != nil {
					return err
				}
				q.status = parseStatus(v)
			}
		case b&0xe0 == 0x20: // literal field line with literal name
			var name, v []byte
			var nameHuff, huff bool
			if name, nameHuff, p, err = qpackString(p, 3); err != nil {
				return err
			}
			if v, huff, p, err = qpackString(p, 7); err != nil {
				return err
			}
			isEvent := nameHuff && bytes.Equal(name, huffmanEvent) || !nameHuff && string(name) == "event"
			if isEvent {
				if err := q.event(v, huff); err != nil {
					return err
				}
			}
		default: // post-base references: a dynamic table
			return errQPACKDynamic
		}
	}
	return nil
}

// qpackStaticRef reads the index of a field line that refers to a table
// entry: the n-bit prefixed integer of p[0] and what follows, which must
// refer to the static table (bit t of p[0] set) and lie within it.
func qpackStaticRef(p []byte, t byte, n uint) (uint64, []byte, error) {
	if p[0]&t == 0 {
		return 0, p, errQPACKDynamic
	}
	i, p, err := qpackInt(p, n)
	if err != nil {
		return 0, p, err
	}
	if i >= qpackStaticEntries {
		return 0, p, errQPACKIndex
	}
	return i, p, nil
}

// event reads the time of an Event value as encoded.
func (q *qpackFields) event(v []byte, huff bool) error {
	if q.events != nil {
		if c, ok := q.events.lookup(v, huff); ok {
			q.tMS, q.hasT = c.tMS, c.ok
			return nil
		}
	}
	decoded, err := q.decode(v, huff)
	if err != nil {
		return err
	}
	q.tMS, q.hasT = eventTime(decoded)
	if q.events != nil {
		q.events.store(&cachedEventTime{raw: bytes.Clone(v), huff: huff, tMS: q.tMS, ok: q.hasT})
	}
	return nil
}

// decode returns v, Huffman-decoded into the scratch buffer if huff.
func (q *qpackFields) decode(v []byte, huff bool) ([]byte, error) {
	if !huff {
		return v, nil
	}
	q.scratch.b = q.scratch.b[:0]
	if _, err := hpack.HuffmanDecode(&q.scratch, v); err != nil {
		return nil, err
	}
	return q.scratch.b, nil
}

// qpackInt reads a prefixed integer (RFC 7541 §5.1) whose prefix is the
// low n bits of p[0].
func qpackInt(p []byte, n uint) (uint64, []byte, error) {
	if len(p) == 0 {
		return 0, p, errQPACKTruncated
	}
	max := uint64(1)<<n - 1
	v := uint64(p[0]) & max
	p = p[1:]
	if v < max {
		return v, p, nil
	}
	for shift := uint(0); ; shift += 7 {
		if len(p) == 0 {
			return 0, p, errQPACKTruncated
		}
		if shift > 56 {
			return 0, p, errors.New("benchmarks: QPACK integer overflows")
		}
		b := p[0]
		p = p[1:]
		v += uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, p, nil
		}
	}
}

// qpackString reads a string literal whose H bit is the bit above the
// n-bit length prefix.
func qpackString(p []byte, n uint) (s []byte, huff bool, rest []byte, err error) {
	if len(p) == 0 {
		return nil, false, p, errQPACKTruncated
	}
	huff = p[0]&(1<<n) != 0
	l, p, err := qpackInt(p, n)
	if err != nil {
		return nil, false, p, err
	}
	if uint64(len(p)) < l {
		return nil, false, p, errQPACKTruncated
	}
	return p[:l], huff, p[l:], nil
}

// appendWriter is an io.Writer appending to a reusable slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
