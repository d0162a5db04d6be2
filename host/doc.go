// Package host puts a handler on the network the way origin and edge both
// need: TLS on TCP (HTTP/1.1 and HTTP/2) and HTTP/3 on UDP at the same port,
// advertised with Alt-Svc, cleartext HTTP/1.1 and h2c beside them, and the
// certificates for TLS, from a local CA generated once or from an ACME CA
// (certmagic). It knows nothing of subscriptions.
package host
