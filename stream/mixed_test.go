package stream_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"

	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// TestSUBSSEGETAndPOSTShareOneHTTP2Connection: on one HTTP/2 connection (an
// independent client, x/net's), a SUB and an SSE subscription written by the
// connection's fan-out, a GET and a POST with a body are each answered as
// they should be.
func TestSUBSSEGETAndPOSTShareOneHTTP2Connection(t *testing.T) {
	const events = 5
	o := startTestOrigin(t, nil)
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	base := "http://" + o.PlainAddr()

	var mu sync.Mutex
	conns := map[string]bool{}
	pubs := make(chan string, events)
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			conns[info.Conn.LocalAddr().String()] = true
			mu.Unlock()
		},
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == wire.StatusPUB {
				pubs <- h.Get(wire.FieldEvent)
			}
			return nil
		},
	})
	do := func(method, path, accept string, body io.Reader) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp
	}
	// The SUB's final response comes only when the stream ends, with the
	// test (the error is then the context's).
	sub, err := http.NewRequestWithContext(ctx, wire.MethodSUB, base+streamPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if resp, err := hc.Do(sub); err == nil {
			resp.Body.Close()
		}
	}()
	sse := do(http.MethodGet, streamPath, wire.ContentTypeSSE, nil)
	defer sse.Body.Close()
	testkit.WaitUntil(t, "both subscriptions fanned out", func() bool { return o.closes.FanOutNow() == 2 })
	ref := o.PublishEvent("/public/refs", wire.Event{Data: []byte("by reference")})
	o.publish(events)

	lines := bufio.NewScanner(sse.Body)
	for n := 0; n < events && lines.Scan(); {
		if strings.HasPrefix(lines.Text(), "data:") {
			n++
		}
	}
	for range events {
		if e := testkit.Receive(t, pubs, "a PUB"); !strings.Contains(e, "id=") {
			t.Errorf("PUB's Event is %q", e)
		}
	}
	get := do(http.MethodGet, "/events/"+strconv.FormatUint(ref.Seq, 10), "", nil)
	if b, _ := io.ReadAll(get.Body); get.StatusCode != http.StatusOK || string(b) != "by reference" {
		t.Errorf("GET: %d %q", get.StatusCode, b)
	}
	get.Body.Close()
	// A POST to a stream is refused, after its body, with a problem detail.
	post := do(http.MethodPost, streamPath, "", strings.NewReader(strings.Repeat("x", 100<<10)))
	if b, _ := io.ReadAll(post.Body); post.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(b), `"status":405`) {
		t.Errorf("POST: %d %q", post.StatusCode, b)
	}
	post.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Errorf("%d connections, want 1", len(conns))
	}
}
