package conformance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/stream"
)

// Defaults of Config.
const (
	// DefaultKeepAlive is the keepalive interval the draft recommends,
	// which the suite expects unless told the server's: the one subpub's
	// servers send.
	DefaultKeepAlive = stream.DefaultKeepAlive
	// DefaultTimeout bounds each wait for something the server should send
	// (an acknowledgement, an event): past it, the check fails.
	DefaultTimeout = 10 * time.Second
	// DefaultWait is how long an intermediary run waits for someone to
	// point the intermediary at the scripted upstream.
	DefaultWait = 2 * time.Minute
	// largePayload is the size of the event published to see it sent by
	// reference: above the 4096 bytes the draft recommends as threshold.
	largePayload = 12 << 10
	// smallEvents is how many small events the main round publishes.
	smallEvents = 3
)

// Config says what to test and how.
type Config struct {
	// URL is the stream under test (origin role), or the intermediary's
	// base URL (intermediary role).
	URL string
	// Publisher makes the server publish on URL's stream (origin role).
	Publisher Publisher
	// Header holds request fields sent with every subscription (the
	// credentials a stream needs).
	Header http.Header

	// TLS: TLSConfig as is, or CAFile to trust, or Insecure.
	TLSConfig *tls.Config
	CAFile    string
	Insecure  bool

	// KeepAlive is the keepalive interval the server is configured with.
	// Default DefaultKeepAlive.
	KeepAlive time.Duration
	// Timeout bounds every wait. Default DefaultTimeout.
	Timeout time.Duration
	// GapID is a Last-Event-ID the server cannot replay from (expired or
	// unknown). Default: when the stream's ids are decimal, one far past
	// the newest, which no server can have issued yet.
	GapID string
	// MissingURL is a URL of the same server with no stream, for the
	// checks of error responses. Default: URL's path with a suffix that
	// names nothing.
	MissingURL string
	// Versions restricts the HTTP versions tried (client.HTTP11, HTTP2,
	// HTTP3). Default: all of them (HTTP/3 for https URLs only).
	Versions []string

	// Upstream is where an intermediary run serves its scripted upstream,
	// "127.0.0.1:0" by default (intermediary role).
	Upstream string
	// Ready, when set, is told the scripted upstream's URL once it
	// listens, before the checks start (intermediary role): a command
	// prints it, a test starts the intermediary pointed at it. It may
	// return the intermediary's base URL, which then replaces URL.
	Ready func(ctx context.Context, upstream string) (string, error)
	// Wait bounds how long an intermediary run waits for the intermediary
	// to relay a subscription to the scripted upstream, once Ready has
	// returned. Default DefaultWait.
	Wait time.Duration
}

func (c *Config) keepAlive() time.Duration {
	return setting.Or(c.KeepAlive, DefaultKeepAlive)
}

func (c *Config) timeout() time.Duration {
	return setting.Or(c.Timeout, DefaultTimeout)
}

// keepAliveTolerance is how much later than the interval a keepalive may
// come and still count as on time: timers and scheduling on a loaded
// machine, and a server that counts idleness from its last write rather than
// from the last keepalive.
func (c *Config) keepAliveTolerance() time.Duration {
	return max(c.keepAlive()/2, time.Second)
}

// suiteRun is one run of the suite: its configuration, its clients (one per HTTP version
// and mode, so that connections are shared as a real client's would be) and
// what the main round observed.
type suiteRun struct {
	cfg  Config
	base *url.URL
	// tls is the TLS configuration of every connection the suite makes.
	tls *tls.Config

	mu      sync.Mutex
	clients map[clientKey]*client.Client

	main *mainRound // origin role
	seq  int        // the last event the run made the server publish
	// gapSub is gap/1's subscription, which began with a gap; gap/2
	// goes on with it.
	gapSub *recording
	// gapFrom is the Last-Event-ID gap/1 resumed from.
	gapFrom string
	mid     *intermediaryRun
}

type clientKey struct {
	version string
	mode    client.Mode
}

// client returns the run's client for an HTTP version and mode.
func (s *suiteRun) client(version string, mode client.Mode) (*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := clientKey{version, mode}
	if c := s.clients[k]; c != nil {
		return c, nil
	}
	c, err := client.New(client.Options{
		Mode: mode, HTTP: version,
		TLSConfig: s.tls,
		Header:    s.cfg.Header,
		Reconnect: client.Reconnect{Disabled: true},
		// The checks judge the order of each stream themselves.
		DeliverOutOfSequence: true,
		// The keepalive checks measure silences themselves.
		KeepAliveTimeout: -1,
	})
	if err != nil {
		return nil, err
	}
	if s.clients == nil {
		s.clients = map[clientKey]*client.Client{}
	}
	s.clients[k] = c
	return c, nil
}

func (s *suiteRun) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.Close()
	}
}

// follow records a subscription to u over version in mode.
func (s *suiteRun) follow(ctx context.Context, version string, mode client.Mode, u, lastID string) (*recording, error) {
	return s.followWith(ctx, version, mode, u, lastID, nil)
}

// followWith is follow with request fields of the subscription's own.
func (s *suiteRun) followWith(ctx context.Context, version string, mode client.Mode, u, lastID string, header http.Header) (*recording, error) {
	c, err := s.client(version, mode)
	if err != nil {
		return nil, err
	}
	return follow(ctx, c, version, mode, u, lastID, header), nil
}

func newSuiteRun(cfg Config) (*suiteRun, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", cfg.URL)
	}
	conf, err := (&client.Options{TLSConfig: cfg.TLSConfig, CAFile: cfg.CAFile, Insecure: cfg.Insecure}).TLS()
	if err != nil {
		return nil, err
	}
	return &suiteRun{cfg: cfg, base: u, tls: conf}, nil
}

// Run tests the server in the origin role whose stream is cfg.URL, making it
// publish through cfg.Publisher, and reports every check of [ServerChecks].
// Its error says only why the run could not be made at all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Publisher == nil {
		return nil, errors.New("no publisher: the suite needs a way to make the server publish")
	}
	s, err := newSuiteRun(cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	report := &Report{Role: "origin", Target: cfg.URL, Started: time.Now().UTC()}
	s.main = s.observe(ctx)
	report.Versions = s.main.offered()
	runChecks(ctx, s, report, ServerChecks())
	return report, nil
}

func runChecks(ctx context.Context, s *suiteRun, report *Report, checks []*Check) {
	for _, c := range checks {
		if ctx.Err() != nil {
			report.add(c, skip("the run was cancelled"))
			continue
		}
		report.add(c, c.run(ctx, s))
	}
}
