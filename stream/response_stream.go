package stream

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/subpub/subpub/host/h2"
	"github.com/subpub/subpub/wire"
)

// responseStream writes a subscription through the server's ResponseWriter:
// net/http's HTTP/2, and HTTP/1.1 or HTTP/3 when the connection or stream
// cannot be taken over.
//
// Over HTTP/2, an interim response whose stream closes while it is being
// written is written asynchronously, from the very header map the handler
// owns, after WriteHeader has returned (the request's context is cancelled
// by then). So once the context is done, the header map is left alone.
type responseStream struct {
	ctx     context.Context
	w       http.ResponseWriter
	rc      *http.ResponseController
	format  wire.Format
	proto   string
	metrics Metrics
	// private is set for a subscription that is not shared: its PUBs are
	// never indexed in HPACK (see h2Fields).
	private bool
}

// start sends what opens the stream: for SUB the 106 acknowledgement with
// the subscription's metadata; for SSE the response header and a retry.
func (sw *responseStream) start(sub Subscription, retry time.Duration, pos string) error {
	h := sw.w.Header()
	// Whatever a middleware put in the header map would otherwise be
	// repeated in every interim response.
	clear(h)
	for k, v := range streamHead(sub, sw.format, pos) {
		h[k] = v
	}
	if sw.format == wire.FormatPUB {
		if iw, ok := writerAs[h2.InterimWriter](sw.w); ok {
			if err := iw.WriteInterim(wire.StatusNoOperation, h); err != nil {
				clear(h)
				if tooLarge := (*h2.FieldSectionTooLargeError)(nil); errors.As(err, &tooLarge) {
					// Not acknowledged: say why rather than leave the
					// client with events and no acknowledgement.
					WriteError(sw.w, &wire.StatusError{Status: http.StatusBadGateway, Detail: "the acknowledgement cannot be sent: " + err.Error()})
				}
				return err
			}
		} else {
			sw.w.WriteHeader(wire.StatusNoOperation)
		}
		if err := sw.ctx.Err(); err != nil {
			return err
		}
		clear(h)
		return nil
	}
	sw.w.WriteHeader(http.StatusOK)
	if _, err := sw.w.Write(sseOpening(retry, pos)); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// events writes a batch and flushes once.
func (sw *responseStream) events(frames []*wire.Frame) error {
	n, sent := 0, 0
	var failure error
	if sw.format == wire.FormatPUB {
		h := sw.w.Header()
		fw, prepared := writerAs[h2.FieldsWriter](sw.w)
		for _, f := range frames {
			if err := sw.ctx.Err(); err != nil {
				return err
			}
			fields, err := f.PUB()
			if err != nil {
				failure = &unsendableError{id: f.ID, err: err}
				break
			}
			if prepared {
				if err := fw.WriteInterimFields(wire.StatusPUB, h2Fields(f, sw.private)); err != nil {
					if tooLarge := (*h2.FieldSectionTooLargeError)(nil); errors.As(err, &tooLarge) {
						// The client's SETTINGS_MAX_HEADER_LIST_SIZE
						// refuses the event (held inline, with no
						// reference to send instead).
						failure = &unsendableError{id: f.ID, err: err}
						break
					}
					return err
				}
			} else {
				fields.Set(h)
				sw.w.WriteHeader(wire.StatusPUB)
			}
			n += pubStatusLineSize + fields.Size()
			sent++
		}
		sw.metrics.Delivered(sw.proto, sw.format, sent, n)
		if err := sw.ctx.Err(); err != nil {
			return err
		}
		if !prepared {
			wire.PUBFields{}.Clear(h)
		}
		return failure
	}
	for _, f := range frames {
		if err := f.SSEErr(); err != nil {
			failure = &unsendableError{id: f.ID, err: err}
			break
		}
		b := f.SSE()
		if _, err := sw.w.Write(b); err != nil {
			return err
		}
		n += len(b)
		sent++
	}
	sw.metrics.Delivered(sw.proto, sw.format, sent, n)
	if err := sw.rc.Flush(); err != nil {
		return err
	}
	return failure
}

// h2PUBFields and h2PrivatePUBFields name the fields of a PUB prepared for
// host/h2 (lower-case names, checked values), once per event for every
// subscriber: of a shared stream, and of one that is not.
var (
	h2PUBFields        = &wire.EncodingKey{Name: "h2 PUB fields"}
	h2PrivatePUBFields = &wire.EncodingKey{Name: "h2 PUB fields, never indexed"}
)

// h2Fields is the event's PUB fields as host/h2 queues them. The caller has
// checked that the event has PUB fields.
//
// A shared stream's are indexed in the connection's HPACK dynamic table by
// the first stream that sends them, and every later stream of the
// connection with the same event refers to them: its PUB is a few bytes.
// A private stream's (one that is not shared: its events are for the
// credentials that subscribed) are never indexed (h2.NewNeverIndexedFields),
// since another principal's stream on the same connection (an
// intermediary's upstream connection carries many) could otherwise tell,
// by the size of its own PUBs, whether a value it chose is in the table: the
// compression side channel of RFC 7541 §7.1.
func h2Fields(f *wire.Frame, private bool) *h2.Fields {
	key, prepare := h2PUBFields, h2.NewFields
	if private {
		key, prepare = h2PrivatePUBFields, h2.NewNeverIndexedFields
	}
	return f.Encoded(key, func(f *wire.Frame) any {
		fields, _ := f.PUB()
		h := http.Header{}
		fields.Set(h)
		return prepare(h)
	}).(*h2.Fields)
}

// keepalive tells the client (and every intermediary) the stream is alive.
func (sw *responseStream) keepalive() error {
	if sw.format == wire.FormatPUB {
		sw.w.WriteHeader(wire.StatusNoOperation)
		return nil
	}
	if _, err := sw.w.Write(wire.SSEKeepalive); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// final ends a SUB subscription with a final status; an SSE stream just ends.
func (sw *responseStream) final(status int) {
	if sw.format == wire.FormatPUB {
		sw.w.WriteHeader(status)
	}
}

// comeBack ends the stream telling the client to come back after
// e.RetryAfter: for SUB with the final response e.
func (sw *responseStream) comeBack(e *wire.StatusError) {
	if sw.format == wire.FormatPUB {
		WriteError(sw.w, e)
		return
	}
	sw.w.Write(wire.AppendSSERetry(nil, e.RetryAfter))
	sw.rc.Flush()
}

// failed ends the stream after an error of the feed.
func (sw *responseStream) failed(err error) {
	if sw.format == wire.FormatPUB {
		WriteError(sw.w, err)
	}
}

// abort unblocks a write in progress and fails the next ones, from any
// goroutine: a past write deadline does that on HTTP/1.1, HTTP/2 and HTTP/3.
func (sw *responseStream) abort() { sw.rc.SetWriteDeadline(time.Now()) }

// abandon ends the stream without a final response: the HTTP/2 or HTTP/3
// stream is reset, the HTTP/1.1 connection closed.
func (sw *responseStream) abandon() { panic(http.ErrAbortHandler) }

// close does nothing: net/http finishes the response when the handler
// returns.
func (sw *responseStream) close() {}

// hangup is nil: net/http and host/h2 end the request's context when the
// client goes.
func (sw *responseStream) hangup() <-chan struct{} { return nil }
