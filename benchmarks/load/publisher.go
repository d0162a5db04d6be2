package load

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/benchmarks/stats"
	"github.com/subpub/subpub/internal/setting"
)

// Defaults of a publisher.
const (
	// DefaultMaxInFlight bounds concurrent publications: past it a tick is
	// skipped (and counted) rather than queued, so a slow server shows as
	// a lower publish rate, not as a backlog.
	DefaultMaxInFlight = 64
	// defaultBoundaryGuard is how close to a window bound a publication
	// may start; one due later waits for the bound (see Publisher.Run).
	defaultBoundaryGuard = 10 * time.Millisecond
)

// PublishFunc publishes one event. It returns once the server has accepted
// the event (the origin: committed it), which is before any subscriber is
// written to: a publication never waits for the fan-out.
type PublishFunc func(ctx context.Context) error

// Publisher publishes at a steady rate from its own goroutine, each
// publication in a goroutine of its own.
type Publisher struct {
	// Rate is in events per second; Publish publishes one.
	Rate    int
	Publish PublishFunc

	maxInFlight int
	guard       time.Duration
}

// PublishStats describe what a publisher achieved in the window.
type PublishStats struct {
	Requested float64 `json:"requested_per_s"`
	// Achieved is the rate of events published in the window: Published
	// over the window's length.
	Achieved float64 `json:"achieved_per_s"`
	// Published counts the events whose publish time is in the window, as
	// the server logged them (the origin's log, the bare sender's count);
	// where the server cannot say, the publications that started in the
	// window (InWindow).
	Published int64 `json:"published"`
	// InWindow counts the successful publications that started in the
	// window.
	InWindow  int64 `json:"in_window"`
	Errors    int64 `json:"errors"`
	Skipped   int64 `json:"skipped"`
	Straddled int64 `json:"straddled"`
	// Publication latency: from request to acceptance.
	MeanMS float64 `json:"mean_ms"`
	P99MS  float64 `json:"p99_ms"`
}

// Run publishes from now until the end of w and waits for the last
// publications. No publication should straddle a bound of w: one due within
// guard before a bound waits for those in flight to be accepted and starts
// at the bound, so that every event's publish time (taken by the server
// between request and answer, in whole milliseconds) is on the same side of
// the bound as its publication's start. The few that straddle anyway (a
// publication slower than guard) are counted.
func (p *Publisher) Run(ctx context.Context, w Window) PublishStats {
	maxInFlight := setting.Or(p.maxInFlight, DefaultMaxInFlight)
	guard := setting.Or(p.guard, defaultBoundaryGuard)
	start, end := time.UnixMilli(w.StartMS), time.UnixMilli(w.EndMS)
	var (
		inFlight                 atomic.Int64
		inWindow, errs, straddle atomic.Int64
		skipped                  int64
		wg                       sync.WaitGroup
		lat                      stats.Histogram
	)
	drain := func(bound time.Time) {
		for inFlight.Load() > 0 && time.Now().Before(bound) {
			time.Sleep(200 * time.Microsecond)
		}
		SleepUntil(ctx, bound)
	}
	interval := time.Second / time.Duration(p.Rate)
	next := time.Now()
	for ctx.Err() == nil {
		SleepUntil(ctx, next)
		at := time.Now()
		for _, bound := range []time.Time{start, end} {
			if at.Before(bound) && !at.Before(bound.Add(-guard)) {
				drain(bound)
				at = time.Now()
			}
		}
		if !at.Before(end) {
			break
		}
		next = next.Add(interval)
		if behind := time.Since(next); behind > time.Second {
			skipped += int64(behind / interval)
			next = time.Now()
		}
		if inFlight.Load() >= int64(maxInFlight) {
			skipped++
			continue
		}
		counted := !at.Before(start)
		inFlight.Add(1)
		wg.Go(func() {
			defer inFlight.Add(-1)
			t0 := time.Now()
			err := p.Publish(ctx)
			t1 := time.Now()
			lat.Add(t1.Sub(t0))
			for _, bound := range []time.Time{start, end} {
				if at.Before(bound) && t1.After(bound) {
					straddle.Add(1) // its event may be on either side
				}
			}
			switch {
			case err != nil:
				errs.Add(1)
			case counted:
				inWindow.Add(1)
			}
		})
	}
	wg.Wait()
	l := lat.Snapshot()
	eligible := w.Duration() - guard
	stats := PublishStats{
		Requested: float64(p.Rate),
		InWindow:  inWindow.Load(),
		Errors:    errs.Load(),
		Skipped:   skipped,
		Straddled: straddle.Load(),
		P99MS:     l.Quantile(0.99),
	}
	stats.Published = stats.InWindow
	stats.Achieved = float64(stats.InWindow) / eligible.Seconds()
	var sum, n float64
	for _, b := range l.Buckets {
		sum += float64(b[0]) * float64(b[1])
		n += float64(b[1])
	}
	if n > 0 {
		stats.MeanMS = sum / n / 1000
	}
	return stats
}

// SleepUntil sleeps until t or until ctx is done.
func SleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
