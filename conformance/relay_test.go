package conformance

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"testing"

	"github.com/subpub/subpub/wire"
)

// relay is a broken intermediary, for the negative controls of the
// intermediary checks: it relays each SUB to its upstream, or with
// shareByURL serves every subscriber of a URL from one upstream
// subscription, and breaks one requirement as its fields say.
type relay struct {
	upstream string
	relayFaults

	transport *http.Transport
	mu        sync.Mutex
	shared    map[string]*sharedStream
}

// relayFaults are the ways a relay breaks the draft.
type relayFaults struct {
	shareByURL      bool // one upstream subscription per URL, whatever the credentials; written to every subscriber in turn; replays only what it saw
	dropAfter       int  // relays this many 105s, then no more
	buffer          bool // holds every interim response back
	rewriteEvents   bool // re-encodes Event, dropping members it does not know
	dropAckFields   bool // relays the first 106 without its fields
	dropLastEventID bool // does not send Last-Event-ID upstream
}

// sharedStream is one upstream subscription of a relay with shareByURL.
type sharedStream struct {
	ack         http.Header
	pubs        []http.Header // every 105 seen, for resumption
	subscribers map[*sharedSubscriber]bool
	ready       chan struct{} // closed once the first 106 arrived
}

type sharedSubscriber struct{ w http.ResponseWriter }

// startRelay serves r on loopback in front of upstream and returns its base
// URL; it stops with the test.
func startRelay(t testing.TB, faults relayFaults, upstream string) string {
	r := &relay{relayFaults: faults, upstream: upstream}
	r.transport = &http.Transport{}
	r.shared = map[string]*sharedStream{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Error(err)
		return ""
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		r.transport.CloseIdleConnections()
	})
	return "http://" + ln.Addr().String()
}

func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != wire.MethodSUB {
		http.Error(w, "this relay relays SUB only", http.StatusNotImplemented)
		return
	}
	if rl.shareByURL {
		rl.serveShared(w, r)
		return
	}
	// The transport calls interim on a goroutine of its own: w is written
	// under mu, and not once the handler is done with it.
	var mu sync.Mutex
	finished, pubs := false, 0
	resp := rl.roundTrip(r, r.Context(), func(code int, h http.Header) {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return
		}
		if code == wire.StatusPUB {
			pubs++
			if rl.dropAfter > 0 && pubs > rl.dropAfter {
				return
			}
		}
		rl.writeInterim(w, code, h)
	})
	mu.Lock()
	defer mu.Unlock()
	finished = true
	if resp == nil {
		http.Error(w, "upstream failed", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// roundTrip sends r upstream, hands every interim response to interim,
// and returns the final response, nil if there was none.
func (rl *relay) roundTrip(r *http.Request, ctx context.Context, interim func(int, http.Header)) *http.Response {
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if !rl.buffer {
			interim(code, http.Header(h))
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), wire.MethodSUB, rl.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		return nil
	}
	for _, name := range []string{"Authorization", "Last-Event-ID"} {
		if v := r.Header.Get(name); v != "" && !(name == "Last-Event-ID" && rl.dropLastEventID) {
			req.Header.Set(name, v)
		}
	}
	resp, err := rl.transport.RoundTrip(req)
	if err != nil {
		return nil
	}
	return resp
}

// writeInterim writes an interim response with the fields of h.
func (rl *relay) writeInterim(w http.ResponseWriter, code int, h http.Header) {
	out := w.Header()
	fields := h.Clone()
	switch {
	case code == wire.StatusPUB && rl.rewriteEvents:
		if e, err := wire.DecodePUB(h); err == nil {
			if f, err := wire.EncodePUB(&e); err == nil {
				fields = http.Header{}
				f.Set(fields)
			}
		}
	case code == wire.StatusNoOperation && rl.dropAckFields:
		fields = http.Header{}
	}
	for name, values := range fields {
		out[name] = values
	}
	w.WriteHeader(code)
	for name := range fields {
		delete(out, name)
	}
}

// serveShared joins the subscriber to the URL's shared upstream
// subscription, opening it with this request's fields if there is none.
func (rl *relay) serveShared(w http.ResponseWriter, r *http.Request) {
	rl.mu.Lock()
	st := rl.shared[r.URL.Path]
	if st == nil {
		st = &sharedStream{subscribers: map[*sharedSubscriber]bool{}, ready: make(chan struct{})}
		rl.shared[r.URL.Path] = st
		go rl.follow(st, r.Clone(context.Background()))
	}
	rl.mu.Unlock()
	select {
	case <-st.ready:
	case <-r.Context().Done():
		return
	}
	sub := &sharedSubscriber{w: w}
	rl.mu.Lock()
	rl.writeInterim(w, wire.StatusNoOperation, st.ack)
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		for i, h := range st.pubs {
			if e, err := wire.DecodePUB(h); err == nil && e.ID == last {
				for _, h := range st.pubs[i+1:] {
					rl.writeInterim(w, wire.StatusPUB, h)
				}
				break
			}
		}
	}
	st.subscribers[sub] = true
	rl.mu.Unlock()
	<-r.Context().Done()
	rl.mu.Lock()
	delete(st.subscribers, sub)
	rl.mu.Unlock()
}

// follow is the shared upstream subscription: it writes every 105 to every
// subscriber in turn, holding the lock, so that a subscriber whose
// connection is full holds up the others.
func (rl *relay) follow(st *sharedStream, r *http.Request) {
	resp := rl.roundTrip(r, context.Background(), func(code int, h http.Header) {
		rl.mu.Lock()
		defer rl.mu.Unlock()
		switch {
		case code == wire.StatusNoOperation && st.ack == nil:
			st.ack = h.Clone()
			close(st.ready)
		case code == wire.StatusPUB:
			st.pubs = append(st.pubs, h.Clone())
			for sub := range st.subscribers {
				rl.writeInterim(sub.w, code, h)
			}
		}
	})
	if resp != nil {
		resp.Body.Close()
	}
}
