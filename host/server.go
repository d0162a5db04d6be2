package host

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"

	"github.com/subpub/subpub/host/h2"
	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/ratelog"
	"github.com/subpub/subpub/internal/redact"
	"github.com/subpub/subpub/internal/setting"
)

// Defaults of a Server.
const (
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultIdleTimeout          = 120 * time.Second
	DefaultMaxHeaderBytes       = 64 << 10
	DefaultMaxConcurrentStreams = 1000
	// QUIC sends a PING when a connection has been quiet this long, well
	// inside the idle timeout, so long-lived subscriptions survive.
	DefaultQUICKeepAlive   = 10 * time.Second
	DefaultQUICIdleTimeout = 30 * time.Second
	// MaxIncomingUniStreams is what HTTP/3 needs of a peer's
	// unidirectional streams: control, QPACK encoder and decoder, with
	// room for extensions that come and go.
	MaxIncomingUniStreams = 16
	// samePortAttempts bounds how often Listen picks another free port
	// when the one TCP got is taken for UDP.
	samePortAttempts = 10

	// HeaderTableSize is the HPACK dynamic table size the servers use
	// for the headers they send, when the client allows it (64 KiB: some
	// fifty 1 KiB events).
	HeaderTableSize = 64 << 10
)

// Server serves one handler on TLS (HTTP/1.1 and HTTP/2 over TCP, HTTP/3
// over UDP on the same port, advertised with Alt-Svc) and, optionally, on
// cleartext HTTP/1.1 and h2c. Origin and edge both run on it.
type Server struct {
	// Handler serves every request. Required.
	Handler http.Handler

	// Addr is the TLS address, "host:port"; port 0 picks a free port used
	// by both TCP and UDP. Empty means no TLS listener.
	Addr string

	// PlainAddr is the cleartext address (HTTP/1.1 and h2c with prior
	// knowledge), for debugging and benchmarks. Empty means none.
	PlainAddr string

	// TLSConfig holds the certificates. Required when Addr is set.
	TLSConfig *tls.Config

	// MaxConcurrentStreams bounds the streams, and so the subscriptions,
	// one HTTP/2 or HTTP/3 connection may carry. Default
	// DefaultMaxConcurrentStreams.
	MaxConcurrentStreams int

	// MaxHeaderBytes bounds a request's header section; a larger one gets
	// 431. Default DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// QUICKeepAlive is how long an HTTP/3 connection may be quiet before
	// the server sends a PING; QUICIdleTimeout how long before it is
	// closed. Defaults DefaultQUICKeepAlive and DefaultQUICIdleTimeout.
	QUICKeepAlive, QUICIdleTimeout time.Duration

	// StatelessResetKey lets a restarted server reset the QUIC connections
	// its previous run left open, so that HTTP/3 clients notice at once
	// instead of after their idle timeout. It must persist across restarts
	// (and be secret). Nil: no stateless resets.
	StatelessResetKey *quic.StatelessResetKey

	// Settings are extension SETTINGS parameters advertised on every
	// HTTP/2 and HTTP/3 connection, each with the same identifier and
	// value on both (as RFC 8441 and RFC 9220 do for extended CONNECT):
	// what the handler serves that a client should know before it asks,
	// such as subscriptions (stream.Settings). None by default.
	Settings map[uint16]uint32

	// QueuedBudget, if set, is the process's account of bytes queued for
	// slow peers, which the HTTP/2 connections' write queues are charged
	// to (see h2.Server.Budget); the subscriptions' writers on HTTP/1.1
	// and HTTP/3 are charged to the same one by the Streamer. Nil: none.
	QueuedBudget *budget.Budget

	// Logger receives server errors, with credentials masked (see
	// package internal/redact). Default slog.Default().
	Logger *slog.Logger

	// AccessLog, if set, receives a line per request once it has been
	// answered, with credentials masked (see logAccess). Nil: none.
	AccessLog *slog.Logger

	// OnShutdown runs first in Shutdown, with its context: the place to end
	// streams gracefully (Streamer.Shutdown) before connections close.
	OnShutdown func(ctx context.Context) error

	mu       sync.Mutex
	tcp      net.Listener
	udp      net.PacketConn
	quicTr   *quic.Transport
	plain    net.Listener
	tlsSrv   *http.Server
	plainSrv *http.Server
	tlsH2    *h2.Server // HTTP/2 on the TLS listener, handed over by tlsSrv
	plainH2  *h2.Server // h2c (prior knowledge), handed over by plainSrv
	h2Ctx    context.Context
	h2Stop   context.CancelFunc
	h3       *http3.Server
	altSvc   string
	libLog   *slog.Logger // see libraryLogger
	serving  sync.WaitGroup
}

