package client_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// TestLostEventThroughADroppingProxy: through a proxy that drops one PUB,
// the client notices at the next event, whose prev is not the last event it
// received, says so (ErrOutOfSequence, to OnRetry), and resumes from the
// last event it delivered: every event arrives once, in order. The negative
// control, a client that does not check (DeliverOutOfSequence) through
// another such proxy, misses the event without a word.
func TestLostEventThroughADroppingProxy(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	o.Publish("/public/lossy", "before")
	proxy := testkit.NewDroppingProxy(t, o.PlainAddr(), 3)
	unchecked := testkit.NewDroppingProxy(t, o.PlainAddr(), 3)
	opts := client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11, Reconnect: client.Reconnect{InitialDelay: 10 * time.Millisecond}}
	f := testkit.Follow(t, testkit.NewClient(t, opts), "http://"+proxy.Addr()+"/public/lossy", "", nil)
	opts.DeliverOutOfSequence = true
	blind := testkit.Follow(t, testkit.NewClient(t, opts), "http://"+unchecked.Addr()+"/public/lossy", "", nil)
	f.WaitOpen(t)
	blind.WaitOpen(t)
	var want []string
	for i := range 6 {
		want = append(want, o.Publish("/public/lossy", fmt.Sprint("n", i)).Event.ID)
	}
	got := f.WaitCount(t, len(want))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("received %v, want %v", got, want)
	}
	missing := append(append([]string(nil), want[:2]...), want[3:]...)
	if got := blind.WaitCount(t, len(missing)); fmt.Sprint(got) != fmt.Sprint(missing) || len(blind.Retries) > 0 {
		t.Errorf("without the check: received %v and %d retries, want %v silently (the proxy drops %s)", got, len(blind.Retries), missing, want[2])
	}
	if n := proxy.Seen(); n < int64(len(want)+1) {
		t.Errorf("the proxy saw %d PUBs: the third was dropped and resent", n)
	}
	err := testkit.Receive(t, f.Retries, "a retry")
	if !errors.Is(err, client.ErrOutOfSequence) {
		t.Errorf("resubscribed for %v, want ErrOutOfSequence", err)
	}
	if lost := want[2]; !bytes.Contains([]byte(err.Error()), []byte(strconv.Quote(lost))) {
		t.Errorf("the report %q does not name the event before the one that came, %s", err, lost)
	}
}

// TestOutOfSequenceOverSSE: a text/event-stream with a hole is detected by
// the prev field, and the client resumes from the event before the hole;
// an event that names no prev is not judged.
func TestOutOfSequenceOverSSE(t *testing.T) {
	var requests atomic.Int64
	var resumedFrom atomic.Value
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", wire.ContentTypeSSE)
		var b []byte
		if requests.Add(1) == 1 {
			b = append(b, "id: 1\n\n"...) // where the stream starts
			b = wire.AppendSSE(b, &wire.Event{ID: "2", Prev: "1", Data: []byte("two")})
			b = wire.AppendSSE(b, &wire.Event{ID: "4", Prev: "3", Data: []byte("four")}) // 3 is missing
		} else {
			resumedFrom.Store(r.Header.Get("Last-Event-ID"))
			b = wire.AppendSSE(b, &wire.Event{ID: "3", Prev: "2", Data: []byte("three")})
			b = wire.AppendSSE(b, &wire.Event{ID: "4", Prev: "3", Data: []byte("four")})
			b = wire.AppendSSE(b, &wire.Event{ID: "5", Data: []byte("five")})
		}
		w.Write(b)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSSE, Reconnect: client.Reconnect{InitialDelay: 10 * time.Millisecond}})
	f := testkit.Follow(t, c, "http://"+ln.Addr().String()+"/s", "", nil)
	got := f.WaitCount(t, 4)
	if fmt.Sprint(got) != "[2 3 4 5]" {
		t.Errorf("received %v, want [2 3 4 5]", got)
	}
	if err := testkit.Receive(t, f.Retries, "a retry"); !errors.Is(err, client.ErrOutOfSequence) {
		t.Errorf("resubscribed for %v, want ErrOutOfSequence", err)
	}
	if from := resumedFrom.Load(); from != "2" {
		t.Errorf("resumed from %v, want the last event delivered, 2", from)
	}
}
