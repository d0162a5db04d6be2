package conformance

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// The checks of per-hop negotiation (section "negotiation").

// checkSetting reads the server's SETTINGS on a connection of the suite's
// own over version.
func checkSetting(ctx context.Context, s *suiteRun, version string) Result {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	var got map[uint64]uint64
	var err error
	switch version {
	case client.HTTP2:
		got, err = s.http2Settings(ctx)
	case client.HTTP3:
		if s.base.Scheme != "https" {
			return skip("not tried: HTTP/3 needs an https URL")
		}
		got, err = s.http3Settings(ctx)
	}
	if err != nil {
		return skip("no %s connection: %v", versionNames[version], err)
	}
	v, ok := got[wire.SettingEnableSUB]
	switch {
	case !ok:
		return fail("SETTINGS %v has no SETTINGS_ENABLE_SUB (%#x)", got, wire.SettingEnableSUB)
	case v != 1:
		return fail("SETTINGS_ENABLE_SUB is %d, not 1", v)
	}
	return pass("SETTINGS_ENABLE_SUB = 1")
}

// http2Settings is the server's first SETTINGS frame: over TLS with ALPN
// h2, or h2c with prior knowledge for an http URL.
func (s *suiteRun) http2Settings(ctx context.Context) (map[uint64]uint64, error) {
	conn, fr, err := s.dialHTTP2(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return nil, fmt.Errorf("no SETTINGS: %w", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			got := map[uint64]uint64{}
			sf.ForeachSetting(func(st http2.Setting) error {
				got[uint64(st.ID)] = uint64(st.Val)
				return nil
			})
			return got, nil
		}
	}
}

// dialHTTP2 opens an HTTP/2 connection frame by frame (TLS with ALPN h2,
// or h2c with prior knowledge for an http URL), sending the preface and a
// SETTINGS frame with settings.
func (s *suiteRun) dialHTTP2(ctx context.Context, settings ...http2.Setting) (net.Conn, *http2.Framer, error) {
	conn, err := s.dialOffering(ctx, "h2")
	if err != nil {
		return nil, nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			conn.Close()
			return nil, nil, fmt.Errorf("ALPN chose %q, not h2", p)
		}
	}
	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(settings...); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, fr, nil
}

// http3Settings is the server's SETTINGS on a QUIC connection.
func (s *suiteRun) http3Settings(ctx context.Context) (map[uint64]uint64, error) {
	qc, err := quic.DialAddr(ctx, s.authority(), s.tlsOffering(http3.NextProtoH3), nil)
	if err != nil {
		return nil, err
	}
	defer qc.CloseWithError(0, "")
	cc := (&http3.Transport{}).NewClientConn(qc)
	select {
	case <-cc.ReceivedSettings():
	case <-ctx.Done():
		return nil, fmt.Errorf("no SETTINGS: %w", ctx.Err())
	}
	return cc.Settings().Other, nil
}

// firstHTTP11Response sends SUB over HTTP/1.1 with the extra fields and
// reads the first response, interim or final.
func (s *suiteRun) firstHTTP11Response(ctx context.Context, fields http.Header) (*http.Response, error) {
	resp, _, err := s.firstResponse(ctx, "HTTP/1.1", fields, false)
	return resp, err
}

func checkEcho(ctx context.Context, s *suiteRun) Result {
	resp, err := s.firstHTTP11Response(ctx, http.Header{wire.FieldEnableSUB: {wire.EnableSUBValue}, "Connection": {wire.FieldEnableSUB}})
	switch {
	case err != nil:
		return fail("SUB over HTTP/1.1: %v", err)
	case resp.StatusCode != wire.StatusNoOperation:
		return fail("the first response is %d, not 106", resp.StatusCode)
	case !wire.HopEnablesSUB(resp.Header):
		return fail("the 106 has Enable-SUB %q and Connection %q", resp.Header.Values(wire.FieldEnableSUB), resp.Header.Values("Connection"))
	}
	return pass("Enable-SUB: %s, Connection: %s", resp.Header.Get(wire.FieldEnableSUB), strings.Join(resp.Header.Values("Connection"), ", "))
}

func checkNoEchoUnasked(ctx context.Context, s *suiteRun) Result {
	for _, tc := range []struct {
		what   string
		fields http.Header
	}{
		{"without Enable-SUB", nil},
		{"with Enable-SUB not named in Connection", http.Header{wire.FieldEnableSUB: {wire.EnableSUBValue}}},
	} {
		resp, err := s.firstHTTP11Response(ctx, tc.fields)
		switch {
		case err != nil:
			return fail("SUB over HTTP/1.1 %s: %v", tc.what, err)
		case resp.StatusCode != wire.StatusNoOperation:
			return fail("SUB over HTTP/1.1 %s: the first response is %d, not 106", tc.what, resp.StatusCode)
		case len(resp.Header.Values(wire.FieldEnableSUB)) > 0:
			return fail("SUB over HTTP/1.1 %s was answered with Enable-SUB: %s", tc.what, resp.Header.Get(wire.FieldEnableSUB))
		}
	}
	return pass("no Enable-SUB on the 106 to requests that did not negotiate")
}

// checkAcknowledgementMarked looks at the main round, whose client
// negotiates on HTTP/1.1.
func checkAcknowledgementMarked(_ context.Context, s *suiteRun) Result {
	return perSubscription(s, func(_ *recording, responses []response, _ []client.Event) []string {
		var problems []string
		first := true
		for i, resp := range interims(responses) {
			if resp.Status != wire.StatusNoOperation {
				continue
			}
			marked := wire.EnablesSUB(resp.Header)
			switch {
			case first && !marked:
				problems = append(problems, "the acknowledging 106 has no Enable-SUB")
			case !first && marked:
				problems = append(problems, fmt.Sprintf("interim response %d, a keepalive, carries Enable-SUB", i+1))
			}
			first = false
		}
		return problems
	})
}