// Start listens on the configured addresses and serves in the background.
func (s *Server) Start() error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.Serve()
	return nil
}

// Listen binds the configured addresses without serving yet, so that a
// caller can learn the ports chosen for port 0 (TLSAddr, PlainListenAddr)
// before the first request.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Handler == nil {
		return errors.New("host: Server.Handler is nil")
	}
	if s.Addr != "" {
		if s.TLSConfig == nil {
			return errors.New("host: Server.TLSConfig is nil")
		}
		tcp, udp, err := listenSamePort(s.Addr)
		if err != nil {
			return err
		}
		s.tcp, s.udp = tcp, udp
	}
	if s.PlainAddr != "" {
		ln, err := net.Listen("tcp", s.PlainAddr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listening on %s: %w", s.PlainAddr, err)
		}
		s.plain = ln
	}
	return nil
}

// Serve serves on the listeners Listen bound, in the background.
func (s *Server) Serve() {
	s.mu.Lock()
	defer s.mu.Unlock()
	logger := s.libraryLogger()
	handler := s.Handler
	if s.AccessLog != nil {
		handler = logAccess(handler, s.AccessLog)
	}
	if s.tcp != nil {
		tcp, udp := s.tcp, s.udp
		port := tcp.Addr().(*net.TCPAddr).Port
		s.altSvc = fmt.Sprintf(`h3=":%d"; ma=86400`, port)

		tlsConf := s.TLSConfig.Clone()
		tlsConf.NextProtos = []string{"h2", "http/1.1"}
		tlsHandler := s.advertiseHTTP3(handler)
		s.tlsSrv = s.httpServer(tlsHandler)
		s.tlsSrv.TLSConfig = tlsConf
		s.tlsH2 = s.h2Server(tlsHandler)
		s.tlsSrv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
			"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) { s.tlsH2.ServeConn(s.h2Ctx, c) },
		}
		h3TLS := http3.ConfigureTLSConfig(s.TLSConfig.Clone())
		quicConf := &quic.Config{
			KeepAlivePeriod:       setting.Or(s.QUICKeepAlive, DefaultQUICKeepAlive),
			MaxIdleTimeout:        setting.Or(s.QUICIdleTimeout, DefaultQUICIdleTimeout),
			MaxIncomingStreams:    int64(setting.Or(s.MaxConcurrentStreams, DefaultMaxConcurrentStreams)),
			MaxIncomingUniStreams: MaxIncomingUniStreams,
		}
		s.h3 = &http3.Server{
			Handler:            handler,
			TLSConfig:          h3TLS,
			MaxHeaderBytes:     setting.Or(s.MaxHeaderBytes, DefaultMaxHeaderBytes),
			Logger:             logger,
			QUICConfig:         quicConf,
			AdditionalSettings: s.http3Settings(),
		}
		s.quicTr = &quic.Transport{Conn: udp, StatelessResetKey: s.StatelessResetKey}
		s.serve(func() error { return s.tlsSrv.ServeTLS(tcp, "", "") })
		s.serve(func() error {
			ln, err := s.quicTr.ListenEarly(h3TLS, quicConf)
			if err != nil {
				return err
			}
			return s.h3.ServeListener(ln)
		})
	}
	if s.plain != nil {
		ln := s.plain
		s.plainSrv = s.httpServer(handler)
		s.plainSrv.Protocols = new(http.Protocols)
		s.plainSrv.Protocols.SetHTTP1(true)
		s.plainSrv.Protocols.SetUnencryptedHTTP2(true)
		s.plainH2 = s.h2Server(handler)
		s.plainSrv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
			// net/http hands over a cleartext connection that starts with
			// the HTTP/2 preface under this name, the preface read.
			"unencrypted_http2": func(_ *http.Server, c *tls.Conn, _ http.Handler) {
				if inner, ok := c.NetConn().(interface{ UnencryptedNetConn() net.Conn }); ok {
					s.plainH2.ServeConn(s.h2Ctx, prefacedConn(inner.UnencryptedNetConn()))
				}
			},
			// Present so that net/http does not install its own HTTP/2.
			"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) { c.Close() },
		}
		s.serve(func() error { return s.plainSrv.Serve(ln) })
	}
}

