package origin

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/subpub/subpub/wire"
)

// pubStatusLineSize approximates the status line or pseudo-header of an
// interim response, for the bytes-written metric.
const pubStatusLineSize = len("HTTP/1.1 105 PUB\r\n\r\n")

// streamWriter writes one subscription in its format.
//
// Over HTTP/2, an interim response whose stream closes while it is being
// written is written asynchronously, from the very header map the handler
// owns, after WriteHeader has returned (the request's context is cancelled
// by then). So once the context is done, the header map is left alone.
type streamWriter struct {
	ctx     context.Context
	w       http.ResponseWriter
	rc      *http.ResponseController
	format  Format
	proto   string
	metrics Metrics
}

// start sends what opens the stream: for SUB the 106 acknowledgement with
// the subscription's metadata; for SSE the response header and a retry.
func (sw *streamWriter) start(sub Subscription, retry time.Duration) error {
	h := sw.w.Header()
	// Whatever a middleware put in the header map would otherwise be
	// repeated in every interim response.
	clear(h)
	cacheControl := "private"
	if sub.Shareable {
		cacheControl = "public"
	}
	if sw.format == FormatPUB {
		h.Set("Cache-Control", cacheControl)
		if len(sub.Vary) > 0 {
			h.Set("Vary", strings.Join(sub.Vary, ", "))
		}
		sw.w.WriteHeader(wire.StatusNoOperation)
		if err := sw.ctx.Err(); err != nil {
			return err
		}
		clear(h)
		return nil
	}
	h.Set("Content-Type", wire.ContentTypeSSE)
	h.Set("Cache-Control", cacheControl+", no-cache")
	if len(sub.Vary) > 0 {
		h.Set("Vary", strings.Join(sub.Vary, ", "))
	}
	h.Set("X-Accel-Buffering", "no") // ask buffering proxies to stream
	sw.w.WriteHeader(http.StatusOK)
	if _, err := sw.w.Write(wire.AppendSSERetry(nil, retry)); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// events writes a batch and flushes once. An event the format cannot carry
// (a payload that is not text, for SSE; an id that is not printable ASCII,
// for PUB, as an SSE upstream may give) ends the subscription with an
// *unsendableError after the events before it: it is never skipped silently.
func (sw *streamWriter) events(frames []*wire.Frame) error {
	n, sent := 0, 0
	var failure error
	if sw.format == FormatPUB {
		h := sw.w.Header()
		for _, f := range frames {
			if err := sw.ctx.Err(); err != nil {
				return err
			}
			fields, err := f.PUB()
			if err != nil {
				failure = &unsendableError{id: f.ID, err: err}
				break
			}
			fields.Set(h)
			sw.w.WriteHeader(wire.StatusPUB)
			n += pubStatusLineSize + fields.Size()
			sent++
		}
		sw.metrics.Delivered(sw.proto, sw.format, sent, n)
		if err := sw.ctx.Err(); err != nil {
			return err
		}
		wire.PUBFields{}.Clear(h)
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

// unsendableError reports an event the subscription's format cannot carry.
type unsendableError struct {
	id  string
	err error
}

func (e *unsendableError) Error() string {
	return "event " + strconv.Quote(e.id) + " cannot be sent in this format: " + e.err.Error()
}

func (e *unsendableError) Unwrap() error { return e.err }

// keepalive tells the client (and every intermediary) the stream is alive.
func (sw *streamWriter) keepalive() error {
	if sw.format == FormatPUB {
		sw.w.WriteHeader(wire.StatusNoOperation)
		return nil
	}
	if _, err := sw.w.Write(wire.SSEKeepalive); err != nil {
		return err
	}
	return sw.rc.Flush()
}

// final ends a SUB subscription with a final status; an SSE stream just ends.
func (sw *streamWriter) final(status int) {
	if sw.format == FormatPUB {
		sw.w.WriteHeader(status)
	}
}

// shutdown ends the stream telling the client to come back after d.
func (sw *streamWriter) shutdown(d time.Duration) {
	if sw.format == FormatPUB {
		sw.w.Header().Set("Retry-After", strconv.Itoa(int(d/time.Second)))
		WriteProblem(sw.w, http.StatusServiceUnavailable, "server is shutting down; resubscribe with Last-Event-ID")
		return
	}
	sw.w.Write(wire.AppendSSERetry(nil, d))
	sw.rc.Flush()
}

// failed ends the stream after an error of the feed.
func (sw *streamWriter) failed(err error) {
	if sw.format == FormatPUB {
		WriteError(sw.w, err)
	}
}
