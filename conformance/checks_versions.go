package conformance

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// The checks of HTTP versions (sections "http11", "http2", "http3").

func checkVersionDelivers(_ context.Context, s *suiteRun, version string) Result {
	m := s.main
	if m.err != nil {
		return fail("%v", m.err)
	}
	if why, ok := m.notOffered[version]; ok {
		return skip("not offered: %v", why)
	}
	for _, r := range m.subs {
		if r.Version != version {
			continue
		}
		responses, events, err, opened := r.snapshot()
		switch {
		case !opened:
			return fail("not acknowledged: %s (%s)", describe(responses), errString(err))
		case len(events) < m.published:
			return fail("%d of the %d events published arrived (%s)", len(events), m.published, errString(err))
		}
		if in := interims(responses); in[0].Status != wire.StatusNoOperation {
			return fail("the first interim response is %d", in[0].Status)
		}
		return pass("%d events over %s", len(events), r.proto)
	}
	if version == client.HTTP3 && s.base.Scheme != "https" {
		return skip("not tried: HTTP/3 needs an https URL")
	}
	return skip("not tried (--http)")
}

// dial connects to the target's host on a connection of the suite's own,
// over TLS with ALPN http/1.1 for an https URL, to write requests as they
// are. The connection's deadline is ctx's.
func (s *suiteRun) dial(ctx context.Context) (net.Conn, error) {
	return s.dialOffering(ctx, "http/1.1")
}

// dialOffering connects to the target's host, over TLS offering the ALPN
// protocol proto for an https URL, in cleartext otherwise. The connection's
// deadline is ctx's.
func (s *suiteRun) dialOffering(ctx context.Context, proto string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.authority())
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if s.base.Scheme != "https" {
		return conn, nil
	}
	tc := tls.Client(conn, s.tlsOffering(proto))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// tlsOffering is the run's TLS configuration, offering the ALPN protocol
// proto, for the target's host unless the configuration names another.
func (s *suiteRun) tlsOffering(proto string) *tls.Config {
	conf := s.tls.Clone()
	conf.NextProtos = []string{proto}
	if conf.ServerName == "" {
		conf.ServerName = s.base.Hostname()
	}
	return conf
}

// authority is the target's host and port.
func (s *suiteRun) authority() string {
	if s.base.Port() != "" {
		return s.base.Host
	}
	return net.JoinHostPort(s.base.Hostname(), map[string]string{"http": "80", "https": "443"}[s.base.Scheme])
}

// rawRequest is a request for path with the run's fields, as written on
// the wire in the given version ("HTTP/1.0").
func (s *suiteRun) rawRequest(method, path, version string, header http.Header) string {
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s %s\r\nHost: %s\r\n", method, path, version, s.base.Host)
	for _, h := range []http.Header{s.cfg.Header, header} {
		for name, values := range h {
			for _, v := range values {
				fmt.Fprintf(&req, "%s: %s\r\n", name, v)
			}
		}
	}
	req.WriteString("\r\n")
	return req.String()
}

// http10 sends SUB in an HTTP/1.0 request and reads the first response,
// with its body if it is final.
func (s *suiteRun) http10(ctx context.Context) (*http.Response, []byte, error) {
	return s.firstResponse(ctx, "HTTP/1.0", nil, true)
}

// firstResponse sends SUB for the target with the extra fields, written in
// the given version ("HTTP/1.0", "HTTP/1.1") on a connection of the
// suite's own, and reads the first response, interim or final. With
// withBody it also reads the body of a final response, up to maxBody;
// without, it leaves the body unread, as that of a stream never ends.
func (s *suiteRun) firstResponse(ctx context.Context, version string, fields http.Header, withBody bool) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	conn, err := s.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, s.rawRequest(wire.MethodSUB, s.base.RequestURI(), version, fields)); err != nil {
		return nil, nil, err
	}
	// ReadResponse returns a 1xx as it is, without waiting for more.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || !withBody {
		return resp, nil, err
	}
	var body []byte
	if resp.StatusCode >= 200 {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	}
	resp.Body.Close()
	return resp, body, nil
}

