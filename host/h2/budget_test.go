package h2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/budget"
)

// TestBudgetCutsTheLargestQueue: connections that stop reading fill their
// write queues; once the queues together pass the server's budget, the
// connection with the most queued is closed, its requests' contexts ending
// with budget.ErrOverBudget, and no other. A subscriber on another
// connection, reading at the rate it is written to, gets every event. The
// second case is the negative control: with an account and no limit, the
// same queues grow past what the budget allowed.
func TestBudgetCutsTheLargestQueue(t *testing.T) {
	const (
		perConn = 256 << 10 // each connection's own bound
		limit   = 400 << 10 // the budget: more than one full queue, less than two
		partial = 100 << 10 // what the second stalled connection queues
		events  = 300       // for the healthy subscriber
		// grace: a connection is cut once it has written nothing for
		// this long; the healthy one writes every few milliseconds.
		grace = 100 * time.Millisecond
	)
	tests := []struct {
		name      string
		budget    int64
		wantCut   bool  // the first, fullest connection is cut off
		wantAbove int64 // Queued once all three have queued: at least this
		wantBelow int64 // and at most this
	}{
		// The second and the third, once the first is cut.
		{"budget", limit, true, perConn + partial, limit},
		// All three, past the budget.
		{"no limit (negative control)", 0, false, 2*perConn + partial, 3 * (perConn + 8<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := budget.New(tc.budget, grace)
			var mu sync.Mutex
			causes := map[string]error{} // why each stalled stream's handler ended
			ts := startServerOn(t, smallSendBuffers{listen(t)}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/healthy" {
					writeEventsAtARate(w, events)
					return
				}
				upto, _ := strconv.Atoi(r.URL.Query().Get("upto"))
				fillQueue(w, r, upto)
				mu.Lock()
				causes[r.URL.Path] = context.Cause(r.Context())
				mu.Unlock()
			}), false, func(s *Server) {
				s.Budget = b
				s.MaxQueuedBytes = perConn
				// Long enough that the connections' own write timeout
				// never ends them during the test: only the budget does.
				s.ConnWriteTimeout = time.Minute
			})
			// The first fills its queue to its own bound; the second
			// queues part of that; neither reads.
			first := dialStalled(t, ts)
			first.request(1, "SUB", "/first", true)
			waitSteady(t, func() bool { return b.Queued() >= perConn })
			second := dialStalled(t, ts)
			second.request(1, "SUB", "/second?upto="+strconv.Itoa(partial), true)
			waitSteady(t, func() bool { return b.Queued() >= perConn+partial })

			healthy := make(chan error, 1)
			go func() { healthy <- followHealthy(ts, events) }()
			// The third fills its queue too, and so passes the budget.
			third := dialStalled(t, ts)
			third.request(1, "SUB", "/third", true)

			peak := make(chan int64)
			stop := make(chan struct{})
			go func() { peak <- watchPeak(b, stop) }()
			if tc.wantCut {
				waitFor(t, func() bool { return b.Cuts() == 1 })
				first.closed()
			}
			// The third's queue reaches its own bound.
			waitSteady(t, func() bool { return b.Queued() >= tc.wantAbove })
			time.Sleep(100 * time.Millisecond) // time for a wrong cut to show
			if err := <-healthy; err != nil {
				t.Errorf("the healthy subscriber: %v", err)
			}
			close(stop)
			top := <-peak
			if q := b.Queued(); q < tc.wantAbove || q > tc.wantBelow {
				t.Errorf("queued %d, want within [%d, %d]", q, tc.wantAbove, tc.wantBelow)
			}
			if tc.wantCut && top > limit+perConn {
				t.Errorf("queued reached %d, past the budget and one queue's bound (%d)", top, limit+perConn)
			}
			if !tc.wantCut && b.Cuts() != 0 {
				t.Errorf("%d cuts without a limit", b.Cuts())
			}
			if tc.wantCut && b.Cuts() != 1 {
				t.Errorf("%d cuts, want 1 (the first connection)", b.Cuts())
			}
			mu.Lock()
			cause := causes["/first"]
			_, othersEnded := causes["/second"]
			_, thirdEnded := causes["/third"]
			mu.Unlock()
			if tc.wantCut && !errors.Is(cause, budget.ErrOverBudget) {
				t.Errorf("the first connection's request ended with %v, want the budget's cause", cause)
			}
			if othersEnded || thirdEnded {
				t.Errorf("a smaller queue was cut off: %v", causes)
			}
			if tc.wantCut {
				waitFor(t, func() bool { return b.Releasing() == 0 })
			}
			second.nc.Close()
			third.nc.Close()
			if !tc.wantCut {
				first.nc.Close()
			}
		})
	}
}

