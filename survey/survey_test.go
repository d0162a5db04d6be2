package survey

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/subpub/subpub/client"
)

// startOrigin runs the surveyed origin for one test.
func startOrigin(t *testing.T) *Origin {
	t.Helper()
	o, err := StartOrigin(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// TestNoProxy is the positive control: with no proxy between them, every
// way carries every note and nobody else sees alice's.
func TestNoProxy(t *testing.T) {
	o := startOrigin(t)
	direct := &Front{Plain: o.Upstream, H2C: true}
	for _, w := range Ways {
		t.Run(w.String(), func(t *testing.T) {
			c := CountEvents(t.Context(), o, direct, w)
			if c.Received != Notes || c.Ended != "open" || !c.Opened {
				t.Errorf("%+v, want %d received and the subscription open", c, Notes)
			}
			// Nothing between them: the origin's acknowledgement reaches
			// the subscriber, and the default way does not fall back.
			if w.Mode != client.ModeSSE && (!c.Acknowledged || c.FellBack != "" || c.Format != "pub") {
				t.Errorf("%+v, want the acknowledgement marked, events as PUB, no fallback", c)
			}
		})
	}
	leak := CheckLeak(t.Context(), o, direct)
	var err error
	if leak.Public, err = CheckPublicLeak(t.Context(), o, direct); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Exposure{leak.While, leak.After, leak.Public} {
		if leak.Error != "" || e.Leaked || e.Interim != 0 || e.Statuses["HTTP/1.1 200 OK"] != probes {
			t.Errorf("%+v, want no leak and %d × 200 in each phase", leak, probes)
		}
	}
}

// TestNegotiationThroughAProxyThatDoesNotImplementSUB is the negative
// control of the negotiation columns: through net/http/httputil's reverse
// proxy, which relays interim responses but removes the fields a request's
// Connection names, the mark does not reach the subscriber, and the
// default way falls back to SSE and receives every note. Through the
// pooling proxy, which forwards the request as it is and takes the 106 for
// the final response, the mark does reach it (so the column can say yes),
// and the default way falls back once nothing follows it.
func TestNegotiationThroughAProxyThatDoesNotImplementSUB(t *testing.T) {
	o := startOrigin(t)
	up, _ := url.Parse("http://" + o.Upstream)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(up)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	reverse := &Front{Plain: ln.Addr().String()}
	sub := Way{Mode: client.ModeSUB, HTTP: client.HTTP11}
	auto := Way{Mode: client.ModeAuto, HTTP: client.HTTP11}
	if c := CountEvents(t.Context(), o, reverse, sub); !c.Opened || c.Acknowledged {
		t.Errorf("SUB h1 through httputil: %+v, want a 106 without the mark", c)
	}
	if c := CountEvents(t.Context(), o, reverse, auto); c.Received != Notes || c.Format != "sse" || c.FellBack == "" {
		t.Errorf("SUB→SSE h1 through httputil: %+v, want every note via SSE after a fallback", c)
	}
	if c := CountEvents(t.Context(), o, startPoolingProxy(t, o.Upstream), sub); !c.Acknowledged {
		t.Errorf("SUB h1 through the pooling proxy: %+v, want the mark", c)
	}
	// (It cannot relay an event stream, whose body has no length.)
	if c := CountEvents(t.Context(), o, startPoolingProxy(t, o.Upstream), auto); c.FellBack != "nothing after the acknowledgement" {
		t.Errorf("SUB→SSE h1 through the pooling proxy: %+v, want a fallback after nothing followed the acknowledgement", c)
	}
}

// TestVariants checks what every variant of the wire format carries to the
// bare reader with nothing between them (each one, every event), and
// through a proxy that takes the first interim response for the final one
// (none of the acknowledged ones; the first event alone of "no 106").
func TestVariants(t *testing.T) {
	o := startOrigin(t)
	up, err := startScriptedUpstream()
	if err != nil {
		t.Fatal(err)
	}
	defer up.close()
	direct := &Front{Plain: up.addr()}
	for n, v := range Variants {
		t.Run(v.Name, func(t *testing.T) {
			if c := countInterim(t.Context(), o, direct, n, "h1"); c.Received != scriptedEvents {
				t.Errorf("no proxy: %+v, want %d", c, scriptedEvents)
			}
			want := 0
			if v.head == "" {
				want = 1
			}
			// A proxy of its own: its pool would hand this request a
			// connection still carrying the previous variant's stream.
			proxy := startPoolingProxy(t, up.addr())
			if c := countInterim(t.Context(), o, proxy, n, "h1"); c.Received != want {
				t.Errorf("through a proxy ending at the first 1xx: %+v, want %d", c, want)
			}
			if receivesEvents(direct) {
				t.Error("a GET of the upstream itself received events")
			}
			// The pooling proxy honours Connection: close, as HTTP/1.1
			// requires of any response it takes for the final one.
			closes := strings.Contains(v.head, "Connection: close")
			if got := receivesEvents(proxy); got == closes {
				t.Errorf("a GET through the pooling proxy received events of the previous subscription: %v, want %v", got, !closes)
			}
		})
	}
}

// TestPoolingProxyThatEndsAt1xx is the negative control: a proxy that takes
// the 106 for the final response and puts its upstream connection back in
// its pool carries no event to the subscriber, and hands alice's private
// PUBs to the next user of that connection. Both checks must say so.
func TestPoolingProxyThatEndsAt1xx(t *testing.T) {
	o := startOrigin(t)
	if c := CountEvents(t.Context(), o, startPoolingProxy(t, o.Upstream), Way{Mode: client.ModeSUB, HTTP: client.HTTP11}); c.Received != 0 {
		t.Errorf("SUB h1 through the proxy: %+v, want 0 received", c)
	}
	leak := CheckLeak(t.Context(), o, startPoolingProxy(t, o.Upstream))
	if !leak.While.Leaked || leak.While.Evidence == "" || leak.While.Interim == 0 {
		t.Errorf("%+v, want a leak while alice is subscribed, with its evidence", leak)
	}
}

// TestPoolingProxyThatWaitsForTheClient is the negative control of the
// second phase: a proxy that takes the 106 for the final response but
// keeps the client's connection until the client closes it, and only then
// puts the upstream connection in its pool, leaks once alice has gone and
// not before.
func TestPoolingProxyThatWaitsForTheClient(t *testing.T) {
	o := startOrigin(t)
	leak := CheckLeak(t.Context(), o, startWaitingPoolingProxy(t, o.Upstream))
	var err error
	if leak.Public, err = CheckPublicLeak(t.Context(), o, startWaitingPoolingProxy(t, o.Upstream)); err != nil {
		t.Fatal(err)
	}
	if leak.While.Leaked || !leak.After.Leaked || leak.After.Evidence == "" || !leak.Public.Leaked {
		t.Errorf("%+v, want a leak after alice has gone, and only then", leak)
	}
}

// startPoolingProxy is the proxy of TestPoolingProxyThatEndsAt1xx: HTTP/1.1
// only, any response is final (an interim one included), and an upstream
// connection goes back to one pool shared by every client once a response
// has been read from it, unless it said Connection: close.
func startPoolingProxy(t *testing.T, upstream string) *Front {
	return startProxyThatPools(t, upstream, false)
}

// startWaitingPoolingProxy is the proxy of
// TestPoolingProxyThatWaitsForTheClient.
func startWaitingPoolingProxy(t *testing.T, upstream string) *Front {
	return startProxyThatPools(t, upstream, true)
}

// startProxyThatPools starts a pooling proxy; waitForClient keeps a client
// whose response was an interim one until it leaves, before the upstream
// connection goes back in the pool.
func startProxyThatPools(t *testing.T, upstream string, waitForClient bool) *Front {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &poolingProxy{upstream: upstream, waitForClient: waitForClient, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p.track(conn)
			wg.Go(func() { p.serve(conn) })
		}
	})
	return &Front{Plain: ln.Addr().String()}
}

