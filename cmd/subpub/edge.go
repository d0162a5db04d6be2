package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/edge"
	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/internal/cli"
	"github.com/subpub/subpub/stream"
)

const edgeExamples = `  # in front of the demo origin, trusting its local CA
  subpub edge --upstream https://localhost:8443 --upstream-cacert .data/demo/origin/tls/ca.pem --listen localhost:9443

  # a second tier in front of the first
  subpub edge --upstream https://localhost:9443 --upstream-cacert .data/edge/tls/ca.pem --listen localhost:9543 --data .data/edge2

  # with certificates from an ACME CA (Let's Encrypt by default)
  subpub edge --domain edge.example.com --listen :443 --upstream https://origin.example.com
`

func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServerRole(ctx, "edge", edgeExamples, &edgeFlags{}, args, stdout, stderr)
}

// edgeFlags configure an edge: the server flags and the proxy's.
type edgeFlags struct {
	serverFlags
	upstreams                     upstreamList
	upCA, upHTTP                  string
	upInsecure                    bool
	domain, acmeCA, acmeEmail     string
	linger, authMaxAge            time.Duration
	ringEvents, ringBytes, maxLag int
	maxUpstreamsPerClient         int
	catchUpRate                   float64
	catchUpBurst                  int
	separateCatchUps              bool
	cacheBytes                    int64
	cacheControlField             string
}

func (f *edgeFlags) register(fs *flag.FlagSet) {
	f.serverFlags.register(fs, "localhost:9443", ".data/edge")
	f.upstreams = upstreamList{urls: stringList{"https://localhost:8443"}}
	fs.Var(&f.upstreams, "upstream", "the origin's (or the next edge's) `URL`; repeated (or comma-separated), origin processes serving one event log (one database), over which subscriptions are spread and fail over")
	fs.StringVar(&f.upCA, "upstream-cacert", "", "trust the CA certificates in this PEM `file` for the upstream")
	fs.BoolVar(&f.upInsecure, "upstream-insecure", false, "skip verification of the upstream's certificate (development only)")
	fs.StringVar(&f.upHTTP, "upstream-http", "", "HTTP version to the upstream: 1.1, 2 or 3 (default: 2 over TLS, 1.1 in cleartext)")
	fs.StringVar(&f.domain, "domain", "", "obtain and renew certificates for this `name` with ACME instead of the local CA")
	fs.StringVar(&f.acmeCA, "acme-ca", "", "ACME directory `URL` (default: Let's Encrypt)")
	fs.StringVar(&f.acmeEmail, "acme-email", "", "ACME account contact `address`")
	fs.DurationVar(&f.linger, "linger", edge.DefaultLinger, "keep an upstream subscription this long after its last subscriber leaves")
	fs.DurationVar(&f.authMaxAge, "auth-max-age", edge.DefaultAuthMaxAge, "admit a subscriber to a private stream on the upstream's authorization of its credentials only if it is this recent; else ask the upstream again")
	fs.IntVar(&f.ringEvents, "ring-events", stream.DefaultRingEvents, "recent events kept per subscription for resuming clients")
	fs.IntVar(&f.ringBytes, "ring-bytes", stream.DefaultRingBytes, "bytes of recent events kept per subscription")
	fs.IntVar(&f.maxLag, "max-lag", edge.DefaultMaxLag, "bytes a subscriber may fall behind before its stream is ended (it resumes from the ring)")
	fs.IntVar(&f.maxUpstreamsPerClient, "max-upstreams-per-client", edge.DefaultMaxUpstreamsPerClient, "upstream subscriptions one client may make the edge open, for distinct streams (-1: unbounded); past it, 429")
	fs.Float64Var(&f.catchUpRate, "catchup-rate", edge.DefaultCatchUpRate, "upstream catch-up subscriptions (for Last-Event-IDs no ring holds) the edge opens per second (-1: unbounded); past it, 503 with Retry-After")
	fs.IntVar(&f.catchUpBurst, "catchup-burst", edge.DefaultCatchUpBurst, "catch-up subscriptions the edge may open at once, within --catchup-rate")
	fs.BoolVar(&f.separateCatchUps, "separate-catchups", false, "open a catch-up subscription for each resuming subscriber instead of sharing one per position (to measure what sharing saves)")
	fs.Int64Var(&f.cacheBytes, "cache-bytes", edge.DefaultCacheBytes, "bytes of GET responses to cache (0: no cache)")
	fs.StringVar(&f.cacheControlField, "cache-control-field", edge.DefaultControlField, "the targeted cache-control `field` (RFC 9213) the cache obeys ahead of Cache-Control")
}

// builtEdge is an edge ready to serve.
type builtEdge struct {
	builtServer
	edge   *edge.Edge
	client *client.Client
}

