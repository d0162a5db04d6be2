package testkit

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// DroppingProxy relays HTTP/1.1 connections to an upstream byte for byte,
// but for one 105 (PUB) response, the drop-th it sees over all its
// connections, which it does not forward: a gateway that ignores an
// interim response, as RFC 9110 §15.2 lets a user agent do.
type DroppingProxy struct {
	upstream string
	drop     int64
	ln       net.Listener
	seen     atomic.Int64
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

// NewDroppingProxy listens on loopback and relays to upstream (host:port)
// until the test ends.
func NewDroppingProxy(t testing.TB, upstream string, drop int64) *DroppingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &DroppingProxy{upstream: upstream, drop: drop, ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.relay(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address, host:port.
func (p *DroppingProxy) Addr() string { return p.ln.Addr().String() }

// Seen counts the 105 (PUB) responses that came from upstream, the dropped
// one included.
func (p *DroppingProxy) Seen() int64 { return p.seen.Load() }

func (p *DroppingProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

// relay copies the requests up as they are, and the responses down one
// header section at a time until the final one, whose rest it copies.
func (p *DroppingProxy) relay(down net.Conn) {
	defer down.Close()
	p.track(down)
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	p.track(up)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		io.Copy(up, down)
		up.Close()
	}()
	r := bufio.NewReader(up)
	for {
		head, err := readHeaderSection(r)
		if err != nil {
			return
		}
		if bytes.HasPrefix(head, []byte("HTTP/1.1 105 ")) && p.seen.Add(1) == p.drop {
			continue
		}
		if _, err := down.Write(head); err != nil {
			return
		}
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 1")) {
			io.Copy(down, r)
			return
		}
	}
}

// readHeaderSection reads a status line and its fields, through the empty
// line.
func readHeaderSection(r *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		head = append(head, line...)
		if len(line) <= 2 {
			return head, nil
		}
	}
}
