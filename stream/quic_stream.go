package stream

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/wire"
)

// quicStream writes a subscription over HTTP/3 on the request stream itself,
// taken over from quic-go's http3 server before any response was sent, in
// frames this package encodes.
//
// quic-go's ResponseWriter QPACK-encodes every interim response again for
// every subscriber, and its writes wait until the packer has taken the
// data, so the streams of one connection go out one by one, about a packet
// per event per stream. Here a PUB's HEADERS frame is encoded once per event
// (QPACK with the static table gives the same bytes on every stream, see
// wire.AppendHTTP3Headers) and a batch is queued with TryWriteAll, which
// returns at once when the stream's flow-control window has room: the
// packer then fills each packet with the frames of many streams. A stream
// whose window is full falls back to a write that waits, which the stall
// watchdog bounds like any other.
type quicStream struct {
	str     *http3.Stream // closing and resetting go through quic-go's stream state
	raw     *quic.Stream  // the frames this package encodes are written here
	format  wire.Format
	metrics Metrics
	done    bool // the stream was closed or reset
	// queued counts the bytes queued without waiting since the last write
	// that waited (which returns once the packer has taken everything
	// before it, so then nothing is left queued).
	queued int
	// held is charged, while a write waits for the packer, with its bytes
	// and those queued before it: what quic-go holds for a client that
	// does not take them. Bytes queued without waiting are not charged:
	// a stream that keeps up has them sent at once, and one that does not
	// soon meets a write that waits (see MaxQUICQueued).
	held *budget.Holder
}

func (qs *quicStream) chargeTo(h *budget.Holder) { qs.held = h }

// MaxQUICQueued bounds what a subscription's HTTP/3 stream holds queued
// without waiting for the packer. quic-go's queue is bounded only by the
// client's flow-control windows (megabytes per connection), so a reader
// slower than the stream would otherwise hold its backlog at the edge, once
// per subscriber, where the lag bound cannot see it: past this the next
// write waits, and a subscriber that falls behind lags in the ring instead.
const MaxQUICQueued = 32 << 10

// takeQUICStream takes an HTTP/3 request stream over, or reports false when
// it cannot be (then quic-go's ResponseWriter writes the stream).
func takeQUICStream(w http.ResponseWriter, r *http.Request, f wire.Format, m Metrics) (*quicStream, bool) {
	streamer, ok := writerAs[http3.HTTPStreamer](w)
	if r.ProtoMajor != 3 || !ok {
		return nil, false
	}
	str, err := streamer.HTTPStream()
	if err != nil {
		return nil, false
	}
	raw := str.QUICStream()
	raw.SetWriteDeadline(time.Time{})
	return &quicStream{str: str, raw: raw, format: f, metrics: m}, true
}

// tryWrite queues b on the stream if that needs no wait: the flow-control
// window takes it all, and little is queued already. It reports whether it
// did, and an error if the stream failed.
func (qs *quicStream) tryWrite(b []byte) (bool, error) {
	if qs.queued+len(b) > MaxQUICQueued {
		return false, nil
	}
	err := qs.raw.TryWriteAll(b)
	switch {
	case err == nil:
		qs.queued += len(b)
		return true, nil
	case errors.Is(err, quic.ErrWouldBlock):
		return false, nil
	}
	return false, err
}

// write queues b on the stream, without waiting when tryWrite can.
func (qs *quicStream) write(b []byte) error {
	if ok, err := qs.tryWrite(b); ok || err != nil {
		return err
	}
	waiting := qs.queued + len(b)
	qs.held.Charge(waiting)
	_, err := qs.raw.Write(b)
	qs.held.Credit(waiting)
	if err == nil {
		qs.queued = 0
	}
	return err
}

func (qs *quicStream) start(sub Subscription, retry time.Duration, pos string) error {
	head := streamHead(sub, qs.format, pos)
	if qs.format == wire.FormatPUB {
		return qs.write(wire.AppendHTTP3Headers(nil, wire.StatusNoOperation, head))
	}
	b := wire.AppendHTTP3Headers(nil, http.StatusOK, head)
	return qs.write(wire.AppendHTTP3Data(b, sseOpening(retry, pos)))
}

