package relay

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/subpub/subpub/wire"
)

// Defaults of the bound on catch-up subscriptions (Relay.CatchUpRate and
// Relay.CatchUpBurst). A catch-up costs the upstream a replay from its log,
// which sharing subscriptions does not spare it; a client can ask for one
// with every request by sending Last-Event-IDs the ring does not hold
// (random ones, say). Fifty a second, in bursts of a hundred, is far more than
// subscribers resuming honestly need once catch-ups from the same position
// are shared, and bounds what the others cost the upstream whatever they
// send.
const (
	DefaultCatchUpRate  = 50
	DefaultCatchUpBurst = 100
)

// catchUpLimiter is the token bucket of Relay.CatchUpRate, or nil for no
// bound.
func (r *Relay) catchUpLimiter() *rate.Limiter {
	r.catchUpLimitOnce.Do(func() {
		if r.CatchUpRate < 0 {
			return
		}
		perSecond := r.CatchUpRate
		burst := r.CatchUpBurst
		if perSecond == 0 {
			perSecond = DefaultCatchUpRate
			if burst <= 0 {
				burst = DefaultCatchUpBurst
			}
		}
		r.catchUpLimit = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
	})
	return r.catchUpLimit
}

// admitCatchUp takes a token for a new upstream catch-up subscription, or
// refuses with 503 and a Retry-After past the moment the bucket has one
// again, spread at random over the time it takes to refill, so that the
// refused subscribers do not come back at the same moment.
func (r *Relay) admitCatchUp() error {
	lim := r.catchUpLimiter()
	if lim == nil {
		return nil
	}
	now := time.Now()
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if res.OK() && delay == 0 {
		return nil
	}
	res.CancelAt(now)
	refill := time.Duration(float64(lim.Burst()) / float64(lim.Limit()) * float64(time.Second))
	retry := max(time.Second, delay) + rand.N(max(refill, time.Second))
	return &wire.StatusError{
		Status:     http.StatusServiceUnavailable,
		RetryAfter: retry,
		Detail: fmt.Sprintf("this server opens at most %s upstream catch-up subscriptions a second (for Last-Event-IDs it does not hold), and has none free; retry later, or subscribe without Last-Event-ID",
			formatRate(float64(lim.Limit()))),
	}
}

func formatRate(r float64) string {
	if r == math.Trunc(r) {
		return fmt.Sprintf("%d", int64(r))
	}
	return fmt.Sprintf("%.2f", r)
}
