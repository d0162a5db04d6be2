package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"time"
)

// The multiplexed lean readers read SUB and SSE over HTTP/2 and HTTP/3 the
// way the HTTP/1.1 lean reader reads SSE: each group of PerConnection
// subscriptions shares one connection the reader owns, frames are read
// straight off it, and of each event only its publish time is looked at
// (the `t` member of a PUB's Event field, or an SSE event's `t:` line), so
// that the load generator costs less per delivery than the server it
// measures. Like the HTTP/1.1 reader, a stream that ends and a connection
// that fails count as failures and are subscribed again without
// Last-Event-ID: what was missed counts as undelivered.

// leanRetryDelay is how long a lean reader waits before subscribing again.
const leanRetryDelay = 500 * time.Millisecond

// muxTarget is what the multiplexed readers need of a Target.
type muxTarget struct {
	authority string // host:port to dial, and :authority
	path      string
	sub       bool // SUB, or GET Accept: text/event-stream
	tls       *tls.Config
	// request is the header section of every stream's request, to be
	// encoded with HPACK or QPACK.
	request []muxField
}

// muxField is one field of the request.
type muxField struct{ name, value string }

func newMuxTarget(t Target, alpn string) (muxTarget, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return muxTarget{}, err
	}
	if u.Scheme != "https" || u.Port() == "" {
		return muxTarget{}, fmt.Errorf("benchmarks: lean HTTP/%s reader needs an https URL with a port, not %q", t.HTTP, t.URL)
	}
	m := muxTarget{authority: u.Host, path: u.RequestURI()}
	switch t.Mode {
	case "sub":
		m.sub = true
	case "sse":
	default:
		return muxTarget{}, fmt.Errorf("benchmarks: unknown mode %q", t.Mode)
	}
	m.tls = &tls.Config{ServerName: t.ServerName, NextProtos: []string{alpn}}
	if m.tls.ServerName == "" {
		m.tls.ServerName = u.Hostname()
	}
	if m.tls.RootCAs, err = t.rootCAs(); err != nil {
		return muxTarget{}, err
	}
	method := "GET"
	if m.sub {
		method = "SUB"
	}
	m.request = []muxField{{":method", method}, {":scheme", "https"}, {":authority", m.authority}, {":path", m.path}}
	if !m.sub {
		m.request = append(m.request, muxField{"accept", "text/event-stream"}, muxField{"cache-control", "no-cache"})
	}
	m.request = append(m.request, muxField{"user-agent", "subpub-bench"})
	return m, nil
}

// What a response's header section means to a subscription of the
// multiplexed readers.
const (
	responseNone   = iota // trailers, another interim response, a 106 once established
	responseOpened        // established: the first 106 (SUB), the 200 (SSE)
	responseEvent         // a 105 (PUB)
	responseFinal         // a final response to SUB, or to GET that is no event stream
)

// response says what a header section with status means to a subscription,
// established already if opened.
func (m muxTarget) response(status int, opened bool) int {
	switch {
	case m.sub && status == 106:
		if !opened {
			return responseOpened
		}
	case m.sub && status == 105:
		return responseEvent
	case status == 0 || status < 200:
		// trailers, or another interim response
	case !m.sub && status == 200 && !opened:
		return responseOpened
	default:
		return responseFinal
	}
	return responseNone
}

// A muxConn runs count subscriptions on one connection until the connection
// fails or ctx is done.
type muxConn func(ctx context.Context, m muxTarget, count int, rec *recorder) error

// startMux runs count subscriptions on one connection of the lean HTTP/2
// or HTTP/3 reader.
func (s *Subscribers) startMux(ctx context.Context, count int, rec *recorder) error {
	var conn muxConn
	var alpn string
	switch s.target.HTTP {
	case "2":
		conn, alpn = runH2Conn, "h2"
	case "3":
		conn, alpn = runH3Conn, "h3"
	default:
		return fmt.Errorf("benchmarks: the lean reader reads HTTP/1.1 SSE, HTTP/2 and HTTP/3, not HTTP/%q", s.target.HTTP)
	}
	m, err := newMuxTarget(s.target, alpn)
	if err != nil {
		return err
	}
	s.done.Go(func() { keepConnected(ctx, conn, m, count, rec) })
	waitOpened(ctx, rec, rec.opened.Load()+int64(count), 30*time.Second)
	return nil
}

// keepConnected keeps count subscriptions on a connection that conn runs
// until ctx is done, dialling again a while after the connection fails:
// what ended it does not matter, its streams are gone with it.
func keepConnected(ctx context.Context, conn muxConn, m muxTarget, count int, rec *recorder) {
	for {
		conn(ctx, m, count, rec)
		SleepUntil(ctx, time.Now().Add(leanRetryDelay))
		if ctx.Err() != nil {
			return
		}
	}
}

// dialTimeout bounds a lean reader's connection set-up.
const dialTimeout = 10 * time.Second

func dialTLS(ctx context.Context, m muxTarget) (*tls.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: m.tls}
	c, err := d.DialContext(ctx, "tcp", m.authority)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// sseScanner finds the events of an SSE body that arrives in pieces: it
// keeps the start of a line that a piece cut (enough for a `t:` line), the
// time of the event being read, and records the event at its blank line.
type sseScanner struct {
	line [32]byte
	n    int
	tMS  int64 // -1: none yet
}

func (s *sseScanner) reset() { s.n, s.tMS = 0, -1 }

func (s *sseScanner) feed(p []byte, rec *recorder) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.keep(p)
			return
		}
		line := p[:i]
		if s.n > 0 {
			s.keep(line)
			line = s.line[:s.n]
			s.n = 0
		}
		p = p[i+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		switch {
		case len(line) == 0:
			if s.tMS >= 0 {
				rec.record(s.tMS, time.Now())
			}
			s.tMS = -1
		case bytes.HasPrefix(line, []byte(leanTimeField)):
			s.tMS = parseMillis(line[len(leanTimeField):])
		}
	}
}

// keep appends what fits of p to the line being read.
func (s *sseScanner) keep(p []byte) {
	s.n += copy(s.line[s.n:], p)
}
