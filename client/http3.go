package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/subpub/subpub/wire"
)

// QUIC settings of the client. A server killed or cut off says nothing,
// and over QUIC no kernel resets the connection for it as TCP's does; nor
// does a restarted server reset it statelessly in answer to a keepalive
// PING, which is shorter than the packets quic-go answers so. What notices
// is the idle timeout, so it is short (3 s, as an HTTP/2 subscription
// notices a killed server in about a second), and a PING every second,
// acknowledged, keeps a live connection well inside it: two small packets
// a second per connection.
const (
	DefaultQUICKeepAlive   = time.Second
	DefaultQUICIdleTimeout = 3 * time.Second
	quicDialTimeout        = 10 * time.Second
)

// h3Pool keeps one HTTP/3 connection per authority, shared by every request
// to it, and owns those connections: quic-go's http3.Transport.RoundTrip
// stops reading after five interim responses, so a subscription opens its
// own request stream on a connection from here and reads responses itself.
type h3Pool struct {
	transport *http3.Transport // settings for NewClientConn only
	tlsConf   *tls.Config
	quicConf  *quic.Config

	mu    sync.Mutex
	conns map[string]*h3Conn
}

type h3Conn struct {
	ready chan struct{} // closed once dialled (or failed)
	qc    *quic.Conn
	cc    *http3.ClientConn
	err   error
}

func newH3Pool(opts Options, tlsConf *tls.Config) *h3Pool {
	tlsConf = tlsConf.Clone()
	tlsConf.NextProtos = []string{http3.NextProtoH3}
	return &h3Pool{
		transport: &http3.Transport{
			MaxResponseHeaderBytes: opts.maxEventSize() + 16<<10,
			DisableCompression:     true,
		},
		tlsConf: tlsConf,
		quicConf: &quic.Config{
			KeepAlivePeriod: DefaultQUICKeepAlive,
			MaxIdleTimeout:  DefaultQUICIdleTimeout,
		},
		conns: make(map[string]*h3Conn),
	}
}

// conn returns a live connection to authority ("host:port"), dialling one
// if needed. Concurrent callers share one dial.
func (p *h3Pool) conn(ctx context.Context, authority string) (*http3.ClientConn, error) {
	p.mu.Lock()
	c := p.conns[authority]
	if c != nil {
		select {
		case <-c.ready:
			if c.err != nil || c.qc.Context().Err() != nil {
				delete(p.conns, authority)
				c = nil
			}
		default:
		}
	}
	if c == nil {
		c = &h3Conn{ready: make(chan struct{})}
		p.conns[authority] = c
		go p.dial(authority, c)
	}
	p.mu.Unlock()
	select {
	case <-c.ready:
		return c.cc, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial connects outside any caller's context, so that one caller giving up
// does not fail the others waiting for the same connection.
func (p *h3Pool) dial(authority string, c *h3Conn) {
	defer close(c.ready)
	ctx, cancel := context.WithTimeout(context.Background(), quicDialTimeout)
	defer cancel()
	tlsConf := p.tlsConf.Clone()
	if tlsConf.ServerName == "" {
		host, _, _ := net.SplitHostPort(authority)
		tlsConf.ServerName = host
	}
	qc, err := quic.DialAddr(ctx, authority, tlsConf, p.quicConf)
	var idle *quic.IdleTimeoutError
	var handshake *quic.HandshakeTimeoutError
	switch {
	case errors.As(err, &idle), errors.As(err, &handshake), errors.Is(err, context.DeadlineExceeded):
		c.err = fmt.Errorf("HTTP/3 connection to %s: %w (%v)", authority, errNoQUICAnswer, err)
		return
	case err != nil:
		c.err = fmt.Errorf("HTTP/3 connection to %s: %w", authority, err)
		return
	}
	c.qc, c.cc = qc, p.transport.NewClientConn(qc)
}

// forget drops a connection that failed, so that the next request dials.
// The pool may hold a newer connection by then, perhaps still dialling,
// whose fields dial writes until ready is closed: that one is kept.
func (p *h3Pool) forget(authority string, cc *http3.ClientConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.conns[authority]
	if c == nil {
		return
	}
	select {
	case <-c.ready:
		if c.cc == cc {
			delete(p.conns, authority)
		}
	default:
	}
}

// roundTrip sends an ordinary request (SSE's GET, a publish) over HTTP/3.
func (p *h3Pool) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	authority := authorityOf(req.URL)
	cc, err := p.conn(ctx, authority)
	if err != nil {
		return nil, err
	}
	resp, err := cc.RoundTrip(req)
	if err != nil {
		p.forget(authority, cc)
	}
	return resp, err
}

// Close closes every connection.
func (p *h3Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for authority, c := range p.conns {
		select {
		case <-c.ready:
			if c.qc != nil {
				c.qc.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
			}
		default:
		}
		delete(p.conns, authority)
	}
	return nil
}

// runSUBOverHTTP3 subscribes with SUB on a request stream of its own: send
// the header, close the sending side, then read HEADERS frames until a final
// status. RequestStream.ReadResponse is documented for one call only; it
// reads one HEADERS frame per call, and this relies on that (the
// integration tests fail loudly if a quic-go upgrade changes it).
func (a *attempt) runSUBOverHTTP3(ctx context.Context, req *http.Request) error {
	pool := a.client.h3
	authority := authorityOf(req.URL)
	cc, err := pool.conn(ctx, authority)
	if err != nil {
		return err
	}
	a.proto = wire.ProtoHTTP3
	if a.negotiate {
		if err := http3EnablesSUB(ctx, cc, a.client.opts.acknowledgeTimeout()); err != nil {
			return err
		}
	}
	str, err := cc.OpenRequestStream(ctx)
	if err != nil {
		pool.forget(authority, cc)
		return fmt.Errorf("opening HTTP/3 stream: %w", err)
	}
	// Reading blocks on the stream, not on ctx: cancel the stream when
	// ctx ends (unsubscribe, keepalive timeout).
	stop := context.AfterFunc(ctx, func() {
		str.CancelRead(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
		str.CancelWrite(quic.StreamErrorCode(http3.ErrCodeRequestCanceled))
	})
	defer stop()
	a.traceRequest(req)
	a.mu.Lock()
	a.sent = true
	a.mu.Unlock()
	if err := str.SendRequestHeader(req); err != nil {
		return fmt.Errorf("sending SUB: %w", err)
	}
	str.Close()
	for {
		resp, err := str.ReadResponse()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if cc.Context().Err() != nil {
				pool.forget(authority, cc)
			}
			return fmt.Errorf("reading HTTP/3 response: %w", err)
		}
		// ReadResponse reuses one *http.Response; its Header map is new
		// for each response, and status and header are all we keep.
		if resp.StatusCode < 200 {
			if err := a.interim(resp.StatusCode, resp.Header); err != nil {
				code := http3.ErrCodeMessageError
				if errors.Is(err, ErrOutOfSequence) {
					code = http3.ErrCodeRequestCanceled // well formed, but not what follows
				}
				str.CancelRead(quic.StreamErrorCode(code))
				return err
			}
			continue
		}
		return a.final(resp)
	}
}

func authorityOf(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
