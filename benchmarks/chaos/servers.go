package chaos

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/launch"
)

// Names of the three servers, as the schedule and the report name them.
const (
	Origin = "origin"
	Edge1  = "edge1" // the edge in front of the origin
	Edge2  = "edge2" // the edge in front of edge1
)

// Users of the origin: alice posts the notes everyone follows.
const (
	user      = "alice"
	userToken = "alice-token"
	// loopback is where everything listens and subscribes from.
	loopback = "127.0.0.1"
)

// restartAttempts bounds how many times a killed server is started again
// before the run gives up (an address still held, say).
const restartAttempts = 5

// server is one server process that the run kills and starts again: the
// same role, the same flags, the same addresses and the same data
// directory every time.
type server struct {
	name, role string
	dataDir    string
	// flags are the role's flags but the addresses, which the first start
	// chooses and every later one keeps.
	flags  []string
	stderr io.Writer

	// Where it listens and the CA that signed its certificate (kept in
	// its data directory): chosen by the first start, the same after it.
	tlsAddr, plainAddr, metricsAddr string
	caFile                          string

	mu   sync.Mutex
	proc *launch.Process // nil while it is down
}

func newServer(name, role, dir string, stderr io.Writer, flags ...string) *server {
	return &server{name: name, role: role, dataDir: filepath.Join(dir, name), flags: flags, stderr: stderr}
}

// start runs the server, on new addresses the first time and on the same
// ones afterwards.
func (s *server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	listen, plain, metrics := s.tlsAddr, s.plainAddr, s.metricsAddr
	if listen == "" {
		listen, plain, metrics = loopback+":0", loopback+":0", loopback+":0"
	}
	args := append([]string{"--listen", listen, "--listen-plain", plain, "--metrics", metrics, "--data", s.dataDir}, s.flags...)
	var err error
	for range restartAttempts {
		var p *launch.Process
		p, err = launch.Start(ctx, s.role, launch.Options{Stderr: s.stderr}, args...)
		if err == nil {
			s.proc = p
			if s.tlsAddr == "" {
				// Set once, before anyone reads them; a restart keeps them.
				s.tlsAddr, s.plainAddr, s.metricsAddr, s.caFile = p.TLSAddr, p.PlainAddr, p.MetricsAddr, p.CAFile
			}
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("starting %s: %w", s.name, err)
}

// kill ends the process at once, as a crash would (SIGKILL).
func (s *server) kill() {
	if p := s.take(); p != nil {
		p.Kill()
	}
}

// stop ends the process gracefully, if it runs.
func (s *server) stop() {
	if p := s.take(); p != nil {
		p.Stop()
	}
}

// take returns the running process, if any, which is no longer running
// from then on as far as others can tell.
func (s *server) take() *launch.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	s.proc = nil
	return p
}

// process is the running process, or nil while it is down.
func (s *server) process() *launch.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// url is the server's TLS URL for path; plainURL its cleartext one.
func (s *server) url(path string) string      { return "https://" + s.tlsAddr + path }
func (s *server) plainURL(path string) string { return "http://" + s.plainAddr + path }

// metric sums a metric family of the running process (0 while it is down).
func (s *server) metric(name string) float64 { return s.metricWith(name, "") }

// metricWith sums the samples of a metric family of the running process
// whose labels include labels (`reason="stalled"`; "" for all).
func (s *server) metricWith(name, labels string) float64 {
	p := s.process()
	if p == nil {
		return 0
	}
	samples, _ := p.Metrics(name)
	var n float64
	for l, v := range samples {
		if strings.Contains(l, labels) {
			n += v
		}
	}
	return n
}

// tiers are the three servers, started in order.
type tiers struct {
	origin, edge1, edge2 *server
}

// byName returns the server called name.
func (t *tiers) byName(name string) *server {
	switch name {
	case Origin:
		return t.origin
	case Edge1:
		return t.edge1
	}
	return t.edge2
}

// startTiers starts the origin, an edge in front of it whose upstream is
// HTTP/3 (so that a killed origin is noticed by QUIC's idle timeout) and
// an edge in front of that edge over HTTP/2. Every subscriber comes from
// the loopback address, so no per-client bound applies but the edges'
// bound on the upstream subscriptions one client makes them open; each
// server trusts the loopback address's Forwarded, so that that bound and
// the origin's count the client behind an edge.
func startTiers(ctx context.Context, dir string, stderr io.Writer, maxUpstreams int) (*tiers, error) {
	common := []string{"--max-per-client", "-1", "--trusted-proxy", loopback + "/32", "--log-level", "warn"}
	t := &tiers{}
	t.origin = newServer(Origin, "origin", dir, stderr, append(common, "--user", user+":"+userToken,
		"--revocation-check", revocationCheck.String())...)
	if err := t.origin.start(ctx); err != nil {
		return nil, err
	}
	edgeFlags := func(up *server, http string) []string {
		return append(append([]string(nil), common...), "--upstream", up.url(""), "--upstream-cacert", up.caFile,
			"--upstream-http", http, "--max-upstreams-per-client", fmt.Sprint(maxUpstreams),
			"--auth-max-age", authMaxAge.String())
	}
	t.edge1 = newServer(Edge1, "edge", dir, stderr, edgeFlags(t.origin, "3")...)
	if err := t.edge1.start(ctx); err != nil {
		t.stop()
		return nil, err
	}
	t.edge2 = newServer(Edge2, "edge", dir, stderr, edgeFlags(t.edge1, "2")...)
	if err := t.edge2.start(ctx); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// stop ends every server, the outermost first.
func (t *tiers) stop() {
	for _, s := range []*server{t.edge2, t.edge1, t.origin} {
		if s != nil {
			s.stop()
		}
	}
}
