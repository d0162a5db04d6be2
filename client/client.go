package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/subpub/subpub/internal/redact"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// Event is an event as a subscriber receives it.
type Event struct {
	wire.Event
	// Received is when the client decoded it.
	Received time.Time
	// Proto is the HTTP version it came over: "h1", "h2" or "h3".
	Proto string
	// Format is how it was written: PUB or SSE.
	Format wire.Format
	// Fields are the PUB response's header fields (nil for SSE).
	Fields http.Header
	// LastEventID is the id the event carries for its subscriber, which
	// it resumes after: the event's own ID, or, for an event without one,
	// the subscription's last event ID before it. Over SSE it is the
	// stream's last-event-ID buffer (which an id-only block also sets, an
	// empty id field clears and an id containing NUL leaves alone), as
	// EventSource's lastEventId.
	LastEventID string

	frame *wire.Frame
}

// Frame is the event ready to be relayed: for PUB it keeps the received
// field values, so an intermediary forwards them without encoding again.
func (e *Event) Frame() *wire.Frame {
	if e.frame == nil {
		e.frame = wire.NewFrame(e.Event)
	}
	return e.frame
}

// Latency is the time from publication to reception, when the event carries
// its publish time.
func (e *Event) Latency() (time.Duration, bool) {
	if e.Time.IsZero() {
		return 0, false
	}
	return e.Received.Sub(e.Time), true
}

// Open describes an established subscription.
type Open struct {
	Proto  string // "h1", "h2", "h3"
	Format wire.Format
	// Header holds the fields of the acknowledging 106 (SUB: the first,
	// which in ModeAuto must carry Enable-SUB) or of the SSE response:
	// Subscription-Sharing says whether the stream may be shared, Vary
	// which request fields select it.
	Header http.Header
}

// Subscription is one stream to follow with Client.Run.
type Subscription struct {
	// URL of the resource.
	URL string
	// LastEventID resumes after this event; updated as events arrive (see
	// Event.LastEventID), so after Run returns it holds the last event ID,
	// which a resumption sends as Last-Event-ID (none when it is empty).
	LastEventID string
	// Header adds request fields to this subscription only.
	Header http.Header

	// OnEvent receives each event. It runs on the connection's reader, so
	// it must not block: over HTTP/2 and HTTP/3 other subscriptions share
	// that connection.
	OnEvent func(Event)
	// OnOpen, if set, is told each time the subscription is established.
	OnOpen func(Open)
	// OnRetry, if set, is told of each failed attempt that will be retried,
	// with the delay before the next.
	OnRetry func(err error, delay time.Duration)
	// OnFallback, if set, is told when ModeAuto gives up SUB for SSE, and
	// why: the server refused SUB, or the next hop did not negotiate it.
	OnFallback func(reason error)
	// Trace, if set, is told of each request of the subscription and each
	// response to it, interim ones included, as curl -v shows them.
	Trace *Trace
}

// Trace follows the messages of a subscription. Its functions may be nil;
// they run on the connection's reader, as OnEvent does.
type Trace struct {
	// Request is told of each request as it goes out on its connection,
	// before any response to it, with the HTTP version ("h1", "h2" or
	// "h3"). Its Header holds every field sent but Host (req.Host, or else
	// req.URL.Host).
	Request func(proto string, req *http.Request)
	// Response is told of each response: every 106 and 105 (PUB) interim
	// response to SUB, and the final response (for SSE, the one whose
	// content is the stream).
	Response func(proto string, status int, header http.Header)
}

// Client subscribes and publishes. It is safe for concurrent use; its
// subscriptions share connections where the HTTP version allows.
type Client struct {
	opts    Options
	tlsConf *tls.Config
	http    *http.Transport // HTTP/1.1 and HTTP/2
	h3      *h3Pool         // HTTP/3
}

// New returns a Client configured by opts.
func New(opts Options) (*Client, error) {
	tlsConf, err := opts.TLS()
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts, tlsConf: tlsConf}
	switch opts.HTTP {
	case HTTPAuto, HTTP11, HTTP2:
		c.http = newHTTPTransport(opts, tlsConf)
	case HTTP3:
		c.h3 = newH3Pool(opts, tlsConf)
	default:
		return nil, fmt.Errorf("unknown HTTP version %q (want 1.1, 2 or 3)", opts.HTTP)
	}
	return c, nil
}

// Close closes idle connections and every HTTP/3 connection.
func (c *Client) Close() error {
	if c.http != nil {
		c.http.CloseIdleConnections()
	}
	if c.h3 != nil {
		return c.h3.Close()
	}
	return nil
}

