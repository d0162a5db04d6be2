package load

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/testkit"
)

// muxSubscribers is the number of subscriptions of the tests: one
// connection's worth.
const muxSubscribers = 100

func leanMuxTarget(o *testkit.Origin, http, mode, path string) Target {
	return Target{
		Reader:        ReaderLean,
		URL:           o.StreamURL(path, false),
		Mode:          mode,
		HTTP:          http,
		CAFile:        o.CA.CAFile,
		PerConnection: muxSubscribers,
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
// publishAndCheck publishes events one by one and checks that every
// subscription records each exactly once, with a plausible latency: none
// longer than the time since the window was set, at since.
func publishAndCheck(t *testing.T, o *testkit.Origin, s *Subscribers, path string, events int, since time.Time) {
	t.Helper()
	before := s.Delivered()
	want := before + int64(events*s.n)
	for i := range events {
		o.Publish(path, fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("x", 700)))
		time.Sleep(5 * time.Millisecond)
	}
	testkit.WaitUntil(t, fmt.Sprintf("%d deliveries (have %d)", want, s.Delivered()), func() bool { return s.Delivered() >= want })
	// No latency recorded can exceed the time since the window opened,
	// before anything it counts was published (plus the millisecond of the
	// stamps and the histogram's 1.6%): a bound this run measured, not a
	// guess about the machine.
	elapsedMS := float64(time.Since(since).Milliseconds())
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	if got := s.Delivered(); got != want {
		t.Errorf("delivered %d, want %d", got, want)
	}
	var outside int64
	for _, r := range s.recs {
		outside += r.outside.Load()
	}
	if outside != 0 {
		t.Errorf("%d events recorded outside the window", outside)
	}
	lat := s.Latency()
	if lat.Count() != s.Delivered() {
		t.Errorf("latency histogram holds %d deliveries, want %d", lat.Count(), s.Delivered())
	}
	if p50, max := lat.Quantile(0.5), lat.MaxMS(); p50 < 0 || max > 1.02*elapsedMS+1 {
		t.Errorf("latency p50 %.1f ms, max %.1f ms, %.0f ms after the window opened", p50, max, elapsedMS)
	}
}

func TestLeanMuxReaders(t *testing.T) {
	for _, http := range []string{"2", "3"} {
		for _, mode := range []string{"sub", "sse"} {
			t.Run("h"+http+"-"+mode, func(t *testing.T) {
				o := testkit.NewOrigin(t, nil)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				const path = "/public/lean"
				s, err := Subscribe(ctx, leanMuxTarget(o, http, mode, path), muxSubscribers, 30*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Stop()
				if len(s.recs) != 1 {
					t.Fatalf("%d groups, want one connection's", len(s.recs))
				}
				if got := o.Active(); got != muxSubscribers {
					t.Errorf("origin serves %d subscriptions, want %d", got, muxSubscribers)
				}
				opened := time.Now()
				s.SetWindow(Window{StartMS: 0, EndMS: math.MaxInt64})
				publishAndCheck(t, o, s, path, 20, opened)
				if f := s.Failures(); f != 0 {
					t.Errorf("%d failures", f)
				}
				if s.Bytes() == 0 {
					t.Error("no bytes counted")
				}

				// The server ends the streams: each counts as a failure
				// and is subscribed again, and what is published while
				// they are away is not delivered.
				o.End(path)
				testkit.WaitUntil(t, "the ended streams' failures", func() bool { return s.Failures() >= muxSubscribers })
				missed := s.Delivered()
				o.Publish(path, `{"missed":true}`)
				testkit.WaitUntil(t, "resubscription", func() bool { return s.recs.opened() >= 2*muxSubscribers })
				if got := s.Delivered(); got != missed {
					t.Errorf("an event published between subscriptions was delivered (%d, then %d)", missed, got)
				}
				publishAndCheck(t, o, s, path, 5, opened)

				// The connection fails: it is dialled again.
				o.Stop()
				testkit.WaitUntil(t, "the stopped server's failures", func() bool { return s.Failures() >= 2*muxSubscribers })
				o.Start()
				testkit.WaitUntil(t, "reconnection", func() bool { return s.recs.opened() >= 3*muxSubscribers })
				publishAndCheck(t, o, s, path, 5, opened)
			})
		}
	}
}

// TestLeanMuxReaderRefused is a negative control: a subscription the
// server refuses (405 to SUB, with no 106) is not counted as established.
func TestLeanMuxReaderRefused(t *testing.T) {
	for _, http := range []string{"2", "3"} {
		t.Run("h"+http, func(t *testing.T) {
			o := testkit.NewOrigin(t, nil)
			o.SSEOnly.Store(true) // SUB gets 405
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err := Subscribe(ctx, leanMuxTarget(o, http, "sub", "/public/refused"), 10, 2*time.Second)
			if err == nil {
				t.Fatal("subscribed to a server that refuses SUB")
			}
		})
	}
}
