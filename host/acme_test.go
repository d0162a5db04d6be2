package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
	"github.com/quic-go/quic-go/http3"
)

// acmeDomain is in a reserved top-level domain, so it resolves nowhere:
// either the CA does not validate, or the test's own resolver answers.
const acmeDomain = "edge.test"

func TestACME(t *testing.T) {
	t.Run("a certificate is obtained and served over HTTP/2 and HTTP/3", func(t *testing.T) {
		p := startPebble(t, pebbleOptions{})
		a := p.acme(t, t.TempDir())
		conf, err := a.TLSConfig(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		srv := startACMEServer(t, conf, "127.0.0.1:0")
		url := "https://" + srv.TLSAddr().String() + "/"
		clientTLS := &tls.Config{ServerName: acmeDomain, RootCAs: p.roots}

		h2 := &http.Transport{TLSClientConfig: clientTLS.Clone(), ForceAttemptHTTP2: true}
		defer h2.CloseIdleConnections()
		checkServed(t, &http.Client{Transport: h2}, url, 2)

		h3 := &http3.Transport{TLSClientConfig: clientTLS.Clone()}
		defer h3.Close()
		checkServed(t, &http.Client{Transport: h3}, url, 3)
	})

	t.Run("a restart reuses the stored certificate without asking the CA", func(t *testing.T) {
		p := startPebble(t, pebbleOptions{})
		dir := t.TempDir()
		first := p.acme(t, dir)
		conf, err := first.TLSConfig(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		obtained := servedLeaf(t, conf, p.roots)
		first.Close()

		p.offline.Store(true)
		again := p.acme(t, dir)
		conf, err = again.TLSConfig(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := servedLeaf(t, conf, p.roots); !got.Equal(obtained) {
			t.Errorf("serving certificate %s after the restart, want the stored %s", got.SerialNumber, obtained.SerialNumber)
		}
	})

	t.Run("a renewal's tls-alpn-01 challenge is answered by the running server", func(t *testing.T) {
		port := freePort(t)
		p := startPebble(t, pebbleOptions{validate: true, tlsPort: port, resolver: startResolver(t)})
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		a := p.acme(t, t.TempDir())
		a.ChallengeAddr = addr
		// Nothing listens at addr yet: a temporary listener answers.
		conf, err := a.TLSConfig(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		srv := startACMEServer(t, conf, addr)
		// The Server now holds addr, so only it can answer the CA.
		if err := a.magic.RenewCertSync(t.Context(), acmeDomain, true); err != nil {
			t.Fatalf("renewing through %s: %v", srv.TLSAddr(), err)
		}
	})

	t.Run("maintenance stops on Close and at the end of the context", func(t *testing.T) {
		p := startPebble(t, pebbleOptions{})
		start := func(ctx context.Context) (*ACME, <-chan struct{}) {
			a := p.acme(t, t.TempDir())
			var stopped <-chan struct{}
			a.Logger, stopped = watchLog(t, "stopped background certificate maintenance")
			if _, err := a.TLSConfig(ctx); err != nil {
				t.Fatal(err)
			}
			return a, stopped
		}

		a, stopped := start(t.Context())
		a.Close()
		select {
		case <-stopped:
		default:
			t.Error("Close returned with maintenance still running")
		}

		ctx, cancel := context.WithCancel(t.Context())
		_, stopped = start(ctx)
		cancel()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Error("maintenance still running after the context ended")
		}
	})
}

// watchLog is a logger to the test's output and a channel closed once a
// record with message msg has been logged.
func watchLog(t *testing.T, msg string) (*slog.Logger, <-chan struct{}) {
	w := &logWatch{Handler: testSlog(t).Handler(), msg: msg, seen: make(chan struct{}), once: new(sync.Once)}
	return slog.New(w), w.seen
}

// logWatch passes records on to Handler and closes seen at the first whose
// message is msg.
type logWatch struct {
	slog.Handler
	msg  string
	seen chan struct{}
	once *sync.Once
}

func (w *logWatch) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == w.msg {
		w.once.Do(func() { close(w.seen) })
	}
	return w.Handler.Handle(ctx, r)
}

func (w *logWatch) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *w
	c.Handler = w.Handler.WithAttrs(attrs)
	return &c
}

func (w *logWatch) WithGroup(name string) slog.Handler {
	c := *w
	c.Handler = w.Handler.WithGroup(name)
	return &c
}

// checkServed gets url with c and checks that the response came over HTTP
// major version proto with a certificate for acmeDomain that chains to the
// client's roots.
func checkServed(t *testing.T, c *http.Client, url string, proto int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("HTTP/%d: %v", proto, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("HTTP/%d: reading: %v", proto, err)
	}
	if resp.ProtoMajor != proto || string(body) != "hello" {
		t.Errorf("got HTTP/%d %q, want HTTP/%d %q", resp.ProtoMajor, body, proto, "hello")
	}
	if resp.TLS == nil || len(resp.TLS.VerifiedChains) == 0 {
		t.Fatalf("HTTP/%d: no verified chain", proto)
	}
	if leaf := resp.TLS.VerifiedChains[0][0]; !slices.Contains(leaf.DNSNames, acmeDomain) {
		t.Errorf("HTTP/%d: certificate names %v, want %s", proto, leaf.DNSNames, acmeDomain)
	}
}

// servedLeaf is the certificate conf presents for acmeDomain, verified
// against roots, over an in-memory connection.
func servedLeaf(t *testing.T, conf *tls.Config, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	srv := tls.Server(s, conf)
	go srv.HandshakeContext(t.Context())
	client := tls.Client(c, &tls.Config{ServerName: acmeDomain, RootCAs: roots})
	if err := client.HandshakeContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	return client.ConnectionState().PeerCertificates[0]
}

func startACMEServer(t *testing.T, conf *tls.Config, addr string) *Server {
	t.Helper()
	srv := &Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "hello")
		}),
		Addr:      addr,
		TLSConfig: conf,
		Logger:    testSlog(t),
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// testPebble is Pebble, Let's Encrypt's ACME test server, run in process on
// loopback.
type testPebble struct {
	// dir is the ACME directory URL.
	dir string
	// serverRoots trusts the ACME server's own TLS certificate.
	serverRoots *x509.CertPool
	// roots trusts the certificates it issues.
	roots *x509.CertPool
	// offline, when set, makes every request fail the test.
	offline atomic.Bool
}

