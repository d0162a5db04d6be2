package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"sync"
	"time"

	"github.com/subpub/subpub/wire"
)

// errNotSubscribed reports a 2xx answer to SUB without any 106: the server
// treated SUB as something else and does not support subscriptions.
var errNotSubscribed = &wire.StatusError{Status: http.StatusNotImplemented, Detail: "server answered SUB without a 106 acknowledgement: it does not support SUB"}

// errServerClosed reports a stream the server ended without saying not to
// resubscribe (a final 2xx after events, or the end of an SSE body).
var errServerClosed = errors.New("server closed the stream")

// attempt is one request of a subscription: connect, stream, end.
type attempt struct {
	client *Client
	sub    *Subscription
	url    *url.URL
	sse    bool
	// negotiate: SUB must be acknowledged by the next hop (ModeAuto; see
	// negotiate.go).
	negotiate bool

	// What the attempt learned, read by Run after it returns.
	established bool          // a 106 or an SSE response arrived
	sent        bool          // the request went out on a connection
	answered    bool          // an interim response arrived
	proto10     bool          // the server speaks HTTP/1.0
	retry       time.Duration // the server's SSE retry
	proto       string

	// mu and done keep a callback that arrives after the attempt returned
	// (the transport's reader may still be running) from touching the
	// subscription or what the attempt learned, which Run reads without
	// the lock: its events are dropped and will be resumed.
	mu      sync.Mutex
	done    bool
	failure error // an error raised inside a callback
	alive   *time.Timer
	// heardSinceAck: an interim response arrived after the
	// acknowledgement.
	heardSinceAck bool
}

func (a *attempt) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if timeout := a.client.opts.keepAliveTimeout(); timeout > 0 {
		a.alive = time.AfterFunc(timeout, func() { cancel(ErrKeepAliveTimeout) })
		defer a.alive.Stop()
	}
	if a.negotiate {
		ack := time.AfterFunc(a.client.opts.acknowledgeTimeout(), func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if !a.established {
				cancel(ErrNotAcknowledged)
			}
		})
		defer ack.Stop()
	}
	req, err := a.newRequest(ctx)
	if err != nil {
		return err
	}
	switch {
	case a.sse:
		err = a.runSSE(ctx, req)
	case a.client.h3 != nil:
		err = a.runSUBOverHTTP3(ctx, req)
	default:
		err = a.runSUB(ctx, req)
	}
	// A late callback may still run on the transport's reader: what the
	// attempt learned is read once, under the lock that marks it done.
	a.mu.Lock()
	a.done = true
	if a.failure != nil {
		err = a.failure
	}
	silentAfterAck := a.negotiate && a.established && !a.heardSinceAck
	a.mu.Unlock()
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, ErrKeepAliveTimeout), errors.Is(cause, ErrNotAcknowledged):
		err = cause
	}
	if silentAfterAck && brokenOff(err) {
		return fmt.Errorf("%w (%v)", ErrSilentAfterAcknowledgement, err)
	}
	return err
}

func (a *attempt) newRequest(ctx context.Context) (*http.Request, error) {
	method := wire.MethodSUB
	if a.sse {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url.String(), nil)
	if err != nil {
		return nil, err
	}
	for _, h := range []http.Header{a.client.opts.Header, a.sub.Header} {
		for k, v := range h {
			req.Header[k] = append(req.Header[k], v...)
		}
	}
	if a.sse {
		req.Header.Set("Accept", wire.ContentTypeSSE)
		req.Header.Set("Cache-Control", "no-cache")
	}
	if a.sub.LastEventID != "" {
		req.Header.Set("Last-Event-ID", a.sub.LastEventID)
	}
	if req.Header.Get("User-Agent") == "" {
		// Set, rather than left to each transport's default, so that a
		// trace shows every field sent.
		req.Header.Set("User-Agent", userAgent)
	}
	return req, nil
}

// userAgent is the User-Agent of a subscription that sets none.
const userAgent = "subpub"

// traceRequest tells the trace that req was sent.
func (a *attempt) traceRequest(req *http.Request) {
	if t := a.sub.Trace; t != nil && t.Request != nil {
		t.Request(a.proto, req)
	}
}