// smallSendBuffers gives each connection it accepts a small kernel send
// buffer, so that what the server writes to a client that reads nothing
// stays in the connection's queue, where the budget sees it, rather than
// in the kernel's buffers (loopback's grow to megabytes).
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// dialStalled is a raw client that reads nothing after the server's
// SETTINGS, with a small receive buffer so that what the server writes
// stays in its queue rather than in the kernel's buffers.
func dialStalled(t *testing.T, ts *testServer) *rawClient {
	rc := dialRaw(t, ts)
	rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	return rc
}

// fillQueue writes interim responses, each with new values (nothing for
// HPACK to index), until the connection's queue holds upto bytes and goes
// on holding them (what the kernel's buffers still take drains it at
// first), then waits for the request to end; with upto 0, until a write
// fails.
func fillQueue(w http.ResponseWriter, r *http.Request, upto int) {
	iw := w.(InterimWriter)
	held := ConnOf(w).held
	h := http.Header{"Event-Data": {strings.Repeat("e", 1000)}}
	for i := 0; ; {
		for ; upto == 0 || held.Queued() < int64(upto); i++ {
			h.Set("Event", strconv.Itoa(i))
			h.Set("Event-Id", strconv.Itoa(i*7919)+strings.Repeat("i", 300))
			if err := iw.WriteInterim(105, h); err != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitSteady waits until cond holds on several checks in a row: a queue
// that the kernel's buffers still drain passes a bound for a moment.
func waitSteady(t *testing.T, cond func() bool) {
	t.Helper()
	n := 0
	waitFor(t, func() bool {
		if !cond() {
			n = 0
			return false
		}
		n++
		time.Sleep(20 * time.Millisecond)
		return n >= 5
	})
}

// writeEventsAtARate writes n events a few milliseconds apart, as a
// publisher would, and a final response.
func writeEventsAtARate(w http.ResponseWriter, n int) {
	h := w.Header()
	for i := range n {
		h.Set("Event", strconv.Itoa(i))
		h.Set("Event-Data", strings.Repeat("d", 500))
		w.WriteHeader(105)
		time.Sleep(2 * time.Millisecond)
	}
	h.Del("Event")
	h.Del("Event-Data")
	w.WriteHeader(http.StatusNoContent)
}

// followHealthy subscribes with Go's client and checks that all n events
// arrive, in order, and the final response after them.
func followHealthy(ts *testServer, n int) error {
	got := 0
	var order error
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == 105 {
			if h.Get("Event") != strconv.Itoa(got) && order == nil {
				order = fmt.Errorf("event %s where %d was due", h.Get("Event"), got)
			}
			got++
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "SUB", ts.url("/healthy"), nil)
	resp, err := ts.client().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusNoContent:
		return fmt.Errorf("status %d", resp.StatusCode)
	case order != nil:
		return order
	case got != n:
		return fmt.Errorf("%d events of %d", got, n)
	}
	return nil
}

// watchPeak samples the budget's total until stop, and returns the most it
// saw.
func watchPeak(b *budget.Budget, stop <-chan struct{}) int64 {
	var top int64
	for {
		top = max(top, b.Queued())
		select {
		case <-stop:
			return top
		case <-time.After(time.Millisecond):
		}
	}
}
