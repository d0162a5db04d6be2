package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bothProtocols runs f over TLS and over h2c, each with its own server.
func bothProtocols(t *testing.T, f func(t *testing.T, useTLS bool)) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"TLS", true}, {"h2c", false}} {
		t.Run(tc.name, func(t *testing.T) {
			f(t, tc.tls)
		})
	}
}

func TestGetHasContentLengthAndRequestFacts(t *testing.T) {
	bothProtocols(t, func(t *testing.T, useTLS bool) {
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Proto", strconv.Itoa(r.ProtoMajor))
			w.Header().Set("X-TLS", strconv.FormatBool(r.TLS != nil))
			w.Header().Set("X-Remote", r.RemoteAddr)
			w.Header().Set("X-Host", r.Host)
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.RequestURI())
		}), useTLS)
		resp, body := ts.get(t, "/path?q=1")
		if resp.ProtoMajor != 2 || string(body) != "GET /path?q=1" {
			t.Fatalf("got %s %q", resp.Proto, body)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Errorf("ContentLength %d, want %d", resp.ContentLength, len(body))
		}
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
			t.Errorf("Content-Type %q, want sniffed text/plain", got)
		}
		if resp.Header.Get("Date") == "" {
			t.Error("no Date")
		}
		h := resp.Header
		if h.Get("X-Proto") != "2" || h.Get("X-TLS") != strconv.FormatBool(useTLS) ||
			!strings.HasPrefix(h.Get("X-Remote"), "127.0.0.1:") || h.Get("X-Host") != ts.addr {
			t.Errorf("request facts: %v", h)
		}
	})
}

func TestHeadHasContentLengthWithoutBody(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "twelve bytes")
	}), true)
	req, _ := http.NewRequest(http.MethodHead, ts.url("/"), nil)
	resp, body := ts.roundTrip(t, req)
	if resp.ContentLength != 12 || len(body) != 0 {
		t.Fatalf("ContentLength %d, body %q", resp.ContentLength, body)
	}
}

func TestPostBodyLargerThanTheWindows(t *testing.T) {
	bothProtocols(t, func(t *testing.T, useTLS bool) {
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		}), useTLS, func(s *Server) {
			s.InitialWindowSize = 16 << 10
			s.ConnWindowSize = 64 << 10
		})
		body := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
		want := fmt.Sprintf("%d %x", len(body), sha256.Sum256(body))
		req, _ := http.NewRequest(http.MethodPost, ts.url("/"), bytes.NewReader(body))
		_, got := ts.roundTrip(t, req)
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func TestLargeResponseBody(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 3<<20+17)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}), true)
	if _, got := ts.get(t, "/"); !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, want %d", len(got), len(body))
	}
}

func TestManyConcurrentStreamsOnOneConnection(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		w.Write(bytes.Repeat(body, 100))
	}), true)
	client := ts.client()
	// One request first, so that the client knows the server's
	// SETTINGS_MAX_CONCURRENT_STREAMS and keeps to one connection.
	if resp, err := client.Post(ts.url("/"), "text/plain", nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			want := strconv.Itoa(i)
			resp, err := client.Post(ts.url("/"), "text/plain", strings.NewReader(want))
			if err != nil {
				errs <- err
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != strings.Repeat(want, 100) {
				errs <- fmt.Errorf("stream %d got %q", i, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(remotes) != 1 {
		t.Errorf("%d connections, want 1", len(remotes))
	}
}

func TestFlushedStreamingArrivesAsWritten(t *testing.T) {
	bothProtocols(t, func(t *testing.T, useTLS bool) {
		next := make(chan struct{})
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			rc := http.NewResponseController(w)
			for i := range 5 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				if err := rc.Flush(); err != nil {
					t.Error(err)
					return
				}
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
		}), useTLS)
		resp, err := ts.client().Get(ts.url("/events"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.ContentLength != -1 {
			t.Errorf("ContentLength %d for a flushed stream", resp.ContentLength)
		}
		br := bufio.NewReader(resp.Body)
		for i := range 5 {
			// Each event arrives before the handler writes the next.
			line, err := br.ReadString('\n')
			if err != nil || line != fmt.Sprintf("data: %d\n", i) {
				t.Fatalf("event %d: %q, %v", i, line, err)
			}
			br.ReadString('\n')
			next <- struct{}{}
		}
		if rest, _ := io.ReadAll(br); len(rest) != 0 {
			t.Errorf("trailing %q", rest)
		}
	})
}

func TestThousandsOfInterimResponsesInOrder(t *testing.T) {
	bothProtocols(t, func(t *testing.T, useTLS bool) {
		const n = 5000
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "public")
			w.WriteHeader(106)
			h.Del("Cache-Control")
			for i := range n {
				h.Set("Event", strconv.Itoa(i))
				h.Set("Event-Data", strings.Repeat("d", 200))
				w.WriteHeader(105)
			}
			h.Del("Event")
			h.Del("Event-Data")
			w.WriteHeader(http.StatusNoContent)
		}), useTLS)
		var got []string
		first := ""
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			switch code {
			case 106:
				first = h.Get("Cache-Control")
			case 105:
				got = append(got, h.Get("Event"))
			default:
				return fmt.Errorf("unexpected %d", code)
			}
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "SUB", ts.url("/topic"), nil)
		resp, _ := ts.roundTrip(t, req)
		if resp.StatusCode != http.StatusNoContent || first != "public" {
			t.Fatalf("status %d, first 106 Cache-Control %q", resp.StatusCode, first)
		}
		if len(got) != n {
			t.Fatalf("%d interim responses, want %d", len(got), n)
		}
		for i, e := range got {
			if e != strconv.Itoa(i) {
				t.Fatalf("interim %d has Event %q", i, e)
			}
		}
	})
}

