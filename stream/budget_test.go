package stream_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// TestBudgetEndsTheSubscriberHoldingTheMost: subscribers whose clients
// stopped reading hold what the server is writing to them (an HTTP/1.1
// write blocked on the socket, an HTTP/2 connection's queue, an HTTP/3
// write waiting for the stream's window); once that
// passes the Streamer's Budget, the one holding the most is cut off,
// counted with reason "budget", and a subscriber reading at the rate gets
// every event. The control: an account without a limit cuts no one, and
// the bytes held grow past what the budget allowed.
func TestBudgetEndsTheSubscriberHoldingTheMost(t *testing.T) {
	const (
		limit   = 100 << 10 // less than two stalled clients hold
		backlog = 400       // 32 KiB each: more than the kernel's buffers take
		paced   = 50
		grace   = 100 * time.Millisecond
	)
	data := []byte(`{"pad":"` + strings.Repeat("x", 32<<10) + `"}`)
	// What a subscriber that reads holds is what the server writes to it
	// in the time of a write: events of a kilobyte every few milliseconds
	// stay far below the budget however slowly a loaded machine runs the
	// writer.
	small := []byte(`{"pad":"` + strings.Repeat("x", 1<<10) + `"}`)
	tests := []struct {
		name    string
		proto   string
		stalled int // clients that stop reading
		budget  int64
		cut     bool // some of them are cut off
	}{
		{"HTTP/1.1", "h1", 2, limit, true},
		{"HTTP/1.1, no limit (negative control)", "h1", 2, 0, false},
		{"HTTP/2", "h2", 1, limit, true},
		{"HTTP/2, no limit (negative control)", "h2", 1, 0, false},
		{"HTTP/3", "h3", 2, limit, true},
		{"HTTP/3, no limit (negative control)", "h3", 2, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := budget.New(tc.budget, grace)
			o := startTestOrigin(t, func(s *stream.Streamer) {
				s.Budget = b
				s.KeepAlive = time.Hour
				s.StallTimeout = time.Hour // only the budget ends them
			})
			// A backlog, which the stalled clients ask for from its start:
			// what the kernel's buffers do not take of their catch-up
			// stays with the server, in blocked writes and queues.
			first := o.PublishEvent(streamPath, wire.Event{Type: "Add", Data: data})
			for range backlog - 1 {
				o.PublishEvent(streamPath, wire.Event{Type: "Add", Data: data})
			}
			from := strconv.FormatUint(first.Seq-1, 10)
			for range tc.stalled {
				switch tc.proto {
				case "h1":
					stallHTTP1(t, o.PlainAddr(), from)
				case "h2":
					stallHTTP2(t, o.PlainAddr(), from)
				default:
					stallHTTP3(t, o.URL().Host, o.CA.CAFile, from)
				}
			}
			testkit.WaitUntil(t, "every subscription served", func() bool { return o.Subscriptions.Load() == int64(tc.stalled) })
			// Then events at a rate, which a subscriber that reads gets
			// every one of.
			healthy := testkit.Follow(t, testkit.NewClient(t, client.Options{Mode: client.ModeSSE, HTTP: client.HTTP2, CAFile: o.CA.CAFile}), o.url(false), "", nil)
			healthy.WaitOpen(t)
			for range paced {
				o.PublishEvent(streamPath, wire.Event{Type: "Add", Data: small})
				time.Sleep(5 * time.Millisecond)
			}
			healthy.WaitCount(t, paced)
			if tc.cut {
				testkit.WaitUntil(t, "a subscriber cut off", func() bool { return o.closes.Count(tc.proto, stream.CloseBudget) > 0 })
			} else {
				testkit.WaitUntil(t, "the stalled clients holding more than the budget", func() bool { return b.Queued() > limit })
			}
			time.Sleep(100 * time.Millisecond) // time for a wrong cut to show
			cuts := o.closes.Count(tc.proto, stream.CloseBudget)
			if q := b.Queued(); tc.cut && q > limit {
				t.Errorf("%d bytes queued after %d cuts, past the budget of %d", q, cuts, limit)
			}
			if !tc.cut && (cuts != 0 || b.Cuts() != 0) {
				t.Errorf("%d subscriptions cut off without a limit", cuts)
			}
			if int64(cuts) != b.Cuts() {
				t.Errorf("the budget cut %d, %d subscriptions ended for it (%s)", b.Cuts(), cuts, o.closes)
			}
			if n := o.closes.Count("h2", stream.CloseBudget); tc.proto != "h2" && n != 0 {
				t.Errorf("the healthy subscriber was cut off")
			}
			select {
			case <-healthy.Opened:
				t.Error("the healthy subscriber had to subscribe again")
			default:
			}
			if got, want := o.Active(), 1+tc.stalled-cuts; got != want {
				t.Errorf("%d subscriptions left, want %d (%s)", got, want, o.closes)
			}
		})
	}
}

// stallHTTP1 subscribes over HTTP/1.1 from after lastID and reads nothing,
// with a small receive buffer.
func stallHTTP1(t *testing.T, addr, lastID string) {
	c := testkit.DialRaw(t, addr)
	c.Conn.(*net.TCPConn).SetReadBuffer(smallReadBuffer)
	c.Send(t, "SUB "+streamPath+" HTTP/1.1\r\nHost: x\r\nLast-Event-ID: "+lastID+"\r\n\r\n")
}

// stallHTTP2 subscribes over h2c (prior knowledge) from after lastID and
// reads nothing, with a small receive buffer.
func stallHTTP2(t *testing.T, addr, lastID string) {
	rc := newRawH2(t, addr, defaultWindow)
	rc.nc.(*net.TCPConn).SetReadBuffer(smallReadBuffer)
	rc.requestPath(1, wire.MethodSUB, streamPath, [2]string{"last-event-id", lastID})
}

// stallHTTP3 subscribes over HTTP/3 from after lastID and reads nothing,
// with small flow-control windows, which it never gives back.
func stallHTTP3(t *testing.T, addr, caFile, lastID string) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tlsConf := &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{http3.NextProtoH3}}
	conf := &quic.Config{
		InitialStreamReceiveWindow: 16 << 10, MaxStreamReceiveWindow: 16 << 10,
		InitialConnectionReceiveWindow: 64 << 10, MaxConnectionReceiveWindow: 64 << 10,
	}
	qc, err := quic.DialAddr(t.Context(), addr, tlsConf, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.CloseWithError(0, "") })
	cc := (&http3.Transport{}).NewClientConn(qc)
	str, err := cc.OpenRequestStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("SUB", "https://"+addr+streamPath, nil)
	req.Header.Set("Last-Event-ID", lastID)
	if err := str.SendRequestHeader(req); err != nil {
		t.Fatal(err)
	}
}
