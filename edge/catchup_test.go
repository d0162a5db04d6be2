package edge

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// catchUpEdge is an edge whose catch-up sources stay open long enough for
// every subscriber of a test to find them, with no bound on how many it
// opens (the bound has a test of its own).
func catchUpEdge(t *testing.T, o *testkit.Origin, separate bool) *testEdge {
	return newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) {
		e.Linger = time.Minute
		e.CatchUpRate = -1
		e.SeparateCatchUps = separate
	})
}

// TestSubscribersResumingFromOnePositionShareOneCatchUp: a hundred
// subscribers resuming from the same id, which the shared ring never held
// (the shared subscription began after it), cost the origin one catch-up
// subscription, and each still gets every event after its id exactly once.
// The negative control opens one for each.
func TestSubscribersResumingFromOnePositionShareOneCatchUp(t *testing.T) {
	const subscribers = 100
	for _, tt := range []struct {
		name        string
		separate    bool
		wantCatchUp int64
	}{
		{"shared", false, 1},
		{"separate (negative control)", true, subscribers},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, nil)
			e := catchUpEdge(t, o, tt.separate)
			for range 20 {
				o.Publish("/public/resume", "{}")
			}
			c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
			keeper := testkit.Follow(t, c, e.url("/public/resume"), "", nil) // the shared subscription, from now
			keeper.WaitOpen(t)
			from := o.Log.Last() - 5
			subs := testkit.FollowMany(t, c, e.url("/public/resume"), strconv.FormatUint(from, 10), subscribers)
			if n := o.Subscriptions.Load() - 1; n != tt.wantCatchUp {
				t.Errorf("origin served %d catch-up subscriptions for %d subscribers resuming from %d, want %d", n, subscribers, from, tt.wantCatchUp)
			}
			for range 3 {
				o.Publish("/public/resume", "{}")
			}
			for i, s := range subs {
				assertSequence(t, fmt.Sprint("resumer ", i), s.WaitCount(t, 8), from+1)
			}
		})
	}
}

// TestResumersJoinACatchUpThatHoldsTheirID: after a restart, subscribers
// come back with ids a few events apart. The first, with the newest id,
// opens the shared subscription (nothing after it yet); the next, with the
// oldest, opens a catch-up; every later one, arriving once that catch-up
// has read up to the newest, finds its id in its ring and reads it, so a
// hundred resumers cost two upstream subscriptions, not a hundred and one
// (the negative control).
func TestResumersJoinACatchUpThatHoldsTheirID(t *testing.T) {
	const spread, perID = 20, 5
	for _, tt := range []struct {
		name      string
		separate  bool
		wantTotal int64
	}{
		{"shared", false, 2},
		{"separate (negative control)", true, 1 + spread*perID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, nil)
			e := catchUpEdge(t, o, tt.separate)
			for range 30 {
				o.Publish("/public/restart", "{}")
			}
			newest := o.Log.Last()
			c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: e.ca.CAFile})
			first := testkit.Follow(t, c, e.url("/public/restart"), strconv.FormatUint(newest, 10), nil)
			first.WaitOpen(t)
			type resumer struct {
				*testkit.Follower
				from uint64
			}
			var subs []resumer
			for back := uint64(spread); back >= 1; back-- {
				for range perID {
					from := newest - back
					s := testkit.Follow(t, c, e.url("/public/restart"), strconv.FormatUint(from, 10), nil)
					s.WaitOpen(t)
					if len(subs) == 0 {
						// The first catch-up's ring must hold an id before
						// a resumer from it can find it there: opaque ids
						// do not say whether one not received yet is
						// coming, so one arriving earlier opens its own.
						s.WaitCount(t, int(newest-from))
					}
					subs = append(subs, resumer{s, from})
				}
			}
			if n := o.Subscriptions.Load(); n != tt.wantTotal {
				t.Errorf("origin served %d subscriptions for %d resumers with ids %d apart, want %d", n, len(subs)+1, spread, tt.wantTotal)
			}
			o.Publish("/public/restart", "{}")
			assertSequence(t, "first", first.WaitCount(t, 1), newest+1)
			for _, s := range subs {
				assertSequence(t, fmt.Sprint("resumer from ", s.from), s.WaitCount(t, int(newest+1-s.from)), s.from+1)
			}
		})
	}
}

// TestCatchUpsPastTheRateGet503WithRetryAfter: a subscriber whose
// Last-Event-ID needs a new catch-up past the edge's bound gets 503 with a
// Retry-After and a problem detail, and the origin sees no request for it;
// joining a catch-up that is open is not counted, and neither is a
// subscriber the ring serves. With no bound (the negative control), the
// same request is served.
func TestCatchUpsPastTheRateGet503WithRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name       string
		rate       float64
		wantStatus string
	}{
		{"bounded", 0.001, "503"},
		{"unbounded (negative control)", -1, "200"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, nil)
			e := newTestEdge(t, o.URL(), o.CA.CAFile, func(e *Edge) {
				e.Linger = time.Minute
				e.CatchUpRate, e.CatchUpBurst = tt.rate, 1
			})
			for range 10 {
				o.Publish("/public/limited", "{}")
			}
			hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			subscribe := func(lastID string) *http.Response {
				t.Helper()
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.plainURL("/public/limited"), nil)
				req.Header.Set("Accept", wire.ContentTypeSSE)
				req.Header.Set("Last-Event-ID", lastID)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { resp.Body.Close() })
				return resp
			}
			for _, step := range []struct{ lastID, what string }{
				{"9", "the shared subscription"},
				{"3", "the burst's one catch-up"},
				{"3", "a catch-up from the same id (it shares the open one)"},
				{"5", "an id the open catch-up holds"},
			} {
				if resp := subscribe(step.lastID); resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %s, want 200", step.what, resp.Status)
				}
			}
			before := o.Subscriptions.Load()
			resp := subscribe("1") // older than any ring holds
			if got := strconv.Itoa(resp.StatusCode); got != tt.wantStatus {
				t.Fatalf("a catch-up from another id: %s, want %s", resp.Status, tt.wantStatus)
			}
			if tt.wantStatus != "503" {
				return
			}
			if resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("503 without Retry-After or a problem detail: %v", resp.Header)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if !strings.Contains(string(body), "catch-up") {
				t.Errorf("problem detail %q does not say what was refused", body)
			}
			if n := o.Subscriptions.Load() - before; n != 0 {
				t.Errorf("the refused catch-up reached the origin (%d subscriptions)", n)
			}
		})
	}
}