// Run follows s until ctx is done or the subscription ends for good, and
// says why: ctx's error, wire.ErrStreamEnded, a permanent *wire.StatusError, an
// ErrMalformedEvent, or the last error once Reconnect gives up.
func (c *Client) Run(ctx context.Context, s *Subscription) error {
	if s.OnEvent == nil {
		return errors.New("Subscription.OnEvent is nil")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL", redact.String(s.URL))
	}
	if c.h3 != nil && u.Scheme != "https" {
		return fmt.Errorf("HTTP/3 needs an https URL, not %q", redact.String(s.URL))
	}
	mode := c.opts.Mode
	negotiate := mode == ModeAuto // see negotiate.go
	attempts := 0
	established := false          // ever
	var refusedSUB error          // why SUB was refused, if auto mode fell back to SSE
	var serverDelay time.Duration // SSE retry or Retry-After
	for {
		format := wire.MethodSUB
		if mode == ModeSSE {
			format = "SSE"
		}
		a := attempt{client: c, sub: s, url: u, sse: mode == ModeSSE, negotiate: negotiate && mode != ModeSSE}
		err := a.run(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if a.established {
			attempts = 0
			established = true
		}
		if a.retry > 0 {
			serverDelay = a.retry
		}
		if mode == ModeAuto && fallBackToSSE(err, a.proto10) {
			mode = ModeSSE
			refusedSUB = err
			c.fallBack(s, "server does not support SUB; using SSE", err)
			continue
		}
		// Even once SUB has worked: the path may have changed (another
		// intermediary behind the same name), and this one does not carry
		// it.
		if a.negotiate && negotiationFailed(err) {
			mode = ModeSSE
			c.fallBack(s, "the path does not negotiate SUB; using SSE", err)
			continue
		}
		if a.negotiate && !a.established && failedBeforeAcknowledgement(err, a.sent, a.answered) {
			mode = ModeSSE
			c.fallBack(s, "SUB failed before any acknowledgement; using SSE", fmt.Errorf("%w: %w", ErrFailedBeforeAcknowledgement, err))
			// The server may have asked for time (a 503's Retry-After):
			// the same server answers the SSE request.
			var se *wire.StatusError
			if errors.As(err, &se) && se.RetryAfter > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(se.RetryAfter):
				}
			}
			continue
		}
		if refusedSUB != nil && !a.established && noEventStream(err) {
			return refusedSUB // neither SUB nor SSE: the refusal of SUB says more (Allow)
		}
		if mode == ModeAuto && a.established {
			mode = ModeSUB // the server speaks SUB: never fall back later
		}
		if final(err) || c.opts.Reconnect.Disabled || c.opts.Reconnect.FailFast && !established && hopeless(err) {
			return err
		}
		attempts++
		if max := c.opts.Reconnect.MaxAttempts; max > 0 && attempts >= max {
			return fmt.Errorf("giving up after %d attempts: %w", attempts, err)
		}
		delay := c.backoff(attempts, serverDelay, err)
		c.logger().Info("resubscribing", "url", redact.String(s.URL), "method", format, "after", delay, "last_event_id", s.LastEventID, "reason", err)
		if s.OnRetry != nil {
			s.OnRetry(err, delay)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// fallBack says that a subscription gives up SUB for SSE.
func (c *Client) fallBack(s *Subscription, msg string, reason error) {
	c.logger().Info(msg, "url", redact.String(s.URL), "reason", reason, "last_event_id", s.LastEventID)
	if s.OnFallback != nil {
		s.OnFallback(reason)
	}
}

// final reports errors that resubscribing cannot fix.
func final(err error) bool {
	var se *wire.StatusError
	if errors.As(err, &se) {
		return se.Permanent()
	}
	return errors.Is(err, wire.ErrStreamEnded) || errors.Is(err, ErrMalformedEvent)
}

// fallBackToSSE reports an answer to SUB that means "this server (or an
// intermediary) does not do SUB", where SSE may still work.
func fallBackToSSE(err error, proto10 bool) bool {
	if proto10 {
		return true
	}
	var se *wire.StatusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Status {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return true
	}
	return false
}

// noEventStream reports an answer to GET that means the resource has no
// event stream either.
func noEventStream(err error) bool {
	var se *wire.StatusError
	return errors.As(err, &se) && (se.Status == http.StatusNotAcceptable || se.Status == http.StatusMethodNotAllowed)
}

// backoff is the delay before attempt n+1: exponential with full jitter from
// the initial delay, but never less than what the server asked for.
func (c *Client) backoff(n int, serverDelay time.Duration, err error) time.Duration {
	initial := setting.Or(c.opts.Reconnect.InitialDelay, DefaultInitialDelay)
	maxDelay := setting.Or(c.opts.Reconnect.MaxDelay, DefaultMaxDelay)
	var se *wire.StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		serverDelay = se.RetryAfter
	}
	ceiling := min(initial<<min(n-1, 20), maxDelay)
	d := rand.N(ceiling) + initial/2
	return max(d, serverDelay)
}

// discardLogger is the logger of a Client given none: a library does not
// log unless asked to.
var discardLogger = slog.New(slog.DiscardHandler)

func (c *Client) logger() *slog.Logger { return cmp.Or(c.opts.Logger, discardLogger) }

// RoundTrip sends an ordinary request over the Client's connections, in
// the HTTP version it is configured for, so that a proxy can forward
// everything else the way it subscribes.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.h3 != nil {
		return c.h3.roundTrip(req.Context(), req)
	}
	return c.http.RoundTrip(req)
}