// traceResponse tells the trace of a response.
func (a *attempt) traceResponse(status int, h http.Header) {
	if t := a.sub.Trace; t != nil && t.Response != nil {
		t.Response(a.proto, status, h)
	}
}

// httpTrace is the httptrace of a request over HTTP/1.1 or HTTP/2: it
// learns the HTTP version and tells the trace of the request once it has
// its connection, before any response to it can arrive (WroteHeaders may
// come after: HTTP/2 writes on a goroutine of its own).
func (a *attempt) httpTrace(req *http.Request) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			a.proto = a.client.connProto(info)
			if a.proto == wire.ProtoHTTP1 && !a.sse {
				negotiateHTTP1(req.Header)
			}
			a.mu.Lock()
			a.sent = true
			a.mu.Unlock()
			a.traceRequest(req)
		},
	}
}

// heard resets the keepalive timer: the connection is alive.
func (a *attempt) heard() {
	if a.alive != nil {
		a.alive.Reset(a.client.opts.keepAliveTimeout())
	}
}

// lockAnswered locks a.mu for a 105 or 106 response and marks the attempt
// answered. It reports false, with a.mu unlocked, once the attempt is done:
// the response comes too late and is ignored.
func (a *attempt) lockAnswered() bool {
	a.mu.Lock()
	if a.done {
		a.mu.Unlock()
		return false
	}
	a.answered = true
	return true
}

// interim handles a 1xx response to SUB.
func (a *attempt) interim(code int, h http.Header) error {
	a.heard()
	a.traceResponse(code, h)
	switch code {
	case wire.StatusNoOperation:
		if !a.lockAnswered() {
			return nil
		}
		if a.established {
			a.heardSinceAck = true
		}
		// Without the mark, a 106 acknowledges nothing when the hop must
		// negotiate: it is a keepalive, or some other hop's.
		first := !a.established && (!a.negotiate || wire.EnablesSUB(h))
		a.established = a.established || first
		if first && a.sub.LastEventID == "" {
			// The acknowledgement may say where the stream starts: resume
			// from there if the subscription is lost before any event.
			if e, err := wire.DecodePUB(h); err == nil && e.ID != "" {
				a.sub.LastEventID = e.ID
			}
		}
		a.mu.Unlock()
		if first && a.sub.OnOpen != nil {
			a.sub.OnOpen(Open{Proto: a.proto, Format: wire.FormatPUB, Header: h})
		}
	case wire.StatusPUB:
		if !a.lockAnswered() {
			return nil
		}
		unacknowledged := a.negotiate && !a.established
		a.heardSinceAck = true
		if unacknowledged {
			a.failure = ErrUnacknowledgedEvent
		}
		a.mu.Unlock()
		if unacknowledged {
			return ErrUnacknowledgedEvent
		}
		f, err := wire.FrameFromPUB(h)
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrMalformedEvent, err)
			a.mu.Lock()
			a.failure = err
			a.mu.Unlock()
			return err
		}
		return a.deliver(f, h, nil)
	}
	return nil
}

// deliver passes an event to the subscriber and advances the subscription's
// last event ID: to the SSE stream's, or else to the event's own id if it
// has one. An event whose prev is not the last event ID (the stream's as of
// the event before it, for SSE) is not delivered: the attempt fails with
// ErrOutOfSequence, and the subscription resumes from the last event it
// delivered.
func (a *attempt) deliver(f *wire.Frame, fields http.Header, sse *wire.SSEReader) error {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil
	}
	last := a.sub.LastEventID
	if sse != nil {
		last = sse.LastEventIDBefore()
	}
	if !f.Follows(last) && !a.client.opts.DeliverOutOfSequence {
		a.failure = fmt.Errorf("%w: event %q follows %q, but the last event received was %q", ErrOutOfSequence, f.ID, f.Prev, last)
		if sse != nil {
			sse.SetLastEventID(last) // resume from the last event delivered
		}
		return a.failure
	}
	format := wire.FormatPUB
	switch {
	case sse != nil:
		a.sub.LastEventID = sse.LastEventID()
		format = wire.FormatSSE
	case f.ID != "":
		a.sub.LastEventID = f.ID
	}
	a.sub.OnEvent(Event{Event: f.Event, Received: now, Proto: a.proto, Format: format, Fields: fields, LastEventID: a.sub.LastEventID, frame: f})
	return nil
}

