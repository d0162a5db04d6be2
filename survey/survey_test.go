package survey

import (
	"bufio"
	"net"
	"net/http"
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
			if c := CountEvents(t.Context(), o, direct, w); c.Received != Notes || c.Ended != "open" || !c.Opened {
				t.Errorf("%+v, want %d received and the subscription open", c, Notes)
			}
		})
	}
	if leak := CheckLeak(t.Context(), o, direct); leak.Leaked || leak.Interim != 0 || leak.Error != "" || leak.Statuses["HTTP/1.1 200 OK"] != probes {
		t.Errorf("%+v, want no leak and %d × 200", leak, probes)
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
	if !leak.Leaked || leak.Evidence == "" || leak.Interim == 0 {
		t.Errorf("%+v, want a leak reported with its evidence", leak)
	}
}

// startPoolingProxy is the proxy of TestPoolingProxyThatEndsAt1xx: HTTP/1.1
// only, any response is final (an interim one included), and an upstream
// connection goes back to one pool shared by every client once a response
// has been read from it, unless it said Connection: close.
func startPoolingProxy(t *testing.T, upstream string) *Front {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &poolingProxy{upstream: upstream}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.closeIdle()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(conn) })
		}
	})
	return &Front{Plain: ln.Addr().String()}
}

type poolingProxy struct {
	upstream string
	mu       sync.Mutex
	idle     []*upstreamConn
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
		if resp.Close {
			up.Close()
		} else {
			p.put(up)
		}
		if err != nil || resp.StatusCode < 200 {
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
	return &upstreamConn{conn, bufio.NewReader(conn)}, nil
}

func (p *poolingProxy) put(up *upstreamConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, up)
}

func (p *poolingProxy) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, up := range p.idle {
		up.Close()
	}
	p.idle = nil
}
