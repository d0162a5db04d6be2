// Package h2 serves HTTP/2 connections with a connection loop of its own,
// built on golang.org/x/net/http2's Framer and its hpack package, for an
// http.Handler as net/http's server does.
//
// It exists for subscriptions. net/http's HTTP/2 server writes every
// interim response with a blocking round trip to the connection's serve
// goroutine: one HEADERS frame and one goroutine wake-up per subscriber per
// event. Per delivery the edge then spends more CPU on HTTP/2 than on
// HTTP/1.1, and with thousands of subscribers at a hundred events a second,
// a hundred subscriptions per connection, SUB over HTTP/2 collapses. Here a
// WriteHeader(1xx) (or InterimWriter.WriteInterim) queues its fields and
// returns; one writer goroutine per connection encodes what is queued with
// the connection's HPACK encoder, in write order, and writes it all in one
// write. Conn.Batch goes further: the interim responses of one event to
// every subscription of a connection, encoded one after the other (the
// shared Event-Data is indexed once, every further stream refers to it)
// into one buffer and one write. ConnOf tells which connection a response
// belongs to, so that subscriptions can be grouped by connection.
//
// Each connection has a reader (the goroutine in ServeConn), a writer,
// and a goroutine per handler; all end when the connection does, and
// ServeConn returns after them. The server follows RFC 9113: SETTINGS
// exchange, flow control both ways (a request body's window is returned as
// the handler reads; a response waits for the client's window, bounded by
// its write deadline), RST_STREAM cancelling the request's context,
// GOAWAY on Shutdown with streams in flight finishing, requests validated
// as §8.3 says (connection-specific fields, TE other than trailers, bad
// pseudo-header fields reset the stream with PROTOCOL_ERROR), a header
// list over MaxHeaderBytes answered with 431, no interim response over
// the client's SETTINGS_MAX_HEADER_LIST_SIZE sent (the write fails with a
// *FieldSectionTooLargeError), and the known floods bounded: rapid reset,
// CONTINUATION, PING and SETTINGS, stream errors.
//
// Not supported: server push, extended CONNECT (RFC 8441), priorities
// (accepted and ignored, as RFC 9113 §5.3.2 allows), and h2c upgrade from
// HTTP/1.1 (prior knowledge only).
package h2
