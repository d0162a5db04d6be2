package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"

	"github.com/subpub/subpub/dashboard"
	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/cli"
	"github.com/subpub/subpub/internal/redact"
	"github.com/subpub/subpub/stream"
)

// serverFlags are the flags origin and edge share: where to listen, which
// certificate to present, how to stream.
type serverFlags struct {
	listen, listenPlain string
	certFile, keyFile   string
	dataDir             string
	metricsAddr         string
	pprof               bool
	accessLog           bool
	keepAlive           time.Duration
	maxPerClient        int
	maxSubscriptions    int
	trustedProxies      prefixList
	corsOrigins         stringList
	maxLifetime         time.Duration
	maxQueuedTotal      int64

	// ready, when a role sets it, is what /readyz checks besides
	// listening: for the edge, that its upstream answers.
	ready func(context.Context) error
	// handler is what the server serves (bind sets it), which the
	// dashboard's tail subscribes to.
	handler         http.Handler
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
}

func (f *serverFlags) register(fs *flag.FlagSet, defaultListen, defaultData string) {
	fs.StringVar(&f.listen, "listen", defaultListen, "TLS `address`: HTTP/1.1 and HTTP/2 on TCP, HTTP/3 on UDP, same port (empty: none)")
	fs.StringVar(&f.listenPlain, "listen-plain", "", "cleartext `address` for HTTP/1.1 and h2c (debugging, benchmarks)")
	fs.StringVar(&f.certFile, "cert", "", "TLS certificate `file` (PEM); default: a local CA's certificate in the data directory")
	fs.StringVar(&f.keyFile, "key", "", "TLS key `file` (PEM), with --cert")
	fs.StringVar(&f.dataDir, "data", defaultData, "data `directory`")
	fs.StringVar(&f.metricsAddr, "metrics", "", "serve Prometheus metrics at http://`address`/metrics, /healthz, /readyz and the live dashboard at /dashboard/")
	fs.BoolVar(&f.accessLog, "access-log", false, "log a line per request at info level: method, path (credentials masked), protocol, client, status, bytes, duration and, for a subscription, its events and how it ended")
	fs.BoolVar(&f.pprof, "pprof", false, "also serve Go's runtime profiles at /debug/pprof/ on the --metrics address")
	fs.DurationVar(&f.keepAlive, "keepalive", stream.DefaultKeepAlive, "send a 106 (or SSE comment) after this much silence")
	fs.IntVar(&f.maxPerClient, "max-per-client", stream.DefaultMaxPerClient, "subscriptions one client address may hold (-1: unbounded)")
	fs.IntVar(&f.maxSubscriptions, "max-subscriptions", 0, "subscriptions in all (0: unbounded); past it, 503 with Retry-After")
	fs.DurationVar(&f.maxLifetime, "max-lifetime", stream.DefaultMaxLifetime, "end a subscription this old (within 10%) with a final telling its client to resubscribe with Last-Event-ID (negative: never)")
	fs.Int64Var(&f.maxQueuedTotal, "max-queued-total", budget.DefaultLimit, "bytes all slow peers together may hold queued (HTTP/2 connections' write queues, blocked HTTP/1.1 and HTTP/3 writes); past it the one holding the most is cut off and resumes by Last-Event-ID (0: no limit, only the gauge)")
	fs.Var(&f.corsOrigins, "cors-origin", "`origins` (comma-separated, or the flag repeated; * for any) whose pages may read the streams and resources, by CORS")
	fs.Var(&f.trustedProxies, "trusted-proxy", "`CIDRs` (comma-separated, or the flag repeated) of proxies, such as an edge, whose Forwarded field names the client the per-client bound counts")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text (key=value lines) or json (one object a line)")
}

// logger is the servers' logger: --log-level's, with credentials masked in
// whatever any package logs (an access_token in a URI, a bearer token).
func (f *serverFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	l, err := cli.LoggerIn(f.logFormat, f.logLevel, stderr)
	if err != nil {
		return nil, err
	}
	return redact.Logger(l), nil
}

