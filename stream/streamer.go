package stream

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/internal/access"
	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/ratelog"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// Defaults of a Streamer.
const (
	DefaultKeepAlive      = 15 * time.Second
	DefaultRetry          = 2 * time.Second
	DefaultStallTimeout   = 30 * time.Second
	DefaultMaxBatch       = 256
	DefaultMaxPerClient   = 1024
	DefaultShutdownSpread = 5 * time.Second
	DefaultMaxLifetime    = time.Hour
)

// Streamer writes subscriptions to clients: SUB as 106 and 105 (PUB)
// interim responses, GET as text/event-stream, over HTTP/1.1, HTTP/2 and
// HTTP/3 alike. Each subscriber is served by its handler goroutine, in one
// loop that waits on its feed, its keepalive timer, its request context and
// the Streamer's shutdown, and writes whatever is ready as one batch with one
// flush: a subscriber that falls behind is caught up in fewer, larger writes.
//
// The zero value is ready to use; fields must not change once serving.
type Streamer struct {
	// KeepAlive is how long a subscription may stay silent before a 106
	// (or an SSE comment) is sent. Default DefaultKeepAlive.
	KeepAlive time.Duration

	// Retry is the reconnection delay announced to SSE clients.
	// Default DefaultRetry.
	Retry time.Duration

	// StallTimeout ends a subscription whose write has been blocked this
	// long: its client stopped reading. Default DefaultStallTimeout.
	StallTimeout time.Duration

	// MaxBatch bounds the events written before one flush. Default
	// DefaultMaxBatch.
	MaxBatch int

	// MaxPerClient bounds concurrent subscriptions from one client address;
	// past it a subscription gets 429 with Retry-After. Zero means
	// DefaultMaxPerClient, negative means no bound.
	MaxPerClient int

	// TrustedProxies are the addresses of proxies (an edge) whose
	// Forwarded field names the client a request is for: the per-client
	// bound counts a subscription they open for that client (see
	// ClientAddr). Others' Forwarded is ignored.
	TrustedProxies []netip.Prefix

	// MaxSubscriptions bounds concurrent subscriptions in all; past it a
	// subscription gets 503 with Retry-After. Zero means no bound.
	MaxSubscriptions int

	// MaxLifetime ends a subscription this old, with a final response (SUB)
	// or a retry (SSE) telling its client to resubscribe at once with
	// Last-Event-ID: so that connections move to where a load balancer
	// sends them now, and a server is not held by subscriptions it can no
	// longer judge (a credential checked long ago, say). Each
	// subscription's lifetime is drawn within 10% of it, so that
	// subscriptions opened together do not end together. Default
	// DefaultMaxLifetime; negative means none.
	MaxLifetime time.Duration

	// ShutdownSpread is the range of the Retry-After (and SSE retry) sent
	// when the server shuts down, randomized so that clients do not all
	// come back at once. Default DefaultShutdownSpread.
	ShutdownSpread time.Duration

	// Budget, if set, is the process's account of bytes queued for slow
	// peers (the one the HTTP/2 connections' queues are charged to, see
	// host.Server.QueuedBudget): an HTTP/1.1 or HTTP/3 subscription is
	// charged for what a write blocked on its client holds, and one the
	// budget cuts off, the one holding the most past the budget, is ended
	// as a lagging one is, its stream reset, to resume by Last-Event-ID;
	// so is each subscription of an HTTP/2 connection the budget cuts.
	// Either way it is counted with reason CloseBudget. Nil: none.
	Budget *budget.Budget

	// Logger receives errors. Default: slog.Default().
	Logger *slog.Logger

	// Metrics observes subscriptions. Default: discarded.
	Metrics Metrics

	initOnce sync.Once
	// clientLog is Logger bounded by ratelog, for the lines a client can
	// provoke once per subscription.
	clientLog *slog.Logger
	batches   sync.Pool     // of *[]*wire.Frame, MaxBatch long
	closing   chan struct{} // closed by Shutdown
	mu        sync.Mutex
	active    map[*subscriber]struct{}
	perClient map[string]int
	idle      chan struct{} // closed when active empties during shutdown
	stallScan *time.Timer
	fanouts   map[fanoutKey]*fanout
	hangups   hangups
}