func TestResponseTrailers(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}), true)
	resp, body := ts.get(t, "/")
	if string(body) != "body" || resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "yes" {
		t.Fatalf("body %q, trailers %v", body, resp.Trailer)
	}
}

func TestClientCancelCancelsRequestContext(t *testing.T) {
	bothProtocols(t, func(t *testing.T, useTLS bool) {
		started := make(chan struct{})
		cancelled := make(chan error, 1)
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			close(started)
			select {
			case <-r.Context().Done():
				cancelled <- r.Context().Err()
			case <-time.After(10 * time.Second):
				cancelled <- errors.New("context not cancelled")
			}
		}), useTLS)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.url("/"), nil)
		resp, err := ts.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		<-started
		cancel() // RST_STREAM CANCEL
		resp.Body.Close()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestShutdownLetsStreamsInFlightFinish(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	}), true)
	client := ts.client()
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Get(ts.url("/"))
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- ts.srv.Shutdown(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned with a stream in flight: %v", err)
	default:
	}
	close(release)
	if r := <-done; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the last stream")
	}
	ts.close()
}

func TestShutdownDeadlineClosesWhatIsLeft(t *testing.T) {
	started := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}), true)
	go ts.client().Get(ts.url("/"))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	ts.close()
}

func TestHandlerPanicResetsTheStream(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}), true)
	resp, err := ts.client().Get(ts.url("/"))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
		t.Fatalf("got %v, want a stream reset with INTERNAL_ERROR", err)
	}
}

func TestConnOfAndBatch(t *testing.T) {
	type sub struct {
		w    http.ResponseWriter
		done chan struct{}
	}
	subs := make(chan sub, 2)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(106)
		s := sub{w, make(chan struct{})}
		subs <- s
		select {
		case <-s.done:
		case <-r.Context().Done():
		}
	}), true)
	client := ts.client()
	var mu sync.Mutex
	got := map[string][]string{}
	for _, name := range []string{"a", "b"} {
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == 105 {
				mu.Lock()
				got[name] = append(got[name], h.Get("Event"))
				mu.Unlock()
			}
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "SUB", ts.url("/"+name), nil)
		go func() {
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	a, b := <-subs, <-subs
	conn := ConnOf(a.w)
	if conn == nil || ConnOf(b.w) != conn {
		t.Fatal("the two subscriptions are not on one connection")
	}
	if ConnOf(httpResponseWriterStub{}) != nil {
		t.Fatal("ConnOf of a foreign ResponseWriter")
	}
	for i := range 3 {
		f := NewFields(http.Header{"Event": {strconv.Itoa(i)}, "Event-Data": {strings.Repeat("x", 1000)}})
		n, err := conn.Batch(func(bt *Batch) {
			if err := bt.Interim(a.w, 105, f); err != nil {
				t.Error(err)
			}
			if err := bt.Interim(b.w, 105, f); err != nil {
				t.Error(err)
			}
			if err := bt.Interim(a.w, 200, f); err == nil {
				t.Error("Batch.Interim accepted 200")
			}
		})
		if n != 2 || err != nil {
			t.Fatalf("Batch queued %d, %v", n, err)
		}
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["a"]) == 3 && len(got["b"]) == 3
	})
	if fmt.Sprint(got["a"], got["b"]) != "[0 1 2] [0 1 2]" {
		t.Fatalf("got %v", got)
	}
	// The final response is the handler's: a batch after it skips the
	// stream.
	close(a.done)
	close(b.done)
}

type httpResponseWriterStub struct{ http.ResponseWriter }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServeConnContextClosesTheConnection(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		ended <- r.Context().Err()
	}), true)
	errc := make(chan error, 1)
	go func() {
		resp, err := ts.client().Get(ts.url("/"))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	ts.cancel()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler context: %v", err)
	}
	<-errc // the response may or may not have made it
	ts.close()
}
