package edge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/subpub/subpub/wire"
)

// Defaults of the bound on catch-up subscriptions (Edge.CatchUpRate and
// Edge.CatchUpBurst). A catch-up costs the upstream a replay from its log,
// which collapsing does not share; a client can ask for one with every
// request by sending Last-Event-IDs the ring does not hold (random ones,
// say). Fifty a second, in bursts of a hundred, is far more than
// subscribers resuming honestly need once catch-ups from the same position
// are shared, and bounds what the others cost the upstream whatever they
// send.
const (
	DefaultCatchUpRate  = 50
	DefaultCatchUpBurst = 100
)

// Outcomes of a subscriber's need to catch up upstream, for
// Metrics.CatchUp.
const (
	// CatchUpOpened: a new upstream catch-up subscription was opened for
	// it.
	CatchUpOpened = "opened"
	// CatchUpShared: it reads one that was open already, opened from the
	// same id or holding it.
	CatchUpShared = "shared"
	// CatchUpRefused: it would have needed a new one past the edge's
	// bound, and got 503.
	CatchUpRefused = "refused"
)

// catchUpLimiter is the token bucket of Edge.CatchUpRate, or nil for no
// bound.
func (e *Edge) catchUpLimiter() *rate.Limiter {
	e.catchUpLimitOnce.Do(func() {
		if e.CatchUpRate < 0 {
			return
		}
		r := e.CatchUpRate
		burst := e.CatchUpBurst
		if r == 0 {
			r = DefaultCatchUpRate
			if burst <= 0 {
				burst = DefaultCatchUpBurst
			}
		}
		e.catchUpLimit = rate.NewLimiter(rate.Limit(r), max(burst, 1))
	})
	return e.catchUpLimit
}

// admitCatchUp takes a token for a new upstream catch-up subscription, or
// refuses with 503 and a Retry-After past the moment the bucket has one
// again, spread at random over the time it takes to refill, so that the
// refused subscribers do not come back at the same moment.
func (e *Edge) admitCatchUp() error {
	lim := e.catchUpLimiter()
	if lim == nil {
		return nil
	}
	now := time.Now()
	r := lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if r.OK() && delay == 0 {
		return nil
	}
	r.CancelAt(now)
	refill := time.Duration(float64(lim.Burst()) / float64(lim.Limit()) * float64(time.Second))
	retry := max(time.Second, delay) + rand.N(max(refill, time.Second))
	return &wire.StatusError{
		Status:     http.StatusServiceUnavailable,
		RetryAfter: retry,
		Detail: fmt.Sprintf("this edge opens at most %s upstream catch-up subscriptions a second (for Last-Event-IDs it does not hold), and has none free; retry later, or subscribe without Last-Event-ID",
			formatRate(float64(lim.Limit()))),
	}
}

func formatRate(r float64) string {
	if r == math.Trunc(r) {
		return fmt.Sprintf("%d", int64(r))
	}
	return fmt.Sprintf("%.2f", r)
}
