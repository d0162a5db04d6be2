package stream_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
)

// TestAClosedHTTP1SubscriptionFreesItsSlotAtOnce: when the client of a
// taken-over HTTP/1.1 subscription closes its connection, the subscription
// ends then, not at its next write: the keepalives here are an hour apart,
// so nothing else could notice. Over cleartext and TLS, SSE and SUB.
func TestAClosedHTTP1SubscriptionFreesItsSlotAtOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("noticed at the next write where there is no epoll")
	}
	o := startTestOrigin(t, func(s *stream.Streamer) { s.KeepAlive = time.Hour })
	pem, err := os.ReadFile(o.CA.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for n, tt := range []struct {
		name, request string
		tls           bool
	}{
		{"SSE", "GET " + streamPath + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", false},
		{"SUB", "SUB " + streamPath + " HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"SSE over TLS", "GET " + streamPath + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var conn net.Conn
			if tt.tls {
				conn, err = tls.Dial("tcp", o.URL().Host, &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
			} else {
				conn, err = net.Dial("tcp", o.PlainAddr())
			}
			if err != nil {
				t.Fatal(err)
			}
			raw := testkit.NewRawConn(t, conn)
			raw.Send(t, tt.request)
			if status, _ := raw.ResponseHead(t); !strings.Contains(status, "200") && !strings.Contains(status, "106") {
				t.Fatalf("status %q", status)
			}
			testkit.WaitUntil(t, "the subscription served", func() bool { return o.Active() == 1 })
			conn.Close()
			testkit.WaitUntil(t, "the subscription ended", func() bool {
				return o.Active() == 0 && o.closes.Count("h1", stream.CloseClientGone) == n+1
			})
		})
	}
}

// TestNothingAnswersARequestBehindASubscription: a proxy that took the 106
// for the final response may send another request, perhaps another user's,
// on the connection of an HTTP/1.1 subscription. The next PUB would be read
// as its response, so once the client has sent anything after its request,
// nothing more is written: the subscription ends and the connection
// closes. Whether the request came
// pipelined with the subscription's or after the 106; the control is the
// same subscription with nothing sent after it, which gets its event.
func TestNothingAnswersARequestBehindASubscription(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("noticed at the next write where there is no epoll")
	}
	o := startTestOrigin(t, func(s *stream.Streamer) { s.KeepAlive = time.Hour })
	const (
		sub  = "SUB " + streamPath + " HTTP/1.1\r\nHost: x\r\n\r\n"
		next = "GET /other HTTP/1.1\r\nHost: x\r\n\r\n"
	)
	for _, tt := range []struct {
		name      string
		pipelined bool // next in the same write as the subscription
		after     bool // next written after the 106
	}{
		{name: "nothing sent after the request (control)"},
		{name: "a request pipelined behind the subscription", pipelined: true},
		{name: "a request sent after the 106", after: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testkit.WaitUntil(t, "the previous subscription ended", func() bool { return o.Active() == 0 })
			closed := o.closes.Count("h1", stream.CloseClientGone)
			raw := testkit.DialRaw(t, o.PlainAddr())
			if tt.pipelined {
				raw.Send(t, sub+next)
			} else {
				raw.Send(t, sub)
				if status, _ := raw.ResponseHead(t); !strings.HasPrefix(status, "HTTP/1.1 106") {
					t.Fatalf("first response %q, want a 106", status)
				}
				testkit.WaitUntil(t, "the subscription served", func() bool { return o.Active() == 1 })
			}
			if tt.after {
				raw.Send(t, next)
			}
			ended := tt.pipelined || tt.after
			if ended {
				testkit.WaitUntil(t, "the subscription ended", func() bool {
					return o.Active() == 0 && o.closes.Count("h1", stream.CloseClientGone) == closed+1
				})
			}
			o.publish(1)
			raw.SetReadDeadline(time.Now().Add(testkit.Timeout))
			if !ended {
				if status, _ := raw.ResponseHead(t); status != "HTTP/1.1 105 PUB" {
					t.Errorf("the subscription alone received %q, want its event", status)
				}
				return
			}
			// Closed with the second request unread, the connection may
			// end in a reset rather than a FIN; a timeout means it stayed
			// open.
			rest, err := io.ReadAll(raw.R)
			if timeout := net.Error(nil); len(rest) > 0 || errors.As(err, &timeout) && timeout.Timeout() {
				t.Errorf("after the second request: %q, %v; want nothing, and the connection closed", rest, err)
			}
		})
	}
}

// TestACancelledMultiplexedSubscriptionFreesItsSlotAtOnce: a client that
// cancels its HTTP/2 or HTTP/3 subscription resets the stream, and the
// subscription ends then, not at its next write (keepalives an hour apart):
// SUB and SSE, whether its handler or the connection's fan-out writes it.
func TestACancelledMultiplexedSubscriptionFreesItsSlotAtOnce(t *testing.T) {
	o := startTestOrigin(t, func(s *stream.Streamer) { s.KeepAlive = time.Hour })
	for _, p := range protocols {
		if p.http == client.HTTP11 {
			continue
		}
		for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
			t.Run(p.name+" "+mode.String(), func(t *testing.T) {
				testkit.WaitUntil(t, "the previous subscription ended", func() bool { return o.Active() == 0 })
				c := testkit.NewClient(t, client.Options{Mode: mode, HTTP: p.http, CAFile: o.CA.CAFile})
				f := testkit.Follow(t, c, o.url(p.plain), "", nil)
				f.WaitOpen(t)
				o.publish(1)
				f.WaitCount(t, 1)
				f.Cancel()
				testkit.WaitUntil(t, "the cancelled subscription ended", func() bool { return o.Active() == 0 })
			})
		}
	}
}