func (b *builtEdge) close() {
	b.edge.Close()
	b.client.Close()
}

// build assembles the edge and its upstream client.
func (f *edgeFlags) build(ctx context.Context, stdout io.Writer, logger *slog.Logger) (*builtEdge, error) {
	var ups []*url.URL
	for _, s := range f.upstreams.urls {
		up, err := url.Parse(s)
		if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
			return nil, fmt.Errorf("--upstream %q is not an http or https URL", s)
		}
		ups = append(ups, up)
	}
	if f.cacheControlField != "" && !httpguts.ValidHeaderFieldName(f.cacheControlField) {
		return nil, cli.Usagef("--cache-control-field %q is not a field name", f.cacheControlField)
	}
	upClient, err := client.New(client.Options{
		HTTP:             f.upHTTP,
		CAFile:           f.upCA,
		Insecure:         f.upInsecure,
		KeepAliveTimeout: 3 * stream.DefaultKeepAlive,
		Logger:           logger,
	})
	if err != nil {
		return nil, err
	}
	reg := newRegistry()
	metrics := metricSet{reg, "subpub_edge"}
	streamer := f.streamer(logger, newStreamMetrics(metrics))
	registerBudgetMetrics(metrics, streamer.Budget)
	e := &edge.Edge{
		Upstream:              ups[0],
		MoreUpstreams:         ups[1:],
		Client:                upClient,
		Transport:             upClient,
		Streamer:              streamer,
		RingEvents:            f.ringEvents,
		RingBytes:             f.ringBytes,
		MaxLag:                f.maxLag,
		MaxUpstreamsPerClient: f.maxUpstreamsPerClient,
		CatchUpRate:           f.catchUpRate,
		CatchUpBurst:          f.catchUpBurst,
		SeparateCatchUps:      f.separateCatchUps,
		Linger:                f.linger,
		AuthMaxAge:            f.authMaxAge,
		Logger:                logger,
	}
	if f.cacheBytes > 0 {
		e.Cache = &edge.Cache{MaxBytes: f.cacheBytes, ControlField: f.cacheControlField}
	}
	e.Metrics = newEdgeMetrics(metrics, e, streamer)
	f.ready = func(ctx context.Context) error { return anyUpstreamAnswers(ctx, upClient, ups) }
	tlsConf, caFile, err := f.edgeTLSConfig(ctx, stdout, logger)
	if err != nil {
		upClient.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "edge: upstream %s\n", f.upstreams.urls.String())
	srv, err := f.bind("edge", e, tlsConf, streamer, logger)
	if err != nil {
		upClient.Close()
		return nil, err
	}
	return &builtEdge{builtServer: builtServer{srv: srv, streamer: streamer, reg: reg, caFile: caFile}, edge: e, client: upClient}, nil
}

// edgeTLSConfig is the local CA's (or --cert's) configuration or, with
// --domain, one whose certificates come from an ACME CA.
func (f *edgeFlags) edgeTLSConfig(ctx context.Context, stdout io.Writer, logger *slog.Logger) (*tls.Config, string, error) {
	if f.domain == "" {
		return f.tlsConfig(stdout)
	}
	// Renewal runs until ctx, the command's, is done.
	acme := &host.ACME{
		Domains:       []string{f.domain},
		CA:            f.acmeCA,
		Email:         f.acmeEmail,
		StorageDir:    filepath.Join(f.dataDir, "acme"),
		ChallengeAddr: f.listen,
		Logger:        logger,
	}
	conf, err := acme.TLSConfig(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("ACME certificate for %s: %w", f.domain, err)
	}
	fmt.Fprintf(stdout, "TLS: certificate for %s from an ACME CA\n", f.domain)
	return conf, "", nil
}

// anyUpstreamAnswers reports whether one of the upstreams answers (see
// upstreamAnswers): the edge can serve while one does.
func anyUpstreamAnswers(ctx context.Context, rt http.RoundTripper, ups []*url.URL) error {
	var errs []error
	for _, up := range ups {
		err := upstreamAnswers(ctx, rt, up)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// upstreamList is the --upstream flag: its default until it is given, then
// every value given.
type upstreamList struct {
	urls stringList
	set  bool
}

func (l *upstreamList) String() string { return l.urls.String() }

func (l *upstreamList) Set(v string) error {
	if !l.set {
		l.urls, l.set = nil, true
	}
	return l.urls.Set(v)
}

// upstreamAnswers reports whether the upstream answers a HEAD of its root
// (any status will do: it is there), for the edge's /readyz.
func upstreamAnswers(ctx context.Context, rt http.RoundTripper, up *url.URL) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, up.ResolveReference(&url.URL{Path: "/"}).String(), nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", up, err)
	}
	resp.Body.Close()
	return nil
}