// subscriber is the state of one subscription that the stall watchdog reads.
type subscriber struct {
	rc *http.ResponseController
	// delivered counts the events written to the client, by its own loop
	// and by its connection's fan-out, and final is the status of the
	// final response the server sent, if it sent one: for the access log
	// (see package internal/access). The handler's goroutine alone keeps
	// them.
	delivered    int
	final        int
	abort        func()       // unblocks a write in progress
	writingSince atomic.Int64 // UnixNano when the current write began; 0 if none
	stalled      atomic.Bool
	overBudget   atomic.Bool // the Budget cut it off
}

// cutOff is why the server cut the subscription off while it was writing
// (the stall watchdog, the Budget), or "".
func (st *subscriber) cutOff() string {
	switch {
	case st.stalled.Load():
		return CloseStalled
	case st.overBudget.Load():
		return CloseBudget
	}
	return ""
}

// cutForBudget is what the Budget calls to cut the subscription off: its
// write in progress fails, and the subscription ends as CloseBudget.
func (st *subscriber) cutForBudget() {
	st.overBudget.Store(true)
	st.abort()
}

// budgeted is a streamWriter whose blocked writes are charged to a Budget.
type budgeted interface{ chargeTo(*budget.Holder) }

func (s *Streamer) init() {
	s.initOnce.Do(func() {
		s.closing = make(chan struct{})
		s.active = make(map[*subscriber]struct{})
		s.perClient = make(map[string]int)
		s.clientLog = ratelog.Logger(s.logger())
		size := setting.Or(s.MaxBatch, DefaultMaxBatch)
		s.batches.New = func() any {
			b := make([]*wire.Frame, 0, size)
			return &b
		}
	})
}

func (s *Streamer) metrics() Metrics { return cmp.Or(s.Metrics, Metrics(discardMetrics{})) }

func (s *Streamer) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

// Active counts the subscriptions being served.
func (s *Streamer) Active() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

// Serve writes sub to the client in format f until the client leaves, the
// feed ends or the Streamer shuts down. It always closes sub.Feed.
func (s *Streamer) Serve(w http.ResponseWriter, r *http.Request, f wire.Format, sub Subscription) {
	s.init()
	defer sub.Feed.Close()
	proto := wire.ProtoName(r.ProtoMajor)
	m := s.metrics()

	sub.crossOrigin = crossOriginFields(w.Header())
	sub.acknowledgement = acknowledgementFields(r)
	client := s.ClientAddr(r)
	st := &subscriber{rc: http.NewResponseController(w)}
	if err := s.admit(st, client); err != nil {
		m.Rejected(proto, err.Status)
		WriteError(w, err)
		return
	}
	defer s.leave(st, client)

	m.SubscriptionOpened(proto, f)
	reason := CloseClientGone
	rec := access.FromContext(r.Context())
	defer func() {
		if reason == CloseClientGone && errors.Is(context.Cause(r.Context()), budget.ErrOverBudget) {
			reason = CloseBudget // its HTTP/2 connection was cut off
		}
		m.SubscriptionClosed(proto, f, reason)
		if st.final != 0 {
			rec.Status(st.final)
		}
		rec.Subscription(st.delivered, reason)
	}()

	var out streamWriter
	if cs, ok := hijackStream(st.rc, r, f, m, &s.hangups); ok {
		out = cs
	} else if qs, ok := takeQUICStream(w, r, f, m); ok {
		out = qs
	} else {
		// A long stream outlives any per-request write deadline the
		// server has.
		st.rc.SetWriteDeadline(time.Time{})
		out = &responseStream{ctx: r.Context(), w: w, rc: st.rc, format: f, proto: proto, metrics: m, private: !sub.Shareable}
	}
	defer out.close()
	st.abort = out.abort
	if b, ok := out.(budgeted); ok {
		held := s.Budget.Hold(st.cutForBudget)
		defer held.Close()
		b.chargeTo(held)
	}
	// The opening write is timed too: a client that opens a stream with
	// no flow-control window to write in blocks it before any event.
	st.writingSince.Store(time.Now().UnixNano())
	err := out.start(sub, setting.Or(s.Retry, DefaultRetry), startPosition(r, sub.Feed))
	st.writingSince.Store(0)
	if err == nil {
		rec.Status(openingStatus[f])
	}
	if err != nil {
		if why := st.cutOff(); why != "" {
			reason = why
			s.finish(out, st, reason)
		}
		return
	}

	keepAlive := setting.Or(s.KeepAlive, DefaultKeepAlive)
	timer := time.NewTimer(keepAlive)
	defer timer.Stop()
	var expire <-chan time.Time
	if lifetime := setting.Or(s.MaxLifetime, DefaultMaxLifetime); lifetime > 0 {
		t := time.NewTimer(lifetime - lifetime/10 + rand.N(lifetime/5+1))
		defer t.Stop()
		expire = t.C
	}
	ctx := r.Context()
	for {
		b := s.writeReady(sub.Feed, out, st)
		st.delivered += b.written
		if b.written > 0 {
			if why := st.cutOff(); why != "" {
				reason = why
				s.finish(out, st, reason)
				return
			}
			if unsendable := (*unsendableError)(nil); errors.As(b.writeErr, &unsendable) {
				// An event over a client's header-list limit, say:
				// a client with many subscriptions could make many.
				s.clientLog.Warn("ending a subscription", "err", b.writeErr)
				reason = CloseError
				st.final = http.StatusBadGateway
				out.failed(&wire.StatusError{Status: st.final, Detail: b.writeErr.Error()})
				return
			}
			if b.writeErr != nil || ctx.Err() != nil {
				return
			}
			timer.Reset(keepAlive)
		}
		if b.feedErr != nil {
			reason = s.end(out, st, b.feedErr)
			return
		}
		if b.written > 0 {
			continue
		}
		// A caught-up subscriber may be written by its connection's
		// fan-out until something makes it leave.
		if followed, ended := s.follow(out, sub.Feed, st, r, expire); ended != "" {
			reason = ended
			s.finish(out, st, reason)
			return
		} else if followed {
			timer.Reset(keepAlive)
			continue
		}
		select {
		case <-b.wait:
		case <-timer.C:
			if out.keepalive() != nil {
				if why := st.cutOff(); why != "" {
					reason = why
					s.finish(out, st, reason)
				}
				return
			}
			timer.Reset(keepAlive)
		case <-ctx.Done():
			return
		case <-out.hangup():
			return
		case <-expire:
			reason = CloseLifetime
			s.finish(out, st, reason)
			return
		case <-s.closing:
			reason = CloseShutdown
			s.finish(out, st, reason)
			return
		}
	}
}