// streamer is the Streamer the flags describe.
func (f *serverFlags) streamer(logger *slog.Logger, metrics stream.Metrics) *stream.Streamer {
	return &stream.Streamer{
		KeepAlive:        f.keepAlive,
		MaxPerClient:     f.maxPerClient,
		MaxSubscriptions: f.maxSubscriptions,
		TrustedProxies:   f.trustedProxies,
		MaxLifetime:      f.maxLifetime,
		Budget:           budget.New(f.maxQueuedTotal, budget.DefaultGrace),
		Logger:           logger,
		Metrics:          metrics,
	}
}

// tlsConfig loads --cert/--key, or else the local CA in the data directory
// (created on first use), whose CA file it reports for clients to trust.
func (f *serverFlags) tlsConfig(stdout io.Writer) (conf *tls.Config, caFile string, err error) {
	if f.listen == "" {
		return nil, "", nil
	}
	if f.certFile != "" || f.keyFile != "" {
		if f.certFile == "" || f.keyFile == "" {
			return nil, "", errors.New("--cert and --key go together")
		}
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return nil, "", err
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, "", nil
	}
	ca, err := host.LoadOrCreateLocalCA(filepath.Join(f.dataDir, "tls"))
	if err != nil {
		return nil, "", fmt.Errorf("local CA: %w", err)
	}
	fmt.Fprintf(stdout, "TLS: certificate from a local CA; clients trust it with --cacert %s\n", ca.CAFile)
	return ca.TLSConfig(), ca.CAFile, nil
}

// statelessResetKey is the QUIC stateless reset key kept in the data
// directory, so that clients of a restarted server learn at once that their
// HTTP/3 connections are gone.
func (f *serverFlags) statelessResetKey() (*quic.StatelessResetKey, error) {
	if f.listen == "" {
		return nil, nil
	}
	return host.LoadOrCreateStatelessResetKey(filepath.Join(f.dataDir, "tls", "quic-stateless-reset.key"))
}

// builtServer is what every server command assembles: the server, bound
// but not yet serving, the streamer behind it, its metrics, and the CA file
// that its clients trust. builtOrigin and builtEdge embed it.
type builtServer struct {
	srv      *host.Server
	streamer *stream.Streamer
	reg      *prometheus.Registry
	caFile   string
}

// server is b, which the origin's or the edge's assembly embeds, for
// runServerRole.
func (b *builtServer) server() *builtServer { return b }

// builtRole is an assembled origin or edge.
type builtRole interface {
	server() *builtServer
	// close releases its resources once its server has stopped.
	close()
}

// serverRole is what runServerRole needs of a server command's flags,
// which build a B.
type serverRole[B builtRole] interface {
	register(fs *flag.FlagSet)
	logger(stderr io.Writer) (*slog.Logger, error)
	// build assembles the server, listening but not yet serving.
	build(ctx context.Context, stdout io.Writer, logger *slog.Logger) (B, error)
	runServer(ctx context.Context, srv *host.Server, reg *prometheus.Registry, role string, stdout io.Writer, logger *slog.Logger) error
}

// runServerRole is the body of the origin and edge commands: flags, then
// serve until interrupted.
func runServerRole[B builtRole](ctx context.Context, name, examples string, role serverRole[B], args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub "+name, "[flags]", examples, stdout, stderr)
	role.register(fs)
	if err := cli.ParseFlagsOnly(fs, args); err != nil {
		return err
	}
	logger, err := role.logger(stderr)
	if err != nil {
		return err
	}
	b, err := role.build(ctx, stdout, logger)
	if err != nil {
		return err
	}
	defer b.close()
	s := b.server()
	return role.runServer(ctx, s.srv, s.reg, name, stdout, logger)
}