// logger is what the server logs to, with credentials masked: an
// access_token in a URI or a bearer token never reaches a log line.
func (s *Server) logger() *slog.Logger { return redact.Logger(cmp.Or(s.Logger, slog.Default())) }

// libraryLogger is what the libraries the server serves with log to:
// net/http (a TLS handshake that failed), host/h2 (a client's protocol
// error, a rapid reset), quic-go's HTTP/3 (every request's URI, at debug
// level). Clients provoke those lines as fast as they connect or send
// requests, so they reach the log at a bounded rate (package
// internal/ratelog: a few of each kind a second, then a count of those
// dropped), credentials masked.
func (s *Server) libraryLogger() *slog.Logger {
	if s.libLog == nil {
		s.libLog = ratelog.Logger(s.logger())
	}
	return s.libLog
}

// httpServer is the HTTP/1.1 server, which hands HTTP/2 connections over
// to h2Server's. It sets no WriteTimeout: subscriptions are long, and the
// Streamer detects stalled writers itself.
func (s *Server) httpServer(h http.Handler) *http.Server {
	if s.h2Ctx == nil {
		s.h2Ctx, s.h2Stop = context.WithCancel(context.Background())
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    setting.Or(s.MaxHeaderBytes, DefaultMaxHeaderBytes),
		// Connection-level noise (TLS handshake errors from probes) is debug.
		ErrorLog: slog.NewLogLogger(s.libraryLogger().Handler(), slog.LevelDebug),
	}
}

// h2Server serves HTTP/2 with subpub's own connection loop (package
// host/h2), whose interim responses are queued rather than written with a
// round trip to the connection, one per subscriber per event, as net/http's
// are.
func (s *Server) h2Server(h http.Handler) *h2.Server {
	return &h2.Server{
		Handler:              h,
		MaxConcurrentStreams: uint32(setting.Or(s.MaxConcurrentStreams, DefaultMaxConcurrentStreams)),
		MaxHeaderBytes:       setting.Or(s.MaxHeaderBytes, DefaultMaxHeaderBytes),
		// The PUBs of one event to the subscriptions sharing a
		// connection carry the same field values: a dynamic table that
		// holds several events' values lets every PUB after the first
		// refer to them by index. Clients choose how large the table may
		// be; subpub's client allows this much.
		HeaderTableSize: HeaderTableSize,
		IdleTimeout:     DefaultIdleTimeout,
		Settings:        s.http2Settings(),
		Budget:          s.QueuedBudget,
		Logger:          s.libraryLogger(),
	}
}

// http2Settings is Settings as HTTP/2 sends them, in the order of their
// identifiers so that every connection's SETTINGS frame is the same.
func (s *Server) http2Settings() []http2.Setting {
	var out []http2.Setting
	for _, id := range slices.Sorted(maps.Keys(s.Settings)) {
		out = append(out, http2.Setting{ID: http2.SettingID(id), Val: s.Settings[id]})
	}
	return out
}

// http3Settings is Settings as quic-go's HTTP/3 server takes them.
func (s *Server) http3Settings() map[uint64]uint64 {
	if len(s.Settings) == 0 {
		return nil
	}
	out := make(map[uint64]uint64, len(s.Settings))
	for id, v := range s.Settings {
		out[uint64(id)] = uint64(v)
	}
	return out
}

