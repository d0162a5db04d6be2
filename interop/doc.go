// Package interop holds the interoperability tests: independent clients
// (Node's http and http2 modules, Chromium's EventSource, curl and nghttp)
// subscribing to a subpub origin, and to an edge in front of it, each running
// as a child process. `make interop` runs them and writes the resulting
// matrix to draft/interop-matrix.md.
//
// A test whose client is missing skips, unless SUBPUB_REQUIRE_INTEROP=1,
// when it fails.
package interop
