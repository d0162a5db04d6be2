// Package access carries what the access log says of a request from the
// code that serves it to the server that logs it. The server (package host)
// puts a Record in the request's context and reads it once the handler has
// returned; a subscription's writer (package stream), which writes past
// net/http (a taken-over HTTP/1.1 connection, an HTTP/2 fan-out, an HTTP/3
// stream), says there what it wrote: its status, how many events, and how
// it ended. A leaf package, so that neither of the two imports the other.
package access

import (
	"context"
	"sync"
)

// Record is what is known of one request's response.
type Record struct {
	mu     sync.Mutex
	status int
	bytes  int64
	// A subscription's, when the request was one.
	subscription bool
	events       int
	end          string
}

type contextKey struct{}

// NewContext returns ctx carrying r.
func NewContext(ctx context.Context, r *Record) context.Context {
	return context.WithValue(ctx, contextKey{}, r)
}

// FromContext returns the Record in ctx, or nil: every method of a nil
// Record does nothing, so that code serving a request need not ask whether
// it is logged.
func FromContext(ctx context.Context) *Record {
	r, _ := ctx.Value(contextKey{}).(*Record)
	return r
}

// Status records a status sent: a final one replaces any before it; an
// interim one is kept only while there is none (a subscription's 106).
func (r *Record) Status(code int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if code >= 200 || r.status < 200 {
		r.status = code
	}
}

// Content records that content is being written: the status is 200 if no
// final status was sent before it, as net/http does.
func (r *Record) Content() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status < 200 {
		r.status = 200
	}
}

// Wrote counts n bytes of content written.
func (r *Record) Wrote(n int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bytes += int64(n)
}

// Subscription records that the request was a subscription, which
// delivered events and ended for the reason end.
func (r *Record) Subscription(events int, end string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subscription, r.events, r.end = true, events, end
}

// Summary is what the record holds.
type Summary struct {
	Status       int
	Bytes        int64
	Subscription bool
	Events       int
	End          string
}

// Summary returns what the record holds.
func (r *Record) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Summary{Status: r.status, Bytes: r.bytes, Subscription: r.subscription, Events: r.events, End: r.end}
}
