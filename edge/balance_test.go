package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
)

// healthRecorder keeps the last health the edge reported of each upstream.
type healthRecorder struct {
	discardMetrics
	mu      sync.Mutex
	healthy map[string]bool
}

func (h *healthRecorder) UpstreamHealth(upstream string, healthy bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.healthy == nil {
		h.healthy = map[string]bool{}
	}
	h.healthy[upstream] = healthy
}

func (h *healthRecorder) of(upstream string) (healthy, known bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	healthy, known = h.healthy[upstream]
	return healthy, known
}

func TestBalancerSpreadsAndMovesOnlyWhatAFailedUpstreamServed(t *testing.T) {
	var bases []*url.URL
	for i := range 3 {
		bases = append(bases, mustParse(fmt.Sprintf("http://127.0.0.%d:8080/base", i+1)))
	}
	health := &healthRecorder{}
	b := newBalancer(bases, time.Hour, time.Hour, func() Metrics { return health })
	keys := make([]string, 300)
	before := map[string]*upstreamHost{}
	served := map[*upstreamHost]int{}
	for i := range keys {
		keys[i] = fmt.Sprintf("/users/u%d/outbox", i)
		h, healthy := b.pick(keys[i], nil)
		if !healthy {
			t.Fatalf("%s: no healthy upstream among healthy ones", keys[i])
		}
		before[keys[i]] = h
		served[h]++
	}
	for _, h := range b.hosts {
		if served[h] < 50 {
			t.Errorf("%s serves %d of %d keys: not spread (%v)", h.name, served[h], len(keys), served)
		}
	}

	down := b.hosts[1]
	b.observe(down, http.StatusBadGateway, nil)
	if healthy, _ := health.of(down.name); healthy {
		t.Errorf("%s answered 502 and is still reported healthy", down.name)
	}
	for _, k := range keys {
		h, healthy := b.pick(k, nil)
		switch {
		case !healthy || h == down:
			t.Fatalf("%s goes to %s, which is down", k, h.name)
		case before[k] != down && h != before[k]:
			t.Fatalf("%s moved from %s to %s though its upstream did not fail", k, before[k].name, h.name)
		}
	}
	// An answer below 500 is the upstream working.
	b.observe(down, http.StatusNotFound, nil)
	if healthy, _ := health.of(down.name); !healthy {
		t.Errorf("%s answered 404 and is still reported down", down.name)
	}
	for _, k := range keys {
		if h, _ := b.pick(k, nil); h != before[k] {
			t.Fatalf("%s goes to %s, not back to %s", k, h.name, before[k].name)
		}
	}
	for _, h := range b.hosts {
		b.failed(h)
	}
	if _, healthy := b.pick(keys[0], nil); healthy {
		t.Errorf("every upstream failed and pick still says its choice is healthy")
	}
}

func TestBalancerMovesUnderAnotherBase(t *testing.T) {
	b := newBalancer([]*url.URL{mustParse("https://a.example/base/"), mustParse("http://b.example:8080/other")}, 0, 0, func() Metrics { return discardMetrics{} })
	for _, tc := range []struct{ in, want string }{
		{"https://a.example/base/users/alice/outbox?min_id=3", "http://b.example:8080/other/users/alice/outbox?min_id=3"},
		{"https://a.example/base/", "http://b.example:8080/other/"},
	} {
		if got := b.at(tc.in, b.hosts[1]); got != tc.want {
			t.Errorf("at(%s) = %s, want %s", tc.in, got, tc.want)
		}
		if got := b.at(tc.in, b.hosts[0]); got != tc.in {
			t.Errorf("at(%s) on the first upstream = %s", tc.in, got)
		}
	}
}

