package stream_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

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
