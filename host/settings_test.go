package host_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"

	"github.com/subpub/subpub/host"
)

// extensionSetting stands for an extension's SETTINGS parameter.
const extensionSetting = 0xf5b0

// The Server's Settings are advertised with the same identifier and value
// on HTTP/2 (over TLS, read with a raw framer) and on HTTP/3 (read with
// quic-go's client connection); a Server given none advertises neither.
func TestSettingsAreAdvertisedOnHTTP2AndHTTP3(t *testing.T) {
	ca, err := host.LoadOrCreateLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		settings map[uint16]uint32
		want     uint32 // 0: absent
	}{
		{"given", map[uint16]uint32{extensionSetting: 1}, 1},
		{"none given", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &host.Server{
				Handler:   http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
				Addr:      "127.0.0.1:0",
				TLSConfig: ca.TLSConfig(),
				Settings:  tc.settings,
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			addr := srv.TLSAddr().String()
			// What is tested is the SETTINGS, not the certificate.
			roots := &tls.Config{InsecureSkipVerify: true}

			h2, ok2 := http2Settings(t, addr, roots)[extensionSetting]
			if tc.want == 0 && ok2 || tc.want != 0 && h2 != tc.want {
				t.Errorf("HTTP/2 SETTINGS: %#x = %d (present %v), want %d", extensionSetting, h2, ok2, tc.want)
			}
			h3, ok3 := http3Settings(t, addr, roots)[extensionSetting]
			if tc.want == 0 && ok3 || tc.want != 0 && h3 != uint64(tc.want) {
				t.Errorf("HTTP/3 SETTINGS: %#x = %d (present %v), want %d", extensionSetting, h3, ok3, tc.want)
			}
		})
	}
}

// http2Settings reads the server's first SETTINGS frame on a TLS connection
// that negotiated h2.
func http2Settings(t *testing.T, addr string, conf *tls.Config) map[uint64]uint32 {
	t.Helper()
	conf = conf.Clone()
	conf.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q", p)
	}
	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, conn)
	fr.WriteSettings()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			got := map[uint64]uint32{}
			sf.ForeachSetting(func(s http2.Setting) error {
				got[uint64(s.ID)] = s.Val
				return nil
			})
			return got
		}
	}
}

// http3Settings reads the server's SETTINGS on a QUIC connection.
func http3Settings(t *testing.T, addr string, conf *tls.Config) map[uint64]uint64 {
	t.Helper()
	conf = conf.Clone()
	conf.NextProtos = []string{http3.NextProtoH3}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	qc, err := quic.DialAddr(ctx, addr, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	cc := (&http3.Transport{}).NewClientConn(qc)
	select {
	case <-cc.ReceivedSettings():
	case <-ctx.Done():
		t.Fatal("no HTTP/3 SETTINGS")
	}
	return cc.Settings().Other
}