type pebbleOptions struct {
	// validate makes the VA validate challenges for real: tls-alpn-01
	// connects to tlsPort at the address resolver (a DNS server) gives.
	// Otherwise every challenge passes unchecked.
	validate bool
	tlsPort  int
	resolver string
}

// startPebble starts Pebble. Pebble reads its knobs from the environment
// when its parts are created, so the test's environment is set first.
func startPebble(t *testing.T, opts pebbleOptions) *testPebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", strconv.FormatBool(!opts.validate))
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	// Every nonce is good and no authorization is reused, so that each
	// order exercises a challenge and nothing depends on chance.
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")

	logger := log.New(testOutput(t), "pebble: ", log.Lmicroseconds)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1,
		map[string]ca.Profile{"default": {Description: "the default profile"}})
	validator := va.New(logger, 0, opts.tlsPort, false, opts.resolver, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	handler := front.Handler()

	p := &testPebble{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.offline.Load() {
			t.Errorf("the CA was asked for %s %s while it should not have been", r.Method, r.URL)
			http.Error(w, "offline", http.StatusServiceUnavailable)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)

	p.dir = srv.URL + wfe.DirectoryPath
	p.serverRoots = x509.NewCertPool()
	p.serverRoots.AddCert(srv.Certificate())
	p.roots = x509.NewCertPool()
	p.roots.AddCert(authority.GetRootCert(0).Cert)
	return p
}

// acme is an ACME client of p storing into dir, stopped when the test ends.
func (p *testPebble) acme(t *testing.T, dir string) *ACME {
	a := &ACME{
		Domains:      []string{acmeDomain},
		CA:           p.dir,
		StorageDir:   dir,
		TrustedRoots: p.serverRoots,
		Logger:       testSlog(t),
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// startResolver is a DNS server over TCP (as Pebble's VA asks) that answers
// every A question with 127.0.0.1 and every other with nothing.
func startResolver(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{
		Listener:          ln,
		NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			for _, question := range q.Question {
				if question.Qtype == dns.TypeA {
					m.Answer = append(m.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
						A:   net.IPv4(127, 0, 0, 1),
					})
				}
			}
			w.WriteMsg(m)
		}),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-served:
		t.Fatalf("DNS server: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		<-served
	})
	return ln.Addr().String()
}

// freePort is a loopback port nothing listens on now, for when the CA must
// be told the port before the server that will listen on it exists.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func testSlog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testOutput(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testOutput is t.Output() until the test ends, and then nothing: Pebble's
// and certmagic's goroutines may log a last line after the test has what it
// waited for, and writing to a finished test panics.
func testOutput(t *testing.T) io.Writer {
	o := &lockedWriter{w: t.Output()}
	t.Cleanup(func() {
		o.mu.Lock()
		o.w = io.Discard
		o.mu.Unlock()
	})
	return o
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *lockedWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}
