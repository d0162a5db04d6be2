package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/cli"
	"github.com/subpub/subpub/internal/redact"
)

// Exit statuses of sub and pub, curl's where they fit.
const (
	exitFailure     = 1  // anything else
	exitResolve     = 6  // could not resolve host
	exitConnect     = 7  // failed to connect
	exitHTTPError   = 22 // an HTTP status of 400 or more (curl --fail)
	exitTimeout     = 28 // --timeout passed
	exitTLS         = 35 // the TLS handshake failed
	exitEmptyReply  = 52 // the server closed the connection without a response
	exitCertificate = 60 // the server's certificate could not be verified
)

// failure is err, a subscription's or a publication's to target, as one
// line saying what failed and why, with its exit status.
func failure(target string, err error) error {
	host := target
	if u, perr := url.Parse(target); perr == nil && u.Host != "" {
		host = u.Host
	}
	switch client.FailureOf(err) {
	case client.FailureCertificate:
		return cli.Exit(exitCertificate, fmt.Errorf("certificate problem with %s: %v; trust its CA with --cacert FILE (or skip verification with -k)", host, certificateReason(err)))
	case client.FailureTLS:
		return cli.Exit(exitTLS, fmt.Errorf("TLS handshake with %s failed: %v (is it an https port?)", host, innermost(err)))
	case client.FailureResolve:
		var dns *net.DNSError
		errors.As(err, &dns)
		return cli.Exit(exitResolve, fmt.Errorf("could not resolve host %s: %v", dns.Name, dns.Err))
	case client.FailureConnect:
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return cli.Exit(exitConnect, fmt.Errorf("could not connect to %s: %v", host, errno))
		}
		return cli.Exit(exitConnect, fmt.Errorf("could not connect to %s over QUIC: no answer (is it listening on UDP, and does UDP get through?)", host))
	case client.FailureEmptyReply:
		hint := ""
		if u, perr := url.Parse(target); perr == nil && u.Scheme == "http" {
			hint = " (is it an https port?)"
		}
		return cli.Exit(exitEmptyReply, fmt.Errorf("%s closed the connection without a response%s", host, hint))
	case client.FailureStatus:
		return cli.Exit(exitHTTPError, fmt.Errorf("%s: %w", redact.String(target), innermostStatus(err)))
	}
	return cli.Exit(exitFailure, err)
}

// certificateReason is what the verification said ("x509: certificate
// signed by unknown authority"), without the layers around it.
func certificateReason(err error) error {
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return cert.Err
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return unknown
	}
	return innermost(err)
}

// innermostStatus drops what was said around a status error ("publishing
// to URL: "), since the failure line names the URL.
func innermostStatus(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if client.FailureOf(e) == client.FailureStatus {
			err = e
		}
	}
	return err
}

// innermost is the last error of err's chain.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
