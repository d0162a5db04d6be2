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

// events writes a batch and flushes once.
func (sw *streamWriter) events(frames []*wire.Frame) error {
	n := 0
	if sw.format == FormatPUB {
		h := sw.w.Header()
		for _, f := range frames {
			if err := sw.ctx.Err(); err != nil {
				return err
			}
			fields, err := f.PUB()
			if err != nil {
				continue // not representable in header fields; see wire.EncodePUB
			}
			fields.Set(h)
			sw.w.WriteHeader(wire.StatusPUB)
			n += pubStatusLineSize + fields.Size()
		}
		sw.metrics.Delivered(sw.proto, sw.format, len(frames), n)
		if err := sw.ctx.Err(); err != nil {
			return err
		}
		wire.PUBFields{}.Clear(h)
		return nil
	}
	for _, f := range frames {
		b := f.SSE()
		if _, err := sw.w.Write(b); err != nil {
			return err
		}
		n += len(b)
	}
	sw.metrics.Delivered(sw.proto, sw.format, len(frames), n)
	return sw.rc.Flush()
}

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