// finish ends a subscription as its reason says: a stalled client's stream,
// or one cut off for the Budget, is reset (it reads nothing more; over net/http that panics with
// http.ErrAbortHandler, so the caller records the reason first), one the
// server ends is told when to come back; the others need nothing written.
func (s *Streamer) finish(out streamWriter, st *subscriber, reason string) {
	switch reason {
	case CloseStalled, CloseBudget:
		out.abandon()
	case CloseShutdown:
		st.final = http.StatusServiceUnavailable
		out.comeBack(s.errShuttingDown())
	case CloseLifetime:
		st.final = errLifetimeReached.Status
		out.comeBack(errLifetimeReached)
	}
}

// openingStatus is the status that opens a subscription in each format,
// which the access log gives for one that ended without a final response.
var openingStatus = map[wire.Format]int{wire.FormatPUB: wire.StatusNoOperation, wire.FormatSSE: http.StatusOK}

// maxWriteBytes bounds one write of a batch (by the frames' estimated size).
const maxWriteBytes = 256 << 10

// readyBatch is what one pass of writeReady did: the subscriber's feed and
// its client each may have failed, and each failure ends the subscription
// its own way.
type readyBatch struct {
	written  int             // events written to the client
	wait     <-chan struct{} // closed when the feed may have more, if it had none
	feedErr  error           // the feed cannot continue (ended, lagged, failed)
	writeErr error           // writing to the client failed
}

// writeReady writes what the feed has ready as one batch. The batch buffer
// comes from a pool and goes back before the subscriber waits again, so an
// idle subscriber holds none.
func (s *Streamer) writeReady(feed Feed, out streamWriter, st *subscriber) readyBatch {
	buf := s.batches.Get().(*[]*wire.Frame)
	defer s.batches.Put(buf)
	var b readyBatch
	frames, wait, err := feed.Next((*buf)[:0])
	b.wait, b.feedErr = wait, err
	// Written in pieces of about maxWriteBytes, each timed on its own, so
	// that a client reading a large catch-up slowly is not taken for one
	// that stopped reading.
	for rest := frames; len(rest) > 0 && b.writeErr == nil; {
		n, size := 0, 0
		for n < len(rest) && (n == 0 || size+rest[n].Size() <= maxWriteBytes) {
			size += rest[n].Size()
			n++
		}
		st.writingSince.Store(time.Now().UnixNano())
		b.writeErr = out.events(rest[:n])
		st.writingSince.Store(0)
		rest = rest[n:]
	}
	b.written = len(frames)
	clear(frames) // drop references to frames the ring may evict
	return b
}