// runSUB subscribes with SUB over HTTP/1.1 or HTTP/2. Interim responses
// reach Got1xxResponse (delivered without net/http's cumulative 1xx size
// limit, which applies only when no one looks at them); RoundTrip returns
// with the final response, when the subscription is over.
func (a *attempt) runSUB(ctx context.Context, req *http.Request) error {
	trace := a.httpTrace(req)
	trace.Got1xxResponse = func(code int, h textproto.MIMEHeader) error {
		return a.interim(code, http.Header(h))
	}
	resp, err := a.client.http.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, trace)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	a.proto10 = resp.ProtoMajor == 1 && resp.ProtoMinor == 0
	return a.final(resp)
}

// final interprets the final response to SUB.
func (a *attempt) final(resp *http.Response) error {
	a.traceResponse(resp.StatusCode, resp.Header)
	a.mu.Lock()
	established := a.established
	a.mu.Unlock()
	switch {
	case resp.StatusCode < 300 && !established:
		return errNotSubscribed // even a 204: it answered something else
	case resp.StatusCode == http.StatusNoContent:
		return wire.ErrStreamEnded
	case resp.StatusCode < 300:
		return errServerClosed
	}
	return statusError(resp.StatusCode, resp.Header, resp.Body)
}

// runSSE subscribes with GET and reads text/event-stream.
func (a *attempt) runSSE(ctx context.Context, req *http.Request) error {
	if a.client.h3 != nil {
		a.proto = wire.ProtoHTTP3
		a.traceRequest(req) // about to be sent: quic-go has no trace
	} else {
		req = req.WithContext(httptrace.WithClientTrace(ctx, a.httpTrace(req)))
	}
	resp, err := a.client.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	a.proto = wire.ProtoName(resp.ProtoMajor)
	a.traceResponse(resp.StatusCode, resp.Header)
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return wire.ErrStreamEnded
	case resp.StatusCode != http.StatusOK:
		return statusError(resp.StatusCode, resp.Header, resp.Body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != wire.ContentTypeSSE {
		return &wire.StatusError{Status: http.StatusNotAcceptable, Detail: fmt.Sprintf("server answered with Content-Type %q, not %s", resp.Header.Get("Content-Type"), wire.ContentTypeSSE)}
	}
	a.established = true
	if a.sub.OnOpen != nil {
		a.sub.OnOpen(Open{Proto: a.proto, Format: wire.FormatSSE, Header: resp.Header})
	}
	a.heard()
	r := wire.NewSSEReader(activityReader{resp.Body, a.heard})
	r.MaxEventSize = a.client.opts.maxEventSize()
	// The stream's last event ID starts from the one resumed after and
	// persists across reconnections, as EventSource's does; resume from
	// it, which includes an id the server sent without an event (where
	// the stream starts) and no id once the server cleared it.
	r.SetLastEventID(a.sub.LastEventID)
	defer func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.sub.LastEventID = r.LastEventID()
	}()
	for {
		e, err := r.Next()
		a.retry = r.Retry()
		if errors.Is(err, io.EOF) {
			return errServerClosed
		}
		if errors.Is(err, wire.ErrEventTooLarge) {
			return fmt.Errorf("%w: %v", ErrMalformedEvent, err)
		}
		if err != nil {
			return err
		}
		if err := a.deliver(wire.NewFrame(e), nil, r); err != nil {
			return err
		}
	}
}

// activityReader tells the keepalive timer about every read that returns
// data (comments included).
type activityReader struct {
	r     io.Reader
	heard func()
}

func (ar activityReader) Read(p []byte) (int, error) {
	n, err := ar.r.Read(p)
	if n > 0 {
		ar.heard()
	}
	return n, err
}

func (c *Client) connProto(info httptrace.GotConnInfo) string {
	if tc, ok := info.Conn.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return wire.ProtoHTTP2
		}
		return wire.ProtoHTTP1
	}
	if c.opts.HTTP == HTTP2 {
		return wire.ProtoHTTP2
	}
	return wire.ProtoHTTP1
}
