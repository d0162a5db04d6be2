package survey

import (
	"net"
	"net/http"
	"testing"
)

// TestStreamingWithoutProxy is the positive control of the streaming
// comparison: with nothing between them, every variant carries every event
// to the client, over HTTP/1.1 and h2c, and the subscription stays open.
func TestStreamingWithoutProxy(t *testing.T) {
	up, err := startStreamingUpstream()
	if err != nil {
		t.Fatal(err)
	}
	defer up.close()
	direct := &Front{Plain: up.addr(), H2C: true}
	for _, v := range StreamingVariants {
		for _, proto := range alternativeWays {
			t.Run(v.Name+"/"+proto, func(t *testing.T) {
				if got := timeStreaming(t.Context(), &Origin{}, direct, v, proto); got.Received != streamingEvents || got.Ended != "open" || got.FirstMS <= 0 {
					t.Errorf("%+v, want %d events and the response open", got, streamingEvents)
				}
			})
		}
	}
}

// TestStreamingThroughABufferingProxy is the negative control: a proxy that
// holds a response's content until it has bufferedBytes of it delivers no
// event of a text/event-stream, and, as RFC 10036 asks of one that knows
// the field, every event of one marked Incremental: ?1.
func TestStreamingThroughABufferingProxy(t *testing.T) {
	up, err := startStreamingUpstream()
	if err != nil {
		t.Fatal(err)
	}
	defer up.close()
	proxy := startBufferingProxy(t, up.addr())
	for _, v := range StreamingVariants {
		if v.sub {
			continue // the test's proxy forwards GET alone
		}
		want := 0
		if v.incrementalResponse {
			want = streamingEvents
		}
		t.Run(v.Name, func(t *testing.T) {
			if got := timeStreaming(t.Context(), &Origin{}, proxy, v, "h1"); got.Received != want {
				t.Errorf("%+v, want %d events", got, want)
			}
		})
	}
}

// bufferedBytes is what the buffering proxy holds before it writes: more
// than the upstream's events in all.
const bufferedBytes = 16 << 10

// startBufferingProxy is the proxy of TestStreamingThroughABufferingProxy:
// HTTP/1.1 to both sides.
func startBufferingProxy(t *testing.T, upstream string) *Front {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{Protocols: new(http.Protocols)}
	transport.Protocols.SetHTTP1(true)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+upstream+r.URL.Path, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := transport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for name, values := range resp.Header {
			w.Header()[name] = values
		}
		w.WriteHeader(resp.StatusCode)
		incremental := resp.Header.Get("Incremental") == "?1"
		rc := http.NewResponseController(w)
		var held []byte
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			held = append(held, buf[:n]...)
			if incremental || len(held) >= bufferedBytes || err != nil {
				w.Write(held)
				rc.Flush()
				held = held[:0]
			}
			if err != nil { // the end of the response, or of either side
				return
			}
		}
	})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
		transport.CloseIdleConnections()
	})
	return &Front{Plain: ln.Addr().String()}
}
