package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultACMEChallengeAddr is where tls-alpn-01 validation arrives unless
// ACME.ChallengeAddr says otherwise: port 443 on every interface, the only
// port an ACME CA connects to for that challenge.
const DefaultACMEChallengeAddr = ":443"

// acmeTLS1 is the ALPN protocol of the tls-alpn-01 challenge (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// ACME obtains certificates from an ACME certificate authority (Let's Encrypt
// by default) and renews them before they expire, so that an edge or origin
// reachable under a public name needs no certificate management by hand.
//
// Domains are validated with the tls-alpn-01 challenge only: it arrives on
// the TLS port the server already listens on, so no second port (80, for
// http-01) has to be open or free, and renewals are answered by the running
// Server itself.
//
// An ACME is a configuration until TLSConfig is called; after that it holds
// the certificate manager, and its fields must not change.
type ACME struct {
	// Domains are the names to obtain certificates for. Required.
	Domains []string

	// CA is the ACME directory URL. Default
	// certmagic.LetsEncryptProductionCA, in which case a background renewal
	// that failed is retried against Let's Encrypt's staging endpoint first,
	// so that failing retries do not use up production rate limits.
	CA string

	// Email is the ACME account's contact, to which the CA sends expiry and
	// incident notices. Optional.
	Email string

	// StorageDir is where certificates, their keys and the ACME account
	// persist, so that a restart reuses them instead of asking the CA again
	// (and running into its rate limits). Required.
	StorageDir string

	// ChallengeAddr is the TCP address, "host:port", that the CA's
	// tls-alpn-01 validation connections reach: normally the Server's own
	// TLS address. When nothing listens there (the first time, before the
	// Server starts), a temporary listener answers; when something does, it
	// is assumed to serve the TLSConfig returned here. Set it when port 443
	// is forwarded to another port, or to one interface. Default
	// DefaultACMEChallengeAddr.
	ChallengeAddr string

	// TrustedRoots are the roots trusted for the ACME server's own TLS
	// certificate, for a private or test CA. Nil means the system's roots.
	TrustedRoots *x509.CertPool

	// Logger receives certificate events and errors. Default slog.Default().
	Logger *slog.Logger

	mu    sync.Mutex
	magic *certmagic.Config // set by TLSConfig
	stop  func()            // stops maintenance; set by TLSConfig
}

// TLSConfig obtains a certificate for every name in Domains, unless
// StorageDir already holds a usable one, and returns a server configuration
// that serves them and answers tls-alpn-01 challenges. It blocks until the
// certificates are there, so that configuration errors (DNS, firewall, rate
// limits) surface at startup rather than at the first handshake.
//
// Certificates are then renewed in the background until ctx is done or
// Close is called; the configuration keeps serving what it has either way.
// TLSConfig may be called once.
func (a *ACME) TLSConfig(ctx context.Context) (*tls.Config, error) {
	if len(a.Domains) == 0 {
		return nil, errors.New("host: ACME.Domains is empty")
	}
	if a.StorageDir == "" {
		return nil, errors.New("host: ACME.StorageDir is empty")
	}
	challengeAddr := a.ChallengeAddr
	if challengeAddr == "" {
		challengeAddr = DefaultACMEChallengeAddr
	}
	listenHost, portStr, err := net.SplitHostPort(challengeAddr)
	if err != nil {
		return nil, fmt.Errorf("host: ACME.ChallengeAddr %q: %w", challengeAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("host: ACME.ChallengeAddr %q: bad port", challengeAddr)
	}
	ca := a.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	logger := a.Logger
	if logger == nil {
		logger = slog.Default()
	}
	zl := zap.New(slogCore{h: logger.With("component", "acme").Handler()})

	a.mu.Lock()
	if a.stop != nil {
		a.mu.Unlock()
		return nil, errors.New("host: ACME.TLSConfig called twice")
	}
	// The cache asks for the configuration of each certificate it renews;
	// there is one, published once it exists.
	var current atomic.Pointer[certmagic.Config]
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) {
			if c := current.Load(); c != nil {
				return c, nil
			}
			return nil, errors.New("host: ACME configuration not ready")
		},
		Logger: zl,
	})
	// Every field that certmagic.New would otherwise take from the
	// package-level certmagic.Default is set here.
	magic := certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: a.StorageDir},
		Logger:  zl,
	})
	issuer := certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                   ca,
		Email:                a.Email,
		Agreed:               true,
		DisableHTTPChallenge: true,
		ListenHost:           listenHost,
		AltTLSALPNPort:       port,
		TrustedRoots:         a.TrustedRoots,
		Logger:               zl,
	})
	var iss certmagic.Issuer = issuer
	if a.Email == "" {
		// Only without an email may certmagic prompt; with one, the issuer
		// stays an *ACMEIssuer, which certmagic needs to see to tell the CA
		// which certificate a renewal replaces (ARI).
		iss = unattendedIssuer{issuer}
	}
	magic.Issuers = []certmagic.Issuer{iss}
	current.Store(magic)

	var stopOnce sync.Once
	stopCache := func() { stopOnce.Do(cache.Stop) }
	unregister := context.AfterFunc(ctx, stopCache)
	a.magic = magic
	a.stop = func() {
		unregister()
		stopCache()
	}
	a.mu.Unlock()

	if err := magic.ManageSync(ctx, a.Domains); err != nil {
		a.Close()
		return nil, fmt.Errorf("host: obtaining certificates for %v from %s: %w", a.Domains, ca, err)
	}
	return acmeTLSConfig(magic.GetCertificate), nil
}

