package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/subpub/subpub/internal/setting"
)

// DefaultMaxEventSize bounds one event (or one line) read from a stream
// unless a reader is told otherwise.
const DefaultMaxEventSize = 1 << 20

// ErrEventTooLarge reports an event or line longer than the reader's limit.
var ErrEventTooLarge = errors.New("wire: event exceeds the maximum size")

// SSEReader parses a text/event-stream following the WHATWG HTML
// "event stream interpretation" rules: an optional leading BOM; lines ended
// by CRLF, LF or CR; comments; multi-line data; a last-event-ID buffer that
// persists across events, which every id field sets (an empty one clears
// it) but one containing NUL, which is ignored, and which each empty line
// makes the last event ID (an id-only block included); retry accepted only
// as ASCII digits; events without a data field not dispatched; an event
// cut off by the end of the stream discarded, its id with it.
type SSEReader struct {
	r *bufio.Reader

	// MaxEventSize bounds the data of one event and the length of any line.
	// Zero means DefaultMaxEventSize.
	MaxEventSize int

	started bool   // the BOM check has been done
	skipLF  bool   // the previous line ended in CR: a following LF belongs to it
	line    []byte // a line that spans buffer refills

	idBuffer string // the last-event-ID buffer, which each id field sets
	lastID   string // the buffer as of the last dispatch: EventSource's last event ID
	beforeID string // lastID before the event Next returned last
	retry    time.Duration
	comments int

	// Buffers of the event being read.
	id        string // its own id field, if it had one
	data      []byte
	hasData   bool
	typ       string
	published time.Time
	ref       string
	prev      string
}

// NewSSEReader returns a reader of the event stream r.
func NewSSEReader(r io.Reader) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// LastEventID is the stream's last event ID, the last-event-ID buffer as
// of the last empty line: after Next returned an event, the id that event
// carries for its recipient (its own id field's, or the one before it); at
// any time, what a client sends as Last-Event-ID when it reconnects.
func (d *SSEReader) LastEventID() string { return d.lastID }

// LastEventIDBefore is the stream's last event ID as it was just before
// the event Next returned last (an id-only block before it included): the
// id that event's Prev must name if nothing was lost.
func (d *SSEReader) LastEventIDBefore() string { return d.beforeID }

// SetLastEventID sets the last event ID and the buffer, as an EventSource
// keeps its last event ID across reconnections: a client reading a stream
// it resumed sets it to the Last-Event-ID it sent.
func (d *SSEReader) SetLastEventID(id string) { d.idBuffer, d.lastID, d.beforeID = id, id, id }

// Retry is the reconnection delay the server asked for, or zero.
func (d *SSEReader) Retry() time.Duration { return d.retry }

// Comments counts the comment lines read so far (servers send them as
// keepalives).
func (d *SSEReader) Comments() int { return d.comments }

// Next reads until it can dispatch an event and returns it. At the end of
// the stream it returns io.EOF (a partial event is discarded, as the
// standard requires).
//
// The event's ID is its own id field, empty if it had none, as a
// translation to PUB needs (the draft's "Identifiers and Types"); the id
// the event carries for a recipient, as EventSource's lastEventId, is
// LastEventID right after Next.
func (d *SSEReader) Next() (Event, error) {
	if !d.started {
		d.started = true
		if b, err := d.r.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
			d.r.Discard(3)
		}
	}
	for {
		line, err := d.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			d.beforeID, d.lastID = d.lastID, d.idBuffer
			if e, ok := d.dispatch(); ok {
				return e, nil
			}
			continue
		}
		if err := d.processField(line); err != nil {
			return Event{}, err
		}
	}
}

func (d *SSEReader) maxSize() int {
	return setting.Or(d.MaxEventSize, DefaultMaxEventSize)
}

// readLine returns the next line without its terminator. The slice is valid
// until the next call.
func (d *SSEReader) readLine() ([]byte, error) {
	d.line = d.line[:0]
	for {
		buf, err := d.r.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		buf, _ = d.r.Peek(d.r.Buffered())
		if d.skipLF {
			d.skipLF = false
			if buf[0] == '\n' {
				d.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			if len(d.line)+len(buf) > d.maxSize() {
				return nil, ErrEventTooLarge
			}
			d.line = append(d.line, buf...)
			d.r.Discard(len(buf))
			continue
		}
		d.skipLF = buf[i] == '\r'
		var line []byte
		if len(d.line) == 0 {
			line = buf[:i] // valid until the next read from d.r
		} else {
			d.line = append(d.line, buf[:i]...)
			line = d.line
		}
		if len(line) > d.maxSize() {
			return nil, ErrEventTooLarge
		}
		d.r.Discard(i + 1)
		return line, nil
	}
}

func (d *SSEReader) processField(line []byte) error {
	if line[0] == ':' {
		d.comments++
		return nil
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if len(d.data)+len(value)+1 > d.maxSize() {
			return fmt.Errorf("%w (%d bytes)", ErrEventTooLarge, d.maxSize())
		}
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
		d.hasData = true
	case "event":
		d.typ = string(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			d.idBuffer = string(value)
			d.id = d.idBuffer
		}
	case "retry":
		if ms, ok := parseDigits(value); ok {
			d.retry = time.Duration(ms) * time.Millisecond
		}
	case sseFieldTime:
		if ms, ok := parseDigits(value); ok {
			d.published = time.UnixMilli(ms)
		}
	case sseFieldRef:
		d.ref = string(value)
	case sseFieldPrev:
		d.prev = string(value)
	}
	return nil
}

// dispatch ends the event being read. It reports false when there is nothing
// to dispatch (no data field since the last dispatch).
func (d *SSEReader) dispatch() (Event, bool) {
	defer d.resetEvent()
	if !d.hasData {
		return Event{}, false
	}
	data := d.data[:len(d.data)-1] // every data line appended an LF
	e := Event{
		ID:   d.id,
		Type: canonicalType(d.typ),
		Data: bytes.Clone(data),
		Time: d.published,
		Ref:  d.ref,
		Prev: d.prev,
	}
	if e.Data == nil {
		e.Data = []byte{}
	}
	if d.typ == SSEEventGap {
		// A gap's data is its URL; it has no type and no payload.
		e.Gap, e.Type, e.Data = string(data), "", []byte{}
	}
	return e, true
}

func (d *SSEReader) resetEvent() {
	d.data = d.data[:0]
	d.hasData = false
	d.id = ""
	d.typ = ""
	d.published = time.Time{}
	d.ref = ""
	d.prev = ""
}

// parseDigits accepts only ASCII digits, as the standard does for retry.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}
