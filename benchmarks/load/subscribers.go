package load

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/subpub/subpub/benchmarks/stats"
)

// Target says where and how the load generator subscribes.
type Target struct {
	// Reader is ReaderLean or ReaderClient (subpub's client, any mode and
	// version). The lean reader reads HTTP/1.1 SSE straight off a
	// cleartext socket when HTTP is empty or "1.1", and SUB or SSE over
	// HTTP/2 or HTTP/3 off connections it owns otherwise (see lean_mux.go).
	Reader string `json:"reader"`
	// Addr and Path locate the stream for the lean HTTP/1.1 reader.
	Addr string `json:"addr,omitempty"`
	Path string `json:"path,omitempty"`
	// URL, Mode ("sub" or "sse"), HTTP ("1.1", "2" or "3"), CAFile and
	// ServerName configure the client and the lean HTTP/2 and HTTP/3
	// reader.
	URL        string `json:"url,omitempty"`
	Mode       string `json:"mode,omitempty"`
	HTTP       string `json:"http,omitempty"`
	CAFile     string `json:"ca_file,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	// PerConnection is how many subscriptions share one HTTP/2 or HTTP/3
	// connection (one client, or one connection of the lean reader).
	// HTTP/1.1 uses one connection each whatever it says.
	PerConnection int `json:"per_connection,omitempty"`
}

// Readers of a Target.
const (
	ReaderLean   = "lean"
	ReaderClient = "client"
)

// groupSize is how many subscribers share a recorder: the subscriptions of
// one client or of one lean HTTP/2 or HTTP/3 connection, or this many
// HTTP/1.1 connections.
func (t Target) groupSize() int {
	if (t.Reader == ReaderClient || t.leanMux()) && t.PerConnection > 0 {
		return t.PerConnection
	}
	return 100
}

// leanMux reports whether the lean reader reads t over HTTP/2 or HTTP/3.
func (t Target) leanMux() bool {
	return t.Reader == ReaderLean && (t.HTTP == "2" || t.HTTP == "3")
}

// rootCAs are the certificates of t.CAFile, or nil (the system's) if it is
// empty.
func (t Target) rootCAs() (*x509.CertPool, error) {
	if t.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("benchmarks: no certificate in %s", t.CAFile)
	}
	return pool, nil
}

// maxConcurrentGroups bounds how many groups connect at once: more would
// overflow the servers' listen backlog and cost SYN retransmissions (a
// second each), which is not what is being measured.
const maxConcurrentGroups = 8

// Subscribers are n subscriptions to a Target, each group recording into
// its own recorder.
type Subscribers struct {
	target Target
	recs   recorders
	cancel context.CancelFunc
	done   sync.WaitGroup
	n      int
}

// Subscribe starts n subscriptions and returns once they are all
// established, or fails after timeout (the subscriptions keep trying until
// Stop).
func Subscribe(ctx context.Context, t Target, n int, timeout time.Duration) (*Subscribers, error) {
	size := t.groupSize()
	groups := (n + size - 1) / size
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscribers{target: t, recs: newRecorders(groups), cancel: cancel, n: n}
	var start func(context.Context, int, *recorder) error
	switch t.Reader {
	case ReaderLean:
		start = s.startLean
		if t.HTTP != "" && t.HTTP != "1.1" {
			start = s.startMux
		}
	case ReaderClient:
		start = s.startClients
	default:
		cancel()
		return nil, fmt.Errorf("benchmarks: unknown reader %q", t.Reader)
	}
	slots := make(chan struct{}, maxConcurrentGroups)
	deadline := time.Now().Add(timeout)
	var setup sync.WaitGroup
	errs := make(chan error, groups)
	for g := range groups {
		count := min(size, n-g*size)
		slots <- struct{}{}
		setup.Go(func() {
			defer func() { <-slots }()
			if err := start(ctx, count, s.recs[g]); err != nil {
				errs <- err
			}
		})
	}
	setup.Wait()
	close(errs)
	if err := <-errs; err != nil {
		s.Stop()
		return nil, err
	}
	for s.recs.opened() < int64(n) {
		if time.Now().After(deadline) {
			opened := s.recs.opened()
			s.Stop()
			return nil, fmt.Errorf("benchmarks: %d of %d subscriptions established after %v", opened, n, timeout)
		}
		select {
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s, nil
}

// Stop ends every subscription and waits for their readers.
func (s *Subscribers) Stop() {
	s.cancel()
	s.done.Wait()
}

// SetWindow sets the window whose events count, once the subscriptions are
// established and before any event of it can be published.
func (s *Subscribers) SetWindow(w Window) { s.recs.setWindow(w) }

// Delivered counts the window's events received, all subscriptions
// together.
func (s *Subscribers) Delivered() int64 { return s.recs.delivered() }

// Failures counts the attempts to subscribe that ended in an error.
func (s *Subscribers) Failures() int64 { return s.recs.failures() }

// Bytes counts what the readers read off their connections, where they
// can count it (the lean reader: TCP payload over HTTP/1.1 and HTTP/2,
// TLS included; QUIC stream data over HTTP/3).
func (s *Subscribers) Bytes() int64 { return s.recs.bytes() }

// Latency is the distribution of the window's deliveries so far.
func (s *Subscribers) Latency() stats.Latency { return s.recs.latency() }

// waitOpened waits until rec counts want established subscriptions.
func waitOpened(ctx context.Context, rec *recorder, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for rec.opened.Load() < want {
		if time.Now().After(deadline) {
			return errors.New("benchmarks: subscriptions not established in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
