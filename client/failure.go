package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/subpub/subpub/wire"
)

// Failure is the kind of failure an error of Run or Publish reports, for
// a program to act on (say, to choose its exit status).
type Failure int

const (
	// FailureOther is any other failure.
	FailureOther Failure = iota
	// FailureCertificate: the server's certificate is not trusted (an
	// unknown authority, another name, expired).
	FailureCertificate
	// FailureTLS: the TLS handshake failed otherwise (for instance, the
	// server does not speak TLS on that port).
	FailureTLS
	// FailureResolve: the server's name did not resolve.
	FailureResolve
	// FailureConnect: the server refused the connection, could not be
	// reached, or did not answer over QUIC.
	FailureConnect
	// FailureStatus: the server answered with an HTTP status of 400 or
	// more (a *wire.StatusError).
	FailureStatus
	// FailureEmptyReply: the server closed the connection without a
	// response (for instance, a cleartext request to a TLS port).
	FailureEmptyReply
)

// FailureOf says what kind of failure err reports.
func FailureOf(err error) Failure {
	var (
		cert     *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		dns      *net.DNSError
		status   *wire.StatusError
	)
	switch {
	case err == nil:
		return FailureOther
	case errors.As(err, &cert), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return FailureCertificate
	case errors.As(err, &record), errors.As(err, &alert):
		return FailureTLS
	case errors.As(err, &dns):
		return FailureResolve
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, errNoQUICAnswer):
		return FailureConnect
	case errors.As(err, &status) && status.Status >= 400:
		return FailureStatus
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return FailureEmptyReply
	}
	return FailureOther
}

// errNoQUICAnswer reports a QUIC connection attempt that got no answer
// within the handshake's timeout: nothing listens on that UDP port, or
// UDP does not get through.
var errNoQUICAnswer = errors.New("no answer over QUIC (UDP)")

// hopeless reports a failure that retrying a subscription that was never
// established will not fix (see Reconnect.FailFast).
func hopeless(err error) bool {
	switch FailureOf(err) {
	case FailureCertificate, FailureTLS, FailureResolve, FailureConnect, FailureEmptyReply:
		return true
	case FailureStatus:
		var se *wire.StatusError
		errors.As(err, &se)
		switch se.Status {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return false // the server asks to come back later
		}
		return true
	}
	return false
}