// Close stops renewing certificates and waits for the renewal goroutine to
// end. A configuration returned by TLSConfig still serves the certificates
// it has.
//
// What certmagic keeps at package level outlives Close: an idle rate
// limiter goroutine per CA and account, lock file refreshers for up to five
// seconds after an obtain, and the ACME client's idle connections.
func (a *ACME) Close() error {
	a.mu.Lock()
	stop := a.stop
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
	return nil
}

// acmeTLSConfig serves the managed certificates for h2, http/1.1 and
// acme-tls/1.
//
// A server that sets its own NextProtos on a clone of this configuration
// (as Server does, for TCP and for QUIC) would drop acme-tls/1 and fail the
// challenge during renewals. A challenge connection offers acme-tls/1 alone
// (RFC 8737, section 3), so GetConfigForClient, which runs before ALPN is
// negotiated and survives cloning, gives it a configuration of its own.
func acmeTLSConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	challenge := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCertificate,
		NextProtos:     []string{acmeTLS1},
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCertificate,
		NextProtos:     []string{"h2", "http/1.1", acmeTLS1},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1 {
				return challenge, nil
			}
			return nil, nil
		},
	}
}

// unattendedIssuer is an ACME issuer that never prompts. During a
// synchronous obtain, certmagic asks on standard input for an email address
// when none is configured (which would stall a server started from a
// terminal) and then changes its package-level defaults; its pre-check is
// told the obtain is not interactive.
type unattendedIssuer struct{ *certmagic.ACMEIssuer }

// The wrapper keeps the interfaces certmagic looks for in an issuer.
var (
	_ certmagic.PreChecker        = unattendedIssuer{}
	_ certmagic.Issuer            = unattendedIssuer{}
	_ certmagic.Revoker           = unattendedIssuer{}
	_ certmagic.RenewalInfoGetter = unattendedIssuer{}
)

func (u unattendedIssuer) PreCheck(ctx context.Context, names []string, _ bool) error {
	return u.ACMEIssuer.PreCheck(ctx, names, false)
}

// slogCore is a zap core writing to a slog handler: certmagic logs through
// zap, and the rest of the program through the injected slog.Logger.
type slogCore struct {
	h slog.Handler
}

var _ zapcore.Core = slogCore{}

func (c slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c slogCore) With(fields []zapcore.Field) zapcore.Core {
	return slogCore{h: c.h.WithAttrs(slogAttrs(fields))}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	// A name given under an unnamed logger starts with a dot.
	if name := strings.TrimPrefix(e.LoggerName, "."); name != "" {
		r.AddAttrs(slog.String("logger", name))
	}
	r.AddAttrs(slogAttrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (slogCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l < zapcore.InfoLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// slogAttrs encodes zap fields with zap's own encoder, so that every field
// type (errors, durations, objects) comes out as zap would log it.
func slogAttrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}
