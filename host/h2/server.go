package h2

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/setting"
)

// Defaults of a Server. Every limit of a connection is one of these unless
// the Server's field says otherwise.
const (
	// DefaultMaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS: the
	// streams, and so the subscriptions, one connection may carry.
	DefaultMaxConcurrentStreams = 1000
	// DefaultMaxHeaderBytes bounds a request's decoded header list
	// (SETTINGS_MAX_HEADER_LIST_SIZE, counted as RFC 9113 §6.5.2 does);
	// a larger one gets 431.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultHeaderTableSize is the HPACK dynamic table the encoder uses
	// for responses when the client's SETTINGS_HEADER_TABLE_SIZE allows
	// it: 64 KiB holds some fifty 1 KiB events, so that the PUBs of one
	// event to the subscriptions of a connection refer to it by index.
	DefaultHeaderTableSize = 64 << 10
	// DefaultInitialWindowSize is SETTINGS_INITIAL_WINDOW_SIZE: how much
	// of a request body a client may send ahead of the handler's reads.
	DefaultInitialWindowSize = 256 << 10
	// DefaultConnWindowSize is the connection's receive window: what all
	// the request bodies of a connection may hold unread.
	DefaultConnWindowSize = 1 << 20
	// DefaultIdleTimeout closes (with GOAWAY) a connection without
	// streams for this long.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultPrefaceTimeout bounds the wait for the client's connection
	// preface and first SETTINGS.
	DefaultPrefaceTimeout = 10 * time.Second
	// DefaultMaxQueuedBytes bounds what a connection holds queued for the
	// writer: interim responses and DATA wait past it (until the
	// writer catches up or their write deadline passes), so a client that
	// stops reading cannot make the server buffer without bound.
	DefaultMaxQueuedBytes = 4 << 20
	// DefaultResetRate and DefaultResetBurst bound how fast a client may
	// cancel streams it opened (a token bucket: a burst, then a rate per
	// second); past it the connection is closed with ENHANCE_YOUR_CALM
	// (CVE-2023-44487, "rapid reset").
	DefaultResetRate  = 100
	DefaultResetBurst = 1000
	// DefaultGoAwayTimeout is how long a connection that sent GOAWAY for
	// an error keeps reading (and discarding) before it closes, so that
	// the client reads the GOAWAY rather than a TCP reset.
	DefaultGoAwayTimeout = time.Second
	// DefaultConnWriteTimeout bounds one write to the connection (at most
	// some 64 KiB): a client that takes none of it for this long is gone
	// or malicious, and the connection is closed. The write deadlines of
	// handlers end stalled streams; this ends a stalled connection,
	// whose writer would otherwise wait forever.
	DefaultConnWriteTimeout = 30 * time.Second
	// DefaultWriteBufferSize is how much of a response body is held
	// before it is sent: a handler that writes less and returns without
	// flushing gets a Content-Length.
	DefaultWriteBufferSize = 4 << 10
)

// Fixed limits.
const (
	// maxFrameSize is SETTINGS_MAX_FRAME_SIZE as this server reads frames:
	// the initial 16,384, which it never raises.
	maxFrameSize = 16 << 10
	// maxWindow is the largest flow-control window (RFC 9113 §6.9.1).
	maxWindow = 1<<31 - 1
	// maxHeaderFrames bounds the HEADERS and CONTINUATION frames of one
	// header block: a flood of (empty) CONTINUATION frames ends the
	// connection with ENHANCE_YOUR_CALM.
	maxHeaderFrames = 64
	// maxQueuedControl bounds the control frames (PING and SETTINGS
	// acknowledgements, WINDOW_UPDATE, GOAWAY) waiting for the
	// writer: a client that floods PINGs without reading is stopped.
	maxQueuedControl = 10000
	// maxStreamErrors bounds, per connection, the streams reset for the
	// client's errors before the connection is closed.
	maxStreamErrors = 1000
)