// bind makes the server the flags describe for handler and binds its
// listeners, without serving yet; an error names the role ("the edge
// cannot listen on tcp localhost:9443: address already in use").
func (f *serverFlags) bind(role string, handler http.Handler, tlsConf *tls.Config, streamer *stream.Streamer, logger *slog.Logger) (*host.Server, error) {
	if len(f.corsOrigins) > 0 {
		handler = host.CORS(f.corsOrigins, handler)
	}
	f.handler = handler
	srv := &host.Server{
		Handler:    handler,
		Addr:       f.listen,
		PlainAddr:  f.listenPlain,
		TLSConfig:  tlsConf,
		Settings:   stream.Settings(),
		Logger:     logger,
		OnShutdown: streamer.Shutdown,
		// The HTTP/2 queues and the subscriptions' writers charge one
		// account.
		QueuedBudget: streamer.Budget,
	}
	if f.accessLog {
		srv.AccessLog = logger
	}
	var err error
	if srv.StatelessResetKey, err = f.statelessResetKey(); err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		return nil, listenError(role, err)
	}
	return srv, nil
}

// listenError says which server could not listen where, and why.
func listenError(role string, err error) error {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "listen" || op.Addr == nil {
		return fmt.Errorf("the %s cannot listen: %w", role, err)
	}
	why := op.Err
	var se *os.SyscallError
	if errors.As(why, &se) {
		why = se.Err // "address already in use", without "bind: "
	}
	return fmt.Errorf("the %s cannot listen on %s %s: %w", role, op.Net, op.Addr, why)
}

// runServer serves on srv's listeners, reports where, waits for ctx, and
// shuts it down within --shutdown-timeout.
func (f *serverFlags) runServer(ctx context.Context, srv *host.Server, reg *prometheus.Registry, role string, stdout io.Writer, logger *slog.Logger) error {
	srv.Serve()
	if a := srv.TLSAddr(); a != nil {
		fmt.Fprintf(stdout, "%s: https://%s (HTTP/1.1, HTTP/2; HTTP/3 on UDP)\n", role, a)
	}
	if a := srv.PlainListenAddr(); a != nil {
		fmt.Fprintf(stdout, "%s: http://%s (HTTP/1.1, h2c)\n", role, a)
	}
	var stopping atomic.Bool
	ready := func(ctx context.Context) error {
		if stopping.Load() {
			return errors.New("shutting down")
		}
		if f.ready != nil {
			return f.ready(ctx)
		}
		return nil
	}
	if f.metricsAddr != "" {
		if _, err := f.serveMetrics(ctx, role, reg, ready, stdout, logger); err != nil {
			srv.Close()
			return err
		}
	}
	<-ctx.Done()
	stopping.Store(true)
	logger.Info("shutting down", "role", role)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// serveMetrics serves the metrics, health and dashboard of a role on
// --metrics and says where.
func (f *serverFlags) serveMetrics(ctx context.Context, role string, reg *prometheus.Registry, ready func(context.Context) error, stdout io.Writer, logger *slog.Logger) (net.Addr, error) {
	dash := &dashboard.Handler{Role: role, Gatherer: reg, Prefix: "subpub_" + role + "_", Streams: f.handler}
	addr, err := serveMetrics(ctx, f.metricsAddr, reg, f.pprof, ready, dash, logger)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	fmt.Fprintf(stdout, "%s metrics: http://%s/metrics\n", role, addr)
	fmt.Fprintf(stdout, "%s dashboard: http://%s%s\n", role, addr, dashboard.Path)
	return addr, nil
}

// boundAddr is the address a listener got for the one asked for: the host
// as asked (so that it matches the certificate), the port as bound (which
// differs when 0 was asked for).
func boundAddr(asked string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(asked)
	if ip := net.ParseIP(host); err != nil || host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(bound.(*net.TCPAddr).Port))
}

// prefixList is a flag of CIDRs, comma-separated or repeated.
type prefixList []netip.Prefix

func (l *prefixList) String() string {
	var s []string
	for _, p := range *l {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (l *prefixList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("not a CIDR: %q", part)
		}
		*l = append(*l, p.Masked())
	}
	return nil
}

// stringList is a flag of strings, comma-separated or repeated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}