// end finishes a subscription whose feed returned err and names the reason.
func (s *Streamer) end(out streamWriter, st *subscriber, err error) string {
	switch {
	case errors.Is(err, wire.ErrStreamEnded):
		st.final = http.StatusNoContent
		out.final(st.final)
		return CloseEnded
	case errors.Is(err, ErrLagged):
		// The client's connection may be the reason it lags, so do not
		// queue more for it: reset the stream and let it resume by id.
		out.abandon()
		return CloseLagged
	case errors.Is(err, context.Canceled):
		return CloseClientGone
	default:
		var refused *wire.StatusError
		if errors.As(err, &refused) && refused.Status < http.StatusInternalServerError {
			// A final answer from the feed's source (a revoked
			// credential's 401, relayed to each subscriber of a stream):
			// the client's to hear, not this server's failure to log
			// once per subscriber.
			s.logger().Debug("subscription refused by its source", "err", err)
		} else {
			s.logger().Error("subscription feed failed", "err", err)
		}
		st.final = http.StatusInternalServerError // as errorResponse says
		if refused != nil {
			st.final = refused.Status
		}
		out.failed(err)
		return CloseError
	}
}

func (s *Streamer) admit(st *subscriber, client string) *wire.StatusError {
	limit := setting.Or(s.MaxPerClient, DefaultMaxPerClient)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closing:
		return &wire.StatusError{Status: http.StatusServiceUnavailable, Detail: "server is shutting down", RetryAfter: time.Second}
	default:
	}
	if s.MaxSubscriptions > 0 && len(s.active) >= s.MaxSubscriptions {
		return &wire.StatusError{
			Status:     http.StatusServiceUnavailable,
			Detail:     "subscription capacity reached (" + strconv.Itoa(s.MaxSubscriptions) + "); retry later",
			RetryAfter: 5 * time.Second,
		}
	}
	if s.MaxPerClient >= 0 && s.perClient[client] >= limit {
		return &wire.StatusError{
			Status:     http.StatusTooManyRequests,
			Detail:     "too many subscriptions from " + client + " (at most " + strconv.Itoa(limit) + ")",
			RetryAfter: 10 * time.Second,
		}
	}
	s.perClient[client]++
	s.active[st] = struct{}{}
	if len(s.active) == 1 {
		s.scheduleStallScanLocked()
	}
	return nil
}

func (s *Streamer) leave(st *subscriber, client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.active, st)
	if s.perClient[client]--; s.perClient[client] <= 0 {
		delete(s.perClient, client)
	}
	if len(s.active) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// scheduleStallScanLocked arms the watchdog, which runs only while there
// are subscriptions, so an idle Streamer holds no goroutine or timer.
func (s *Streamer) scheduleStallScanLocked() {
	period := setting.Or(s.StallTimeout, DefaultStallTimeout) / 4
	if s.stallScan == nil {
		s.stallScan = time.AfterFunc(period, s.scanStalls)
	} else {
		s.stallScan.Reset(period)
	}
}

// scanStalls ends subscriptions whose write has been blocked too long: their
// clients stopped reading while keeping the connection open. Setting a past
// write deadline unblocks the write on HTTP/1.1, HTTP/2 and HTTP/3 alike.
func (s *Streamer) scanStalls() {
	limit := setting.Or(s.StallTimeout, DefaultStallTimeout)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for st := range s.active {
		since := st.writingSince.Load()
		if since != 0 && now.Sub(time.Unix(0, since)) > limit && !st.stalled.Swap(true) {
			st.abort()
		}
	}
	for _, g := range s.fanouts {
		g.abortStalled(now, limit)
	}
	if len(s.active) > 0 {
		s.scheduleStallScanLocked()
	}
}

// Shutdown ends every subscription with a final response telling its client
// when to come back (503 with a randomized Retry-After for SUB; a randomized
// retry for SSE), refuses new ones, and waits until all have ended or ctx is
// done. Call it before shutting the HTTP servers down, so that they find the
// streams already finished.
func (s *Streamer) Shutdown(ctx context.Context) error {
	s.init()
	defer s.hangups.stopWatching()
	s.mu.Lock()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	if len(s.active) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
