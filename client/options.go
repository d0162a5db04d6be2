// Package client subscribes to subpub streams — with SUB (106 and 105 PUB
// interim responses) or Server-Sent Events, over HTTP/1.1, HTTP/2 or HTTP/3 —
// and resumes them automatically with Last-Event-ID. It also publishes
// activities to an ActivityPub outbox.
//
// A Client holds the connections, so subscriptions made through one Client
// share HTTP/2 and HTTP/3 connections. Client.Run is the efficient form (a
// handler called on the connection's reader); Subscribe is the convenient
// one (an iterator).
package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/wire"
)

// Mode selects how a subscription is requested.
type Mode int

const (
	// ModeAuto tries SUB and falls back to SSE when the server answers 405,
	// 501 or 505, or speaks HTTP/1.0, and when the next hop does not
	// negotiate SUB (see negotiate.go): its HTTP/3 SETTINGS do not enable
	// it, no acknowledgement arrives within AcknowledgeTimeout, a 105
	// arrives before one, or nothing follows one within the keepalive
	// timeout, or SUB fails before an acknowledgement in a way that says
	// more of the path than of the resource.
	ModeAuto Mode = iota
	// ModeSUB uses only the SUB method, and takes the first 106 for the
	// acknowledgement whether or not it says that the hop negotiated SUB.
	ModeSUB
	// ModeSSE uses only GET with Accept: text/event-stream.
	ModeSSE
)

func (m Mode) String() string {
	switch m {
	case ModeSUB:
		return "sub"
	case ModeSSE:
		return "sse"
	}
	return "auto"
}

// HTTP versions a Client can be restricted to.
const (
	HTTPAuto = ""    // HTTP/2 or HTTP/1.1 as ALPN decides (HTTP/1.1 in cleartext)
	HTTP11   = "1.1" // HTTP/1.1 only
	HTTP2    = "2"   // HTTP/2 only (h2c with prior knowledge in cleartext)
	HTTP3    = "3"   // HTTP/3 only (QUIC; https URLs only)
)

// Defaults of Options.
const (
	DefaultKeepAliveTimeout = 45 * time.Second // three origin keepalives
	// DefaultAcknowledgeTimeout is how long ModeAuto waits for the next
	// hop to acknowledge a SUB request (or for its HTTP/3 SETTINGS) before
	// it subscribes with SSE instead. A server acknowledges as soon as it
	// has authorized the request and found where the stream starts, a
	// round trip or two; an intermediary that does not implement SUB
	// never does.
	DefaultAcknowledgeTimeout = 10 * time.Second
	DefaultInitialDelay       = 500 * time.Millisecond
	DefaultMaxDelay           = 30 * time.Second
)

// Options configure a Client. The zero value is usable: auto mode, auto
// HTTP version, system roots, default reconnection.
type Options struct {
	// Mode is SUB, SSE or auto (default).
	Mode Mode

	// DeliverOutOfSequence delivers every event as it arrives, whatever
	// its prev says, instead of failing the attempt with ErrOutOfSequence:
	// for a program that judges the order of a stream itself (a
	// conformance suite), not for one that relies on it.
	DeliverOutOfSequence bool

	// HTTP restricts the HTTP version: HTTPAuto (default), HTTP11, HTTP2
	// or HTTP3.
	HTTP string

	// TLSConfig, when set, is used as is (CAFile and Insecure are ignored).
	TLSConfig *tls.Config
	// CAFile names a PEM file of CA certificates to trust in addition to
	// the system roots (e.g. the origin's generated local CA).
	CAFile string
	// Insecure skips certificate verification, for development only.
	Insecure bool

	// Header holds request fields sent with every request (Authorization).
	Header http.Header

	// LastEventID is where Subscribe starts: after this event.
	LastEventID string

	// Reconnect governs resubscription after a failure.
	Reconnect Reconnect

	// KeepAliveTimeout is how long a subscription may stay silent (no
	// event, no 106, no SSE comment) before the connection is presumed dead
	// and the subscription resumed. Default DefaultKeepAliveTimeout;
	// negative disables it.
	KeepAliveTimeout time.Duration

	// AcknowledgeTimeout is how long ModeAuto waits for the next hop's
	// acknowledgement of a SUB request before it falls back to SSE.
	// Default DefaultAcknowledgeTimeout.
	AcknowledgeTimeout time.Duration

	// MaxEventSize bounds one event (and one response header section).
	// Default wire.DefaultMaxEventSize.
	MaxEventSize int

	// Logger receives reconnection notices. Default: discarded.
	Logger *slog.Logger
}

// Reconnect is the resubscription policy: exponential backoff with full
// jitter, starting from the server's SSE retry or Retry-After when it gave
// one.
type Reconnect struct {
	// Disabled makes any end of the subscription final.
	Disabled bool
	// InitialDelay is the first backoff step. Default DefaultInitialDelay.
	InitialDelay time.Duration
	// MaxDelay caps the backoff. Default DefaultMaxDelay.
	MaxDelay time.Duration
	// MaxAttempts bounds consecutive failed attempts (an attempt that
	// establishes the subscription resets the count). Zero means no bound.
	MaxAttempts int
	// FailFast makes Run give up, before the subscription was ever
	// established, on a failure that retrying will not fix: the server's
	// certificate is not trusted or its TLS handshake fails, its name does
	// not resolve, it refuses the connection (or does not answer over
	// QUIC), it closes the connection without a response, or it answers
	// with a status of 400 or more other than 408, 429 and 503. Once established, a subscription is resumed after any
	// failure but a permanent one, as without FailFast. For command-line
	// programs, whose user is waiting; a server following a stream (an
	// edge) would rather wait for its upstream to come back.
	FailFast bool
}

func (o *Options) keepAliveTimeout() time.Duration {
	if o.KeepAliveTimeout == 0 {
		return DefaultKeepAliveTimeout
	}
	return o.KeepAliveTimeout
}

func (o *Options) acknowledgeTimeout() time.Duration {
	return setting.Or(o.AcknowledgeTimeout, DefaultAcknowledgeTimeout)
}

func (o *Options) maxEventSize() int {
	return setting.Or(o.MaxEventSize, wire.DefaultMaxEventSize)
}

// TLS is the TLS configuration a client of these options dials with: a
// copy of TLSConfig if it is set, else one trusting CAFile besides the
// system's roots, or skipping verification if Insecure. A program that
// opens connections of its own beside a Client's (the conformance suite)
// takes it from here, so that both trust the same servers.
func (o *Options) TLS() (*tls.Config, error) {
	if o.TLSConfig != nil {
		return o.TLSConfig.Clone(), nil
	}
	conf := &tls.Config{InsecureSkipVerify: o.Insecure}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", o.CAFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}
