package stream

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// streamWriter writes one subscription in its format. An event the format
// cannot carry (a payload that is not text, for SSE; an id that is not
// printable ASCII, for PUB, as an SSE upstream may give) makes events
// return an *unsendableError after the events before it: it is never
// skipped silently.
type streamWriter interface {
	// start sends what opens the stream: for SUB the 106 acknowledgement
	// with the subscription's metadata; for SSE the response header and a
	// retry. Both say where the stream starts, when the feed knows.
	start(sub Subscription, retry time.Duration, pos string) error
	// events writes a batch with one flush.
	events(frames []*wire.Frame) error
	// keepalive tells the client (and every intermediary) the stream is
	// alive: a 106, or an SSE comment.
	keepalive() error
	// final ends a SUB subscription with a final status without content
	// (204); an SSE stream
	// just ends.
	final(status int)
	// comeBack ends the stream telling the client to come back after
	// e.RetryAfter (the server shuts down, the subscription is as old as
	// it may be): for SUB with the final response e, for SSE with a retry.
	comeBack(e *wire.StatusError)
	// failed ends the stream after an error.
	failed(err error)
	// abort, from any goroutine, unblocks a write in progress and fails
	// the next ones.
	abort()
	// abandon ends the stream without a final response.
	abandon()
	// close releases what the writer holds once the stream is over.
	close()
	// hangup is closed when the client closes the connection, if the
	// writer can tell before its next write (nil otherwise).
	hangup() <-chan struct{}
}

// pubStatusLineSize approximates the status line or pseudo-header of an
// interim response, for the bytes-written metric.
const pubStatusLineSize = len("HTTP/1.1 105 PUB\r\n\r\n")

// streamHead is the fields that open a stream: on the first 106 for SUB, on
// the 200 response for SSE. Subscription-Sharing says whether
// intermediaries may share it, Vary which request fields select it. The
// 106 is marked as the acknowledgement (see acknowledgementFields) and
// names where the stream starts (pos, see startPosition) in an Event field
// with only an id.
func streamHead(sub Subscription, f wire.Format, pos string) http.Header {
	h := http.Header{}
	if f == wire.FormatPUB {
		for k, v := range sub.acknowledgement {
			h[k] = v
		}
	}
	if pos != "" && f == wire.FormatPUB {
		if fields, err := wire.EncodePUB(&wire.Event{ID: pos}); err == nil {
			h.Set(wire.FieldEvent, fields.Event)
		}
	}
	SetSharing(h, f, sub.Shareable)
	if f == wire.FormatSSE {
		h.Set("Content-Type", wire.ContentTypeSSE)
		h.Set("X-Accel-Buffering", "no") // ask buffering proxies to stream
	}
	vary := sub.Vary
	for k, v := range sub.crossOrigin {
		if k == "Vary" {
			vary = append(slices.Clip(vary), v...)
			continue
		}
		h[k] = v
	}
	if len(vary) > 0 {
		h.Set("Vary", strings.Join(vary, ", "))
	}
	return h
}

// SetSharing sets in h the fields that say whether a stream in format f may
// be shared: Subscription-Sharing, and for text/event-stream, whose 200 is
// a response as RFC 9111 knows them, Cache-Control: no cache is to serve it
// without asking, and a per-credential stream's is for no shared cache at
// all. A 106 is not a response RFC 9111 stores, and says nothing of
// caching. A server answering HEAD for a stream (as an intermediary asks,
// to check credentials) sets the same.
func SetSharing(h http.Header, f wire.Format, shareable bool) {
	h.Set(wire.FieldSubscriptionSharing, wire.SharingValue(shareable))
	if f == wire.FormatSSE {
		cacheControl := "no-cache"
		if !shareable {
			cacheControl = "private, no-cache"
		}
		h.Set("Cache-Control", cacheControl)
	}
}

// crossOriginFields are the fields of h that say who may read the response
// (a CORS middleware's: Access-Control-*, and its Vary), which a stream's
// head keeps from the handler's header map, whose other fields it drops.
func crossOriginFields(h http.Header) http.Header {
	var out http.Header
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") || (k == "Vary" && slices.Contains(v, "Origin")) {
			if out == nil {
				out = http.Header{}
			}
			out[k] = v
		}
	}
	return out
}

// errShuttingDown is the final response of a subscription the server ends
// because it is going away: come back after a delay drawn from
// ShutdownSpread, so that clients do not all come back at once.
func (s *Streamer) errShuttingDown() *wire.StatusError {
	return &wire.StatusError{
		Status:     http.StatusServiceUnavailable,
		Detail:     "server is shutting down; resubscribe with Last-Event-ID",
		RetryAfter: time.Second + rand.N(setting.Or(s.ShutdownSpread, DefaultShutdownSpread)),
	}
}

// errLifetimeReached is the final response of a subscription as old as
// MaxLifetime: come back at once (Retry-After counts whole seconds, and one
// is the least that says so).
var errLifetimeReached = &wire.StatusError{
	Status:     http.StatusServiceUnavailable,
	Detail:     "the subscription is as old as this server keeps one; resubscribe now with Last-Event-ID",
	RetryAfter: time.Second,
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

// startPosition is the id of the last event before the subscription's
// first, which a client that sent no Last-Event-ID can resume from if it
// loses the subscription before its first event; "" when the feed does not
// know, or the client resumes from an id of its own.
func startPosition(r *http.Request, feed Feed) string {
	if p, ok := feed.(PositionedFeed); ok && r.Header.Get("Last-Event-ID") == "" {
		return p.Position()
	}
	return ""
}

// sseOpening is what opens an event stream's body: the reconnection delay
// and, as an event without data (which EventSource does not dispatch but
// whose id it keeps), where the stream starts.
func sseOpening(retry time.Duration, pos string) []byte {
	b := wire.AppendSSERetry(nil, retry)
	if pos != "" && !strings.ContainsAny(pos, "\r\n\x00") {
		b = append(b, "id: "+pos+"\n\n"...)
	}
	return b
}

// writerAs finds a writer of type T under w, looking through the writers
// that wrap a ResponseWriter and say so with Unwrap (as
// http.ResponseController does): the access log's, for one.
func writerAs[T any](w http.ResponseWriter) (T, bool) {
	for {
		if t, ok := w.(T); ok {
			return t, true
		}
		inner, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			var zero T
			return zero, false
		}
		w = inner.Unwrap()
	}
}
