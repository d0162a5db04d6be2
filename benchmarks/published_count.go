package benchmarks

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Which events belong to the window is decided by their publish time, which
// the server stamps. A publication accepted late (a server too busy to
// answer at once) may carry a time on the other side of a bound from when
// it was sent, so the events of the window are counted where the times are:
// in the origin's durable log, replayed from its start after the run (each
// point has a fresh origin), or by the bare sender. nchan's events carry the
// publisher's own time, so the publisher's count is exact there.

// replayQuiet is how long a replay must stay silent to be over.
const replayQuiet = 500 * time.Millisecond

// countPublished counts the events published in w to the system behind p,
// or returns ok false when only the publisher knows.
func countPublished(ctx context.Context, p publishTarget, w Window) (n int64, ok bool, err error) {
	u, err := url.Parse(p.URL)
	if err != nil {
		return 0, false, err
	}
	switch p.Kind {
	case publishOrigin:
		n, err := replayCount(ctx, Target{Reader: ReaderLean, Addr: u.Host, Path: u.Path, LastEventID: "0"}, w)
		return n, err == nil, err
	case publishBare:
		st, err := fetchBareStats(ctx, u.Host, w)
		return st.InWindow, err == nil, err
	}
	return 0, false, nil
}

// replayCount subscribes to t (a replay of the whole log) and counts the
// events of w until the stream has been quiet for replayQuiet.
func replayCount(ctx context.Context, t Target, w Window) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rec := new(recorder)
	rec.window.Store(&w)
	done := make(chan struct{})
	go func() {
		defer close(done)
		leanStream(ctx, t, rec)
	}()
	defer func() {
		cancel()
		<-done
	}()
	seen := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("replaying the log: %w", ctx.Err())
		case <-done:
			return 0, fmt.Errorf("replaying the log: the stream ended (%d opened)", rec.opened.Load())
		case <-time.After(replayQuiet):
		}
		now := rec.delivered.Load() + rec.outside.Load()
		if rec.opened.Load() > 0 && now == seen {
			return rec.delivered.Load(), nil
		}
		seen = now
	}
}

// windowQuery is the window as the bare sender's stats endpoint takes it.
func windowQuery(w Window) string {
	return "?start=" + strconv.FormatInt(w.StartMS, 10) + "&end=" + strconv.FormatInt(w.EndMS, 10)
}