func checkHTTP10Refused(ctx context.Context, s *suiteRun) Result {
	resp, _, err := s.http10(ctx)
	switch {
	case err != nil:
		return fail("SUB over HTTP/1.0: %v", err)
	case resp.StatusCode < 200:
		return fail("SUB over HTTP/1.0 was answered with a %d interim response", resp.StatusCode)
	case resp.StatusCode != http.StatusHTTPVersionNotSupported:
		return fail("SUB over HTTP/1.0 was answered %d, not 505", resp.StatusCode)
	}
	return pass("505")
}

func checkHTTP10Hint(ctx context.Context, s *suiteRun) Result {
	resp, body, err := s.http10(ctx)
	if err != nil || resp.StatusCode != http.StatusHTTPVersionNotSupported {
		return skip("no 505 to look at (http11/1)")
	}
	text := strings.ToLower(string(body))
	if !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		return fail("the 505 has Content-Type %q, not a problem detail", resp.Header.Get("Content-Type"))
	}
	for _, hint := range []string{"http/1.1", "http/2", "http/3", "text/event-stream"} {
		if strings.Contains(text, hint) {
			return pass("the problem detail names %s", hint)
		}
	}
	return fail("the problem detail %.200q names neither a later HTTP version nor text/event-stream", body)
}

// afterMoreWait is how long checkNothingAfterMore waits, once an event has
// been published, for what the server writes on a subscription's
// connection after the client sent more.
const afterMoreWait = 3 * time.Second

// inFlight is how soon after the client's bytes a keepalive may still
// arrive that the server wrote before it could have read them; the event
// is published only after twice that, once the server has had the time to
// receive them, which is what the requirement is about.
const inFlight = 100 * time.Millisecond

// checkNothingAfterMore opens a subscription over HTTP/1.1 on a connection
// of the suite's own, sends a GET on it once acknowledged, as a proxy that
// took the acknowledgement for the final response would, then has the
// server publish: nothing more may arrive (a 106 already on its way when
// the GET was sent aside), and the connection should close.
func checkNothingAfterMore(ctx context.Context, s *suiteRun) Result {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout()+afterMoreWait)
	defer cancel()
	conn, err := s.dial(ctx)
	if err != nil {
		return fail("connecting: %v", err)
	}
	defer conn.Close()
	path := s.base.RequestURI()
	if _, err := io.WriteString(conn, s.rawRequest(wire.MethodSUB, path, "HTTP/1.1", nil)); err != nil {
		return fail("sending SUB: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	switch {
	case err != nil:
		return fail("SUB over HTTP/1.1: %v", err)
	case resp.StatusCode != wire.StatusNoOperation:
		return skip("SUB over HTTP/1.1 was answered %d, not acknowledged (http11/3)", resp.StatusCode)
	}
	br.Discard(br.Buffered()) // written before the GET was sent
	sent := time.Now()
	if _, err := io.WriteString(conn, s.rawRequest(http.MethodGet, path, "HTTP/1.1", nil)); err != nil {
		return fail("sending a GET behind the subscription: %v", err)
	}
	time.Sleep(2 * inFlight)
	if err := s.publishMore(ctx, 1); err != nil {
		return fail("publishing: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(afterMoreWait))
	for {
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			if resp.StatusCode == wire.StatusNoOperation && time.Since(sent) < inFlight {
				continue // a keepalive on its way as the GET was sent
			}
			return fail("after a GET behind the subscription the server sent a %d response", resp.StatusCode)
		}
		var ne net.Error
		switch {
		case br.Buffered() > 0:
			return fail("after a GET behind the subscription the server wrote %q", peekAll(br))
		case errors.As(err, &ne) && ne.Timeout():
			return pass("nothing more was written in %v after the GET and an event, though the connection stayed open", afterMoreWait)
		}
		return pass("nothing more was written, and the connection closed (%v)", err)
	}
}

func peekAll(br *bufio.Reader) []byte {
	b, _ := br.Peek(min(br.Buffered(), 200))
	return b
}
