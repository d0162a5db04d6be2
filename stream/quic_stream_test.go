package stream_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// TestHTTP3StreamWithATinyWindowGetsEverythingInOrder reads an SSE stream
// over HTTP/3 with flow-control windows far smaller than what is published,
// and slowly at first: the writer's queued writes (TryWriteAll) do not fit,
// so it must fall back to writes that wait for the window, and lose or
// reorder nothing, and the stall watchdog must not take the waiting for a
// stall.
func TestHTTP3StreamWithATinyWindowGetsEverythingInOrder(t *testing.T) {
	const events = 300
	o := startTestOrigin(t, func(s *stream.Streamer) { s.StallTimeout = 5 * time.Second })
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(o.CA.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		QUICConfig: &quic.Config{
			InitialStreamReceiveWindow:     4 << 10,
			MaxStreamReceiveWindow:         4 << 10,
			InitialConnectionReceiveWindow: 8 << 10,
			MaxConnectionReceiveWindow:     8 << 10,
		},
	}
	defer tr.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, o.url(false), nil)
	req.Header.Set("Accept", wire.ContentTypeSSE)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != wire.ContentTypeSSE {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	first := o.Log.Last() + 1
	payload := []byte(`{"pad":"` + strings.Repeat("x", 1<<10) + `"}`)
	for range events {
		o.PublishEvent(streamPath, wire.Event{Type: "Add", Data: payload})
	}
	r := wire.NewSSEReader(resp.Body)
	for i := range events {
		if i < 20 {
			time.Sleep(10 * time.Millisecond) // the window stays full a while
		}
		e, err := r.Next()
		if err != nil {
			t.Fatalf("after %d events: %v", i, err)
		}
		if want := strconv.FormatUint(first+uint64(i), 10); e.ID != want || !bytes.Equal(e.Data, payload) {
			t.Fatalf("event %d: id %s, %d bytes; want id %s", i, e.ID, len(e.Data), want)
		}
	}
	if n := o.closes.Count("", stream.CloseStalled); n != 0 {
		t.Errorf("%d subscriptions taken for stalled", n)
	}
}
