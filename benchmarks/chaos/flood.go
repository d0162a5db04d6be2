package chaos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/wire"
)

// Defaults of the query-string flood.
const (
	// flooder is the address the flood comes from: another client than
	// the subscribers (the loopback network is 127.0.0.0/8).
	flooder = "127.0.0.2"
	// floodWorkers is how many flood requests are in flight at once: twice
	// the edges' default bound on one client's upstream subscriptions, so
	// that the flood can reach it.
	floodWorkers = 200
	// legitEvery is how often a legitimate subscriber joins the flooded
	// server meanwhile.
	legitEvery = 250 * time.Millisecond
	// metricsEvery is how often the servers' subscription counts are read
	// during the flood.
	metricsEvery = 100 * time.Millisecond
)

// FloodResult is what one server did with a flood of subscriptions to the
// outbox, each with a distinct query string (?x=N).
type FloodResult struct {
	Server   string `json:"server"`
	Requests int    `json:"requests"`
	// Answers counts the final statuses by code, "stream" the requests
	// whose subscription was established (none should be), "error" those
	// that got no answer.
	Answers map[string]int `json:"answers"`
	// The flooded server's shared upstream subscriptions (edges) and the
	// origin's active subscriptions, before the flood and at most during
	// it, read from their metrics.
	UpstreamsBefore    float64 `json:"upstreams_before"`
	UpstreamsMax       float64 `json:"upstreams_max"`
	OriginActiveBefore float64 `json:"origin_active_before"`
	OriginActiveMax    float64 `json:"origin_active_max"`
	// Legitimate subscribers that joined the flooded server meanwhile
	// from the subscribers' address, and how many were established.
	LegitJoins    int     `json:"legit_joins"`
	LegitAdmitted int     `json:"legit_admitted"`
	Seconds       float64 `json:"seconds"`
	Pass          bool    `json:"pass"`
}

// flood sends n subscriptions with distinct query strings to srv from the
// flooder's address, in cleartext over HTTP/1.1, while legitimate
// subscribers join srv. The origin must refuse each with 400 (a stream is
// named by its path); an edge relays that 400, or refuses with 429 once the
// flooder holds maxUpstreams upstream subscriptions, so that it never holds
// more than that for the flooder.
func flood(ctx context.Context, t *tiers, srv *server, n, maxUpstreams int) FloodResult {
	res := FloodResult{Server: srv.name, Requests: n, Answers: map[string]int{}}
	// Only shared upstream subscriptions count against the bound (a
	// catch-up is the edge's own doing).
	upstreams := func() float64 { return srv.metricWith("subpub_edge_upstream_subscriptions", `kind="shared"`) }
	originActive := func() float64 { return t.origin.metric("subpub_origin_subscriptions_active") }
	res.UpstreamsBefore, res.OriginActiveBefore = upstreams(), originActive()
	res.UpstreamsMax, res.OriginActiveMax = res.UpstreamsBefore, res.OriginActiveBefore

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var watching sync.WaitGroup
	watching.Go(func() {
		for ctx.Err() == nil {
			res.UpstreamsMax = max(res.UpstreamsMax, upstreams())
			res.OriginActiveMax = max(res.OriginActiveMax, originActive())
			time.Sleep(metricsEvery)
		}
	})
	began := time.Now()
	var flooding atomic.Bool
	flooding.Store(true)
	legit := make(chan []joinAttempt, 1)
	go func() {
		legit <- joinWhile(ctx, srv, &flooding)
	}()

	transport := &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(flooder)}}).DialContext,
		MaxIdleConnsPerHost: floodWorkers,
	}
	defer transport.CloseIdleConnections()
	var (
		mu   sync.Mutex
		next atomic.Int64
		work sync.WaitGroup
	)
	for range floodWorkers {
		work.Go(func() {
			for i := int(next.Add(1)); i <= n && ctx.Err() == nil; i = int(next.Add(1)) {
				answer := floodOnce(ctx, transport, srv.plainURL(outboxPath+"?x="+strconv.Itoa(i)))
				mu.Lock()
				res.Answers[answer]++
				mu.Unlock()
			}
		})
	}
	work.Wait()
	res.Seconds = time.Since(began).Seconds()
	flooding.Store(false)
	for _, a := range <-legit {
		res.LegitJoins++
		if a.admitted {
			res.LegitAdmitted++
		}
	}
	cancel()
	watching.Wait()

	// Every request refused: by the origin (400, which an edge relays), or
	// by an edge once the flooder holds its bound (429); and the origin
	// never held subscriptions for the flood (each would have been one),
	// nor the legitimate subscribers turned away. How many 429s, and the
	// edge's upstream subscriptions read meanwhile, are figures, not the
	// judge: whether the flood reaches the bound depends on how fast the
	// origin refuses, and the edge frees a slot as an upstream
	// subscription ends, before its gauge counts it closed (when its
	// goroutine returns), so the gauge may read above the bound: by 18
	// once on a loaded 2-core machine.
	refused := res.Answers["400"]
	if srv != t.origin {
		refused += res.Answers["429"]
	}
	res.Pass = refused == n && res.OriginActiveMax <= res.OriginActiveBefore+float64(maxUpstreams) &&
		res.LegitJoins > 0 && res.LegitAdmitted == res.LegitJoins
	return res
}

// floodOnce sends one SUB and says what answered it: the final status, or
// "stream" if the subscription was established, or "error".
func floodOnce(ctx context.Context, rt http.RoundTripper, url string) string {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	var established atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == wire.StatusNoOperation {
				established.Store(true)
				cancel()
			}
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, wire.MethodSUB, url, nil)
	if err != nil {
		return "error"
	}
	resp, err := rt.RoundTrip(req)
	if established.Load() {
		return "stream"
	}
	if err != nil {
		return "error"
	}
	resp.Body.Close()
	return fmt.Sprint(resp.StatusCode)
}

// joinWhile has legitimate subscribers join srv's outbox every legitEvery
// while flooding holds.
func joinWhile(ctx context.Context, srv *server, flooding *atomic.Bool) []joinAttempt {
	var all []joinAttempt
	for flooding.Load() && ctx.Err() == nil {
		all = append(all, joinRepeatedly(ctx, srv, nil, time.Now(), legitEvery, legitEvery)...)
	}
	return all
}
