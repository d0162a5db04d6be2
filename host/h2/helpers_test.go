package h2

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// testCert is a self-signed certificate for 127.0.0.1, made once.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "h2 test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// testServer serves a Server on a loopback listener, TLS or h2c. The test
// that starts it ends by closing it and checking that no goroutine of this
// package is left.
type testServer struct {
	t      testing.TB
	srv    *Server
	ln     net.Listener
	addr   string
	tls    bool
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

func startServer(t testing.TB, h http.Handler, useTLS bool, configure ...func(*Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, ln, h, useTLS, configure...)
}

// startServerOn is startServer on a listener of the test's.
func startServerOn(t testing.TB, ln net.Listener, h http.Handler, useTLS bool, configure ...func(*Server)) *testServer {
	t.Helper()
	srv := &Server{Handler: h}
	for _, f := range configure {
		f(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{t: t, srv: srv, ln: ln, addr: ln.Addr().String(), tls: useTLS, cancel: cancel}
	cert, _ := testCert()
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}
	ts.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if useTLS {
				c = tls.Server(c, tlsConf)
			}
			ts.wg.Go(func() { srv.ServeConn(ctx, c) })
		}
	})
	t.Cleanup(func() {
		ts.close()
		checkNoGoroutines(t)
	})
	return ts
}

func (ts *testServer) close() {
	ts.ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		ts.t.Errorf("Shutdown: %v", err)
	}
	ts.cancel()
	ts.wg.Wait()
}

func (ts *testServer) url(path string) string {
	if ts.tls {
		return "https://" + ts.addr + path
	}
	return "http://" + ts.addr + path
}

// transport is Go's HTTP/2 client for ts.
func (ts *testServer) transport(configure ...func(*http2.Transport)) *http2.Transport {
	_, pool := testCert()
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	if !ts.tls {
		tr.AllowHTTP = true
		tr.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	for _, f := range configure {
		f(tr)
	}
	ts.t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func (ts *testServer) client(configure ...func(*http2.Transport)) *http.Client {
	return &http.Client{Transport: ts.transport(configure...), Timeout: 20 * time.Second}
}

// roundTrip sends req with a client of its own and returns the response
// with its body read and closed (and so with its trailers).
func (ts *testServer) roundTrip(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := ts.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// get is roundTrip of a GET of path.
func (ts *testServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.url(path), nil)
	return ts.roundTrip(t, req)
}

// checkNoGoroutines fails if goroutines of this package are still running
// once the test's server is closed: startServer checks as the test ends.
func checkNoGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "subpub/host/h2.(*") && !strings.Contains(g, "checkNoGoroutines") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