// events queues a batch with one write: a HEADERS frame per PUB, or one DATA
// frame holding every SSE event.
func (qs *quicStream) events(frames []*wire.Frame) error {
	buf := batchBuffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	var failure error
	sent, size := 0, 0
	if qs.format == wire.FormatPUB {
		for _, f := range frames {
			fields, err := f.PUB()
			if err != nil {
				failure = &unsendableError{id: f.ID, err: err}
				break
			}
			buf.Write(http3PUB(f))
			size += pubStatusLineSize + fields.Size()
			sent++
		}
	} else {
		for _, f := range frames {
			if err := f.SSEErr(); err != nil {
				failure = &unsendableError{id: f.ID, err: err}
				break
			}
			size += len(f.SSE())
			sent++
		}
		appendHTTP3SSEData(buf, frames[:sent], size)
	}
	qs.metrics.Delivered(wire.ProtoHTTP3, qs.format, sent, size)
	if sent > 0 {
		if err := qs.write(buf.Bytes()); err != nil {
			return err
		}
	}
	return failure
}

// appendHTTP3SSEData appends to buf one DATA frame holding the SSE bytes of
// frames, size in all.
func appendHTTP3SSEData(buf *bytes.Buffer, frames []*wire.Frame, size int) {
	buf.Write(wire.AppendHTTP3DataHeader(buf.AvailableBuffer(), size))
	for _, f := range frames {
		buf.Write(f.SSE())
	}
}

// http3SSEData is one DATA frame holding the SSE bytes of frames, and the
// size of those.
func http3SSEData(frames []*wire.Frame) ([]byte, int) {
	size := 0
	for _, f := range frames {
		size += len(f.SSE())
	}
	var buf bytes.Buffer
	buf.Grow(size + 16)
	appendHTTP3SSEData(&buf, frames, size)
	return buf.Bytes(), size
}

// http3PUBFrame names a PUB's HTTP/3 HEADERS frame among a frame's
// encodings.
var http3PUBFrame = &wire.EncodingKey{Name: "HTTP/3 PUB HEADERS frame"}

// http3PUB is the event's 105 (PUB) as an HTTP/3 HEADERS frame, encoded once
// for every stream (see wire.AppendHTTP3Headers). The caller has checked
// that the event has PUB fields.
func http3PUB(f *wire.Frame) []byte {
	return f.Encoded(http3PUBFrame, func(f *wire.Frame) any {
		fields, _ := f.PUB()
		return fields.AppendHTTP3(nil)
	}).([]byte)
}

// The keepalives, encoded once.
var (
	http3NoOperation = wire.AppendHTTP3Headers(nil, wire.StatusNoOperation, nil)
	http3SSEComment  = wire.AppendHTTP3Data(nil, wire.SSEKeepalive)
)

func (qs *quicStream) keepalive() error {
	if qs.format == wire.FormatPUB {
		return qs.write(http3NoOperation)
	}
	return qs.write(http3SSEComment)
}

func (qs *quicStream) final(status int) {
	if qs.format == wire.FormatPUB {
		qs.write(wire.AppendHTTP3Headers(nil, status, nil))
	}
	qs.finish()
}

func (qs *quicStream) comeBack(e *wire.StatusError) {
	if qs.format == wire.FormatPUB {
		qs.failed(e)
		return
	}
	qs.write(wire.AppendHTTP3Data(nil, wire.AppendSSERetry(nil, e.RetryAfter)))
	qs.finish()
}

func (qs *quicStream) failed(err error) {
	if qs.format == wire.FormatPUB {
		status, h, body := errorResponse(err)
		qs.write(wire.AppendHTTP3Data(wire.AppendHTTP3Headers(nil, status, h), body))
	}
	qs.finish()
}

// abort unblocks a write waiting for flow control and fails the next ones.
func (qs *quicStream) abort() { qs.raw.SetWriteDeadline(time.Now()) }

// abandon resets the stream: the client resumes by Last-Event-ID.
func (qs *quicStream) abandon() {
	if qs.done {
		return
	}
	qs.done = true
	qs.str.CancelRead(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
	qs.str.CancelWrite(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
}

// finish ends the stream after what was written, as quic-go's server does
// for a response it wrote: the request has no body left to read.
func (qs *quicStream) finish() {
	if qs.done {
		return
	}
	qs.done = true
	qs.str.CancelRead(quic.StreamErrorCode(http3.ErrCodeNoError))
	qs.str.Close()
}

// close ends the stream if nothing else did: a taken-over stream is ours
// to close.
func (qs *quicStream) close() { qs.finish() }

// hangup is nil: a stream's reset ends the request's context.
func (qs *quicStream) hangup() <-chan struct{} { return nil }
