package edge

import (
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
)

// What the edge does to every message it forwards, as an intermediary
// (RFC 9110 §7.6): it removes the hop-by-hop fields and those Connection
// names, in both directions (§7.6.1); it adds itself to Via (§7.6.3); it
// relays interim responses (§15.2); and it keeps the upstream's Alt-Svc
// from its clients, which reach the edge's own alternative services (its
// HTTP/3 endpoint, advertised by package host), not the upstream's.

// ViaPseudonym names the edge in the Via field (RFC 9110 §7.6.3), in place
// of its host name, which it does not disclose.
const ViaPseudonym = "subpub"

// viaEntry is the edge's Via member for a message received in HTTP
// major.minor: "1.1 subpub", "2 subpub", "3 subpub".
func viaEntry(major, minor int) string {
	version := strconv.Itoa(major)
	if major < 2 {
		version += "." + strconv.Itoa(minor)
	}
	return version + " " + ViaPseudonym
}

// toUpstream prepares the fields of a request received in HTTP major.minor
// for the upstream: no hop-by-hop field, no Alt-Used (it names the edge's
// alternative, not one of the upstream's), and the edge in Via.
func toUpstream(h http.Header, major, minor int) {
	removeHopByHop(h)
	h.Del("Alt-Used")
	h.Add("Via", viaEntry(major, minor))
}

// fromUpstream removes from the fields of a response (final or interim)
// received from the upstream what must not reach the client: hop-by-hop
// fields and the upstream's Alt-Svc.
func fromUpstream(h http.Header) {
	removeHopByHop(h)
	h.Del("Alt-Svc")
}

// writeInterim writes an interim response with exactly the fields given,
// leaving w's header as it was for the final response: a ResponseWriter
// sends its whole header with a 1xx, so what the edge set before (its
// Alt-Svc, CORS fields) is put aside meanwhile. HTTP/1.0 clients get no
// 1xx (RFC 9110 §15.2); neither 100 (each server answers Expect itself)
// nor 101 is relayed.
func writeInterim(w http.ResponseWriter, r *http.Request, code int, fields http.Header) {
	if code == http.StatusContinue || code == http.StatusSwitchingProtocols || code >= 200 || !r.ProtoAtLeast(1, 1) {
		return
	}
	interim := fields.Clone()
	fromUpstream(interim)
	h := w.Header()
	saved := h.Clone()
	clear(h)
	for name, values := range interim {
		h[name] = values
	}
	w.WriteHeader(code)
	clear(h)
	for name, values := range saved {
		h[name] = values
	}
}

// interimRelay passes the interim responses to one request, which the
// transport reports through httptrace, to the client, until stop: the
// transport may report one after RoundTrip returned, when the handler
// owns w again.
type interimRelay struct {
	w       http.ResponseWriter
	r       *http.Request
	mu      sync.Mutex
	stopped bool
}

func (ir *interimRelay) got1xx(code int, h textproto.MIMEHeader) error {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if !ir.stopped {
		writeInterim(ir.w, ir.r, code, http.Header(h))
	}
	return nil
}

func (ir *interimRelay) stop() {
	ir.mu.Lock()
	ir.stopped = true
	ir.mu.Unlock()
}

// relayWriter is the ResponseWriter httputil.ReverseProxy writes the
// pass-through's responses to. The proxy relays an interim response by
// copying its fields into the writer's header, writing it and clearing
// the header, which would send the edge's own fields with the 1xx and
// then lose them for the final response. Here the proxy has a header of
// its own until the final response, which is then merged into the real
// one; interim responses go through writeInterim.
type relayWriter struct {
	http.ResponseWriter
	r       *http.Request
	pending http.Header
	final   bool
}

func newRelayWriter(w http.ResponseWriter, r *http.Request) *relayWriter {
	return &relayWriter{ResponseWriter: w, r: r, pending: make(http.Header)}
}

func (w *relayWriter) Header() http.Header {
	if w.final {
		return w.ResponseWriter.Header()
	}
	return w.pending
}

func (w *relayWriter) WriteHeader(code int) {
	switch {
	case w.final:
	case code < 200:
		writeInterim(w.ResponseWriter, w.r, code, w.pending)
		return
	default:
		w.final = true
		h := w.ResponseWriter.Header()
		for name, values := range w.pending {
			h[name] = append(h[name], values...)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *relayWriter) Write(p []byte) (int, error) {
	if !w.final {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer
// (flushes, deadlines).
func (w *relayWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