// Server serves an http.Handler on HTTP/2 connections, one ServeConn call
// per connection. See the package documentation for why it exists.
//
// Fields must not change once serving.
type Server struct {
	// Handler serves every request. Required.
	Handler http.Handler

	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS; a stream
	// past it is refused (RST_STREAM REFUSED_STREAM). Default
	// DefaultMaxConcurrentStreams.
	MaxConcurrentStreams uint32

	// MaxHeaderBytes bounds a request's header list. Default
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// HeaderTableSize is the largest HPACK dynamic table the encoder
	// uses, if the client allows that much. Default
	// DefaultHeaderTableSize.
	HeaderTableSize uint32

	// InitialWindowSize is each stream's receive window, and
	// ConnWindowSize the connection's. Defaults DefaultInitialWindowSize
	// and DefaultConnWindowSize.
	InitialWindowSize, ConnWindowSize uint32

	// IdleTimeout closes a connection without streams. Default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration

	// PrefaceTimeout bounds the wait for the connection preface. Default
	// DefaultPrefaceTimeout.
	PrefaceTimeout time.Duration

	// MaxQueuedBytes bounds what a connection queues for writing. Default
	// DefaultMaxQueuedBytes.
	MaxQueuedBytes int

	// Budget, if set, is the process's account of bytes queued for slow
	// peers: each connection's write queue is charged as frames are
	// queued and credited as they are written, and a connection the
	// budget cuts off (the one with the most queued, past the budget) is
	// closed, its requests' contexts ending with budget.ErrOverBudget.
	// Nil: each connection is bounded by MaxQueuedBytes alone.
	Budget *budget.Budget

	// ResetRate (per second) and ResetBurst bound the streams a client
	// may cancel. Defaults DefaultResetRate and DefaultResetBurst.
	ResetRate, ResetBurst int

	// ConnWriteTimeout bounds each write to the connection. Default
	// DefaultConnWriteTimeout.
	ConnWriteTimeout time.Duration

	// WriteBufferSize is the response body held before it is sent.
	// Default DefaultWriteBufferSize.
	WriteBufferSize int

	// Settings are sent in the server's SETTINGS after its own limits:
	// extension parameters, such as one saying that the server serves a
	// method or protocol on this connection (as RFC 8441's
	// SETTINGS_ENABLE_CONNECT_PROTOCOL does). None by default.
	Settings []http2.Setting

	// Logger receives handler panics and connection errors (at debug
	// level: a client's protocol error is not the server's). Default
	// slog.Default().
	Logger *slog.Logger

	mu       sync.Mutex
	conns    map[*Conn]struct{}
	shutdown bool
	drained  chan struct{} // closed when conns empties during Shutdown
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) maxStreams() uint32 {
	return setting.Or(s.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
}

// ServeConn serves HTTP/2 on c until the connection ends, and returns once
// every handler it started has returned. c is a TLS connection that
// negotiated "h2", or a cleartext one for h2c with prior knowledge; either
// way ServeConn reads the client's preface. ctx is the parent of every
// request's context; when it is done, the connection is closed at once
// (Shutdown closes it gracefully). ServeConn closes c.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	conn := newConn(s, c)
	if !s.track(conn, true) {
		// Shutting down: refuse the connection politely.
		conn.shutdownAtStart = true
	}
	defer s.track(conn, false)
	conn.serve(ctx)
}

// track adds or removes a connection, reporting false when the server is
// shutting down.
func (s *Server) track(c *Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.conns == nil {
			s.conns = make(map[*Conn]struct{})
		}
		s.conns[c] = struct{}{}
		return !s.shutdown
	}
	delete(s.conns, c)
	if len(s.conns) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	return true
}

// Shutdown sends GOAWAY on every connection (and on every connection
// ServeConn is given from now on), lets the streams in flight finish, and
// returns when all connections have closed, or closes what is left when
// ctx is done and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	var drained chan struct{}
	if len(s.conns) > 0 {
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		drained = s.drained
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.GoAway()
	}
	if drained == nil {
		return nil
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every connection at once; handlers see their requests'
// contexts cancelled.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
	return nil
}
