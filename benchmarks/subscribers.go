package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Target says where and how the load generator subscribes.
type Target struct {
	// Reader is ReaderLean (HTTP/1.1 SSE read straight off a cleartext
	// socket) or ReaderClient (subpub's client, any mode and version).
	Reader string `json:"reader"`
	// Addr and Path locate the stream for the lean reader.
	Addr string `json:"addr,omitempty"`
	Path string `json:"path,omitempty"`
	// URL, Mode ("sub" or "sse"), HTTP ("1.1", "2" or "3"), CAFile and
	// ServerName configure the client.
	URL        string `json:"url,omitempty"`
	Mode       string `json:"mode,omitempty"`
	HTTP       string `json:"http,omitempty"`
	CAFile     string `json:"ca_file,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	// PerConnection is how many subscriptions share one client (and so one
	// HTTP/2 or HTTP/3 connection). HTTP/1.1 uses one connection each
	// whatever it says.
	PerConnection int `json:"per_connection,omitempty"`
}

// Readers of a Target.
const (
	ReaderLean   = "lean"
	ReaderClient = "client"
)

// groupSize is how many subscribers share a recorder: the subscriptions of
// one client, or this many HTTP/1.1 connections.
func (t Target) groupSize() int {
	if t.Reader == ReaderClient && t.PerConnection > 0 {
		return t.PerConnection
	}
	return 100
}

// maxConcurrentGroups bounds how many groups connect at once: more would
// overflow the servers' listen backlog and cost SYN retransmissions (a
// second each), which is not what is being measured.
const maxConcurrentGroups = 8

// subscribers are n subscriptions to a Target, each group recording into
// its own recorder.
type subscribers struct {
	target Target
	recs   recorders
	cancel context.CancelFunc
	done   sync.WaitGroup
	n      int
}

// subscribe starts n subscriptions and returns once they are all
// established, or fails after timeout (the subscriptions keep trying until
// stop).
func subscribe(ctx context.Context, t Target, n int, timeout time.Duration) (*subscribers, error) {
	size := t.groupSize()
	groups := (n + size - 1) / size
	ctx, cancel := context.WithCancel(ctx)
	s := &subscribers{target: t, recs: newRecorders(groups), cancel: cancel, n: n}
	var start func(context.Context, int, *recorder) error
	switch t.Reader {
	case ReaderLean:
		start = s.startLean
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
		s.stop()
		return nil, err
	}
	for s.recs.opened() < int64(n) {
		if time.Now().After(deadline) {
			opened := s.recs.opened()
			s.stop()
			return nil, fmt.Errorf("benchmarks: %d of %d subscriptions established after %v", opened, n, timeout)
		}
		select {
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s, nil
}

// stop ends every subscription and waits for their readers.
func (s *subscribers) stop() {
	s.cancel()
	s.done.Wait()
}

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
