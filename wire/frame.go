package wire

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"unicode/utf8"
)

// Frame is an event together with its encodings, each computed at most once
// and then shared by every subscriber that needs it. A Frame is immutable
// once created and safe for concurrent use.
type Frame struct {
	Event

	pubOnce sync.Once
	pub     PUBFields
	pubErr  error

	sseOnce sync.Once
	sse     []byte
	sseErr  error

	encodedMu sync.Mutex
	encoded   []keyedEncoding // see Encoded
}

// keyedEncoding is one of a Frame's encodings made by a writer outside this
// package.
type keyedEncoding struct {
	key   *EncodingKey
	value any
}

// EncodingKey names an encoding a writer outside this package makes of
// frames (see Frame.Encoded). Each writer declares one, as a package-level
// variable.
type EncodingKey struct{ Name string }

// ErrNotText reports an event whose payload text/event-stream cannot carry
// byte for byte: not UTF-8 (a browser would replace the invalid bytes), or
// holding a CR (every parser reads CR and CRLF as LF).
var ErrNotText = errors.New("wire: event data is not UTF-8 text without CR: it cannot be carried in text/event-stream as it is")

// NewFrame wraps e. Its encodings are computed on first use.
func NewFrame(e Event) *Frame {
	return &Frame{Event: e}
}

// FrameFromPUB decodes the fields of a received PUB response. The frame keeps
// the received field values, so an intermediary relays them unchanged
// (including Event members it does not know) without encoding them again.
func FrameFromPUB(h http.Header) (*Frame, error) {
	e, err := DecodePUB(h)
	if err != nil {
		return nil, err
	}
	f := &Frame{Event: e}
	raw := PUBFields{Event: joinFieldLines(h[FieldEvent])}
	if lines := h[FieldEventData]; len(lines) > 0 {
		raw.EventData = joinFieldLines(lines)
	}
	f.pubOnce.Do(func() { f.pub = raw })
	return f, nil
}

// PUB returns the event's PUB fields.
func (f *Frame) PUB() (PUBFields, error) {
	f.pubOnce.Do(func() { f.pub, f.pubErr = EncodePUB(&f.Event) })
	return f.pub, f.pubErr
}

// Encoded returns the frame's encoding named key, made by encode on first
// use and then shared, as the frame's own encodings are, by every
// subscriber that needs it: a server's writer for one protocol keeps there
// what it would otherwise prepare again for each subscriber.
func (f *Frame) Encoded(key *EncodingKey, encode func(*Frame) any) any {
	f.encodedMu.Lock()
	defer f.encodedMu.Unlock()
	for _, e := range f.encoded {
		if e.key == key {
			return e.value
		}
	}
	v := encode(f)
	f.encoded = append(f.encoded, keyedEncoding{key, v})
	return v
}

// SSE returns the event as one text/event-stream frame. The slice is shared:
// callers must not modify it. A server checks SSEErr first.
func (f *Frame) SSE() []byte {
	f.encodeSSE()
	return f.sse
}

// SSEErr is ErrNotText if the payload is not UTF-8 or holds a CR: a
// browser would replace its invalid bytes, and every parser turns CR and
// CRLF into LF, so the event must not be sent as it is.
func (f *Frame) SSEErr() error {
	f.encodeSSE()
	return f.sseErr
}

func (f *Frame) encodeSSE() {
	f.sseOnce.Do(func() {
		if !utf8.Valid(f.Data) || bytes.IndexByte(f.Data, '\r') >= 0 {
			f.sseErr = ErrNotText
		}
		f.sse = AppendSSE(make([]byte, 0, len(f.Data)+64), &f.Event)
	})
}

// Size estimates the memory the frame holds with its encodings made, for
// queues bounded in bytes.
func (f *Frame) Size() int {
	return 3*f.Event.Size() + 128
}
