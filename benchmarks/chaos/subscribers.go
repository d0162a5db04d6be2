package chaos

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
)

// Where the subscribers connect, as parts of the whole: most through both
// edges, some at the first edge, a few at the origin itself.
var placements = []struct {
	server string
	share  float64
}{{Edge2, 0.7}, {Edge1, 0.2}, {Origin, 0.1}}

// Defaults of the subscribers.
const (
	// perClient is how many subscriptions share one client, and so one
	// HTTP/2 or HTTP/3 connection (HTTP/1.1 has one connection each).
	perClient = 100
	// startingAtOnce bounds the clients connecting at the same time, so
	// that the servers' listen backlogs do not overflow.
	startingAtOnce = 8
	// openTimeout bounds the wait for the subscribers to be established.
	openTimeout = 2 * time.Minute
)

// path lists the servers an event crosses to reach a subscriber at server.
func path(server string) []string {
	switch server {
	case Edge2:
		return []string{Edge2, Edge1, Origin}
	case Edge1:
		return []string{Edge1, Origin}
	}
	return []string{Origin}
}

// delivery is one event as a subscriber received it.
type delivery struct {
	Received
	recv time.Time
	pub  time.Time // its publish time, as the event says
}

// subscriber follows the outbox with subpub's client, which resumes with
// Last-Event-ID after any failure, and records every event it receives.
type subscriber struct {
	server string
	way    testkit.Way

	mu       sync.Mutex
	got      []delivery
	badIDs   int // ids that are not the origin's sequence numbers
	opened   int
	retries  int
	lastFail string
	ended    error // what Run returned, if it returned
}

func (s *subscriber) onEvent(e client.Event) {
	id, err := strconv.ParseUint(e.ID, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.badIDs++
		return
	}
	s.got = append(s.got, delivery{Received: Received{ID: id, Gap: e.IsGap()}, recv: e.Received, pub: e.Time})
}

// received is the ids it received, in order.
func (s *subscriber) received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.got))
	for i, d := range s.got {
		out[i] = d.Received
	}
	return out
}

// has reports whether it received the event id.
func (s *subscriber) has(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.got) - 1; i >= 0; i-- {
		if s.got[i].ID == id {
			return true
		}
	}
	return false
}

// firstPublishedSince is when it received the first event published at or
// after t, and whether it did.
func (s *subscriber) firstPublishedSince(t time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.got {
		if !d.Gap && !d.pub.Before(t.Truncate(time.Millisecond)) && d.recv.After(t) {
			return d.recv, true
		}
	}
	return time.Time{}, false
}

func (s *subscriber) isOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened > 0
}

// population is every subscriber of the run.
type population struct {
	subs   []*subscriber
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	clients []*client.Client
}

// startPopulation subscribes n subscribers to the outbox, shared among
// the servers as placements says and at each among the six ways (SUB and
// SSE over HTTP/1.1, HTTP/2 and HTTP/3), and waits until each is
// established.
func startPopulation(ctx context.Context, t *tiers, n int) (*population, error) {
	ctx, cancel := context.WithCancel(ctx)
	p := &population{cancel: cancel}
	var groups [][]*subscriber
	left := n
	for i, pl := range placements {
		count := int(float64(n)*pl.share + 0.5)
		if i == len(placements)-1 {
			count = left
		}
		left -= count
		for w, way := range testkit.EveryWay {
			k := count / len(testkit.EveryWay)
			if w < count%len(testkit.EveryWay) {
				k++
			}
			for k > 0 {
				size := min(k, perClient)
				var g []*subscriber
				for range size {
					s := &subscriber{server: pl.server, way: way}
					g = append(g, s)
					p.subs = append(p.subs, s)
				}
				groups = append(groups, g)
				k -= size
			}
		}
	}
	slots := make(chan struct{}, startingAtOnce)
	errs := make(chan error, len(groups))
	for _, g := range groups {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			errs <- p.startGroup(ctx, t.byName(g[0].server), g)
		}()
	}
	for range groups {
		if err := <-errs; err != nil {
			p.stop()
			return nil, err
		}
	}
	if !waitUntil(ctx, openTimeout, func() bool { return p.opened() == len(p.subs) }) {
		p.stop()
		return nil, fmt.Errorf("%d of %d subscribers established after %v", p.opened(), len(p.subs), openTimeout)
	}
	return p, nil
}

// startGroup runs the subscriptions of g on one client: the first alone,
// so that the others find its connection rather than each dialling one.
func (p *population) startGroup(ctx context.Context, srv *server, g []*subscriber) error {
	opts := g[0].way.Options
	opts.CAFile = srv.caFile
	c, err := client.New(opts)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.clients = append(p.clients, c)
	p.mu.Unlock()
	url := srv.url(outboxPath)
	for i, s := range g {
		p.wg.Add(1)
		go p.follow(ctx, c, url, s)
		if i == 0 && !waitUntil(ctx, openTimeout, s.isOpen) {
			return fmt.Errorf("%s at %s: not established after %v (%s)", s.way.Name, s.server, openTimeout, s.lastFailure())
		}
	}
	return nil
}

func (s *subscriber) lastFailure() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastFail
}

// follow runs one subscription until the run ends.
func (p *population) follow(ctx context.Context, c *client.Client, url string, s *subscriber) {
	defer p.wg.Done()
	err := c.Run(ctx, &client.Subscription{
		URL:     url,
		OnEvent: s.onEvent,
		OnOpen: func(client.Open) {
			s.mu.Lock()
			s.opened++
			s.mu.Unlock()
		},
		OnRetry: func(err error, _ time.Duration) {
			s.mu.Lock()
			s.retries++
			s.lastFail = err.Error()
			s.mu.Unlock()
		},
	})
	if ctx.Err() == nil {
		s.mu.Lock()
		s.ended = err
		s.mu.Unlock()
	}
}

func (p *population) opened() int {
	n := 0
	for _, s := range p.subs {
		if s.isOpen() {
			n++
		}
	}
	return n
}

// stop ends every subscription and closes the clients.
func (p *population) stop() {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Close()
	}
}

// waitUntil polls cond, which nothing can announce (another process's
// state, many subscribers'), until it holds, within d or ctx; it reports
// whether it held.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