// TestEdgeFailsOverToAnotherUpstream runs an edge in front of two origins
// serving one log. Its subscribers' shared upstream subscription is on one;
// when that one shuts down, the subscription resumes on the other from its
// last id: every subscriber receives every event once, in order. Before, a
// subscription and a GET through an edge whose first upstream refuses
// connections go to the second.
func TestEdgeFailsOverToAnotherUpstream(t *testing.T) {
	for _, tc := range []struct {
		name string
		more bool // the second origin is an upstream too
	}{
		{"two upstreams", true},
		{"one upstream (negative control: nothing to fail over to)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testkit.NewOrigin(t, nil)
			b := a.NewReplica(nil)
			health := &healthRecorder{}
			e := newTestEdge(t, a.URL(), a.CA.CAFile, func(e *Edge) {
				if tc.more {
					e.MoreUpstreams = []*url.URL{b.URL()}
				}
				e.Metrics = health
				e.UpstreamBackoff = time.Hour // what failed stays out
			})
			var subs []*testkit.Follower
			for _, way := range testkit.EveryWay {
				opts := way.Options
				opts.CAFile = e.ca.CAFile
				opts.Reconnect = client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
				c := testkit.NewClient(t, opts)
				for range 5 {
					s := testkit.Follow(t, c, e.url("/public/news"), "", nil)
					s.Name = way.Name
					subs = append(subs, s)
				}
			}
			for _, s := range subs {
				s.WaitOpen(t)
			}
			serving, other := a, b
			if b.Active() == 1 {
				serving, other = b, a
			}
			if serving.Active() != 1 || other.Active() != 0 {
				t.Fatalf("origins serve %d and %d subscriptions, want one upstream subscription in all", a.Active(), b.Active())
			}
			first := a.Log.Last() + 1
			for i := range 10 {
				other.Publish("/public/news", fmt.Sprintf(`{"n":%d}`, i))
			}
			for _, s := range subs {
				s.WaitCount(t, 10)
			}
			serving.Stop()
			for i := 10; i < 20; i++ {
				other.Publish("/public/news", fmt.Sprintf(`{"n":%d}`, i))
			}
			if !tc.more {
				// The edge keeps trying its only upstream: nobody gets
				// what was published after it went away.
				time.Sleep(500 * time.Millisecond)
				for _, s := range subs {
					if n := len(s.IDs()); n != 10 {
						t.Fatalf("%s received %d events with its only upstream gone, want the 10 from before", s.Name, n)
					}
				}
				return
			}
			for _, s := range subs {
				assertSequence(t, s.Name, s.WaitCount(t, 20), first)
			}
			if other.Active() != 1 {
				t.Errorf("the remaining origin serves %d subscriptions, want 1", other.Active())
			}
			if healthy, known := health.of(serving.URL().String()); !known || healthy {
				t.Errorf("%s stopped and is reported healthy=%v (known %v)", serving.URL(), healthy, known)
			}
		})
	}
}

// TestEdgeGoesAroundARefusingUpstream puts an edge in front of an upstream
// that refuses connections and a working one: subscriptions to streams the
// balancer puts on the first are opened on the second before any subscriber
// is answered, GETs sent to the first are sent again to the second, and the
// first is reported down.
func TestEdgeGoesAroundARefusingUpstream(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	dead := &url.URL{Scheme: "https", Host: testkit.ClosedPort(t)}
	health := &healthRecorder{}
	e := newTestEdge(t, dead, o.CA.CAFile, func(e *Edge) {
		e.MoreUpstreams = []*url.URL{o.URL()}
		e.Metrics = health
		e.UpstreamBackoff = time.Hour
	})
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
	var subs []*testkit.Follower
	for i := range 10 {
		s := testkit.Follow(t, c, e.url(fmt.Sprintf("/public/s%d", i)), "", nil)
		s.WaitOpen(t)
		subs = append(subs, s)
	}
	first := o.Log.Last() + 1
	for i, s := range subs {
		o.Publish(fmt.Sprintf("/public/s%d", i), "{}")
		if got := s.WaitCount(t, 1); !slices.Equal(got, []string{fmt.Sprint(first + uint64(i))}) {
			t.Errorf("subscriber %d received %v", i, got)
		}
	}
	// GETs (here of unknown paths, which the origin answers 404) go to
	// the working upstream, or are sent there again.
	for i := range 20 {
		resp, err := c.RoundTrip(mustRequest(t, e.url(fmt.Sprintf("/nowhere/%d", i))))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET through the edge: %d %s, want the origin's 404", resp.StatusCode, body)
		}
	}
	if healthy, known := health.of(dead.String()); !known || healthy {
		t.Errorf("the refusing upstream is reported healthy=%v (known %v)", healthy, known)
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