type poolingProxy struct {
	upstream      string
	waitForClient bool
	mu            sync.Mutex
	idle          []*upstreamConn
	conns         map[net.Conn]bool // every connection, either side, to close at the end
}

func (p *poolingProxy) track(conn net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[conn] = true
}

type upstreamConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *poolingProxy) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		up, err := p.get()
		if err != nil {
			return
		}
		// The client's Connection: close is for this hop; the upstream
		// connection stays open for the pool.
		clientCloses := req.Close
		req.Close = false
		resp, err := func() (*http.Response, error) {
			if err := req.Write(up); err != nil {
				return nil, err
			}
			return http.ReadResponse(up.r, req)
		}()
		if err != nil {
			up.Close()
			return
		}
		err = resp.Write(conn)
		resp.Body.Close()
		if resp.StatusCode < 200 && p.waitForClient && err == nil {
			io.Copy(io.Discard, r)
		}
		if resp.Close {
			up.Close()
		} else {
			p.put(up)
		}
		if err != nil || resp.StatusCode < 200 || clientCloses {
			return
		}
	}
}

func (p *poolingProxy) get() (*upstreamConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		up := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return up, nil
	}
	p.mu.Unlock()
	conn, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return nil, err
	}
	p.track(conn)
	return &upstreamConn{conn, bufio.NewReader(conn)}, nil
}

func (p *poolingProxy) put(up *upstreamConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, up)
}

func (p *poolingProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for conn := range p.conns {
		conn.Close()
	}
}