// prefacedConn gives back the HTTP/2 connection preface that net/http read
// before handing c over, so that h2.Server reads it as from any connection.
func prefacedConn(c net.Conn) net.Conn {
	return &replayConn{Conn: c, pending: []byte(http2.ClientPreface)}
}

// replayConn reads pending before what the connection itself holds.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (s *Server) serve(run func() error) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := run(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.logger().Error("server stopped", "err", err)
		}
	}()
}

// advertiseHTTP3 adds Alt-Svc to responses over TCP so that clients can
// move to HTTP/3 on the same port.
func (s *Server) advertiseHTTP3(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", s.altSvc)
		h.ServeHTTP(w, r)
	})
}

// TLSAddr is the address the TLS listeners are bound to, or nil.
func (s *Server) TLSAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return addrOf(s.tcp)
}

// PlainListenAddr is the address the cleartext listener is bound to, or nil.
func (s *Server) PlainListenAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return addrOf(s.plain)
}

// addrOf is ln's address, or nil if there is no ln.
func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Shutdown runs OnShutdown, then stops accepting and waits for connections to
// finish until ctx is done, when it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.OnShutdown != nil {
		if err := s.OnShutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ending streams: %w", err))
		}
	}
	s.mu.Lock()
	tlsSrv, plainSrv, h3 := s.tlsSrv, s.plainSrv, s.h3
	h2s := []*h2.Server{s.tlsH2, s.plainH2}
	s.mu.Unlock()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	for _, shut := range []func(context.Context) error{
		optional(tlsSrv), optional(plainSrv), optionalH2(h2s[0]), optionalH2(h2s[1]), func(ctx context.Context) error {
			if h3 == nil {
				return nil
			}
			return h3.Shutdown(ctx)
		},
	} {
		wg.Go(func() {
			if err := shut(ctx); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		s.Close()
	}
	if s.h2Stop != nil {
		s.h2Stop() // every HTTP/2 connection still open ends now
	}
	s.closeQUIC()
	s.serving.Wait()
	return errors.Join(errs...)
}

func optional(srv *http.Server) func(context.Context) error {
	return func(ctx context.Context) error {
		if srv == nil {
			return nil
		}
		err := srv.Shutdown(ctx)
		if err != nil {
			srv.Close()
		}
		return err
	}
}

// optionalH2 shuts an HTTP/2 server down gracefully (GOAWAY), if there is
// one: net/http does not count the connections it handed over.
func optionalH2(srv *h2.Server) func(context.Context) error {
	return func(ctx context.Context) error {
		if srv == nil {
			return nil
		}
		return srv.Shutdown(ctx)
	}
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range []*http.Server{s.tlsSrv, s.plainSrv} {
		if srv != nil {
			srv.Close()
		}
	}
	for _, srv := range []*h2.Server{s.tlsH2, s.plainH2} {
		if srv != nil {
			srv.Close()
		}
	}
	if s.h2Stop != nil {
		s.h2Stop()
	}
	if s.h3 != nil {
		s.h3.Close()
	}
	s.closeListeners()
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.tcp, s.plain} {
		if ln != nil {
			ln.Close()
		}
	}
	s.closeQUIC()
}

// closeQUIC closes the QUIC transport, then its socket (a transport given
// a socket leaves it open).
func (s *Server) closeQUIC() {
	if s.quicTr != nil {
		s.quicTr.Close()
	}
	if s.udp != nil {
		s.udp.Close()
	}
}

// listenSamePort binds TCP and UDP to one port, so that Alt-Svc can name it.
// With port 0 it retries a few times in case the UDP port is taken.
func listenSamePort(addr string) (net.Listener, net.PacketConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("bad listen address %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listening on tcp %s: %w", addr, err)
		}
		bound := strconv.Itoa(tcp.Addr().(*net.TCPAddr).Port)
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, bound))
		if err == nil {
			return tcp, udp, nil
		}
		tcp.Close()
		if port != "0" || attempt == samePortAttempts {
			return nil, nil, fmt.Errorf("listening on udp %s: %w", net.JoinHostPort(host, bound), err)
		}
	}
}
