package h2

import (
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"
)

// InterimWriter is implemented by this package's http.ResponseWriter:
// WriteInterim queues an interim response (status 100 to 199, not 101) with
// the fields of h, copied before it returns, and returns without waiting
// for the frame to be written (it waits only while the connection's write
// queue is over Server.MaxQueuedBytes, until the write deadline). It fails
// once the final response is queued, the stream has closed, or the write
// deadline has passed. WriteHeader with a 1xx status does the same from
// the handler's header map, without the error.
type InterimWriter interface {
	WriteInterim(status int, h http.Header) error
}

var (
	errNotThisConn = errors.New("h2: response of another connection")
	errNotInterim  = errors.New("h2: not an interim status")
)

// ConnOf is the connection a response is written to, or nil if w is not
// one of this package's (it looks through Unwrap() http.ResponseWriter, as
// http.ResponseController does).
func ConnOf(w http.ResponseWriter) *Conn {
	if rw := unwrap(w); rw != nil {
		return rw.st.c
	}
	return nil
}

func unwrap(w http.ResponseWriter) *responseWriter {
	for {
		switch t := w.(type) {
		case *responseWriter:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// responseWriter is the http.ResponseWriter of one stream. Like net/http's,
// it is for the handler's goroutine, except for the deadlines, which any
// goroutine may set.
type responseWriter struct {
	st  *stream
	req *http.Request

	header      http.Header // the handler's
	snap        http.Header // the final response's, as of WriteHeader
	status      int
	wroteHeader bool // the final status is chosen
	sentHeader  bool // the final HEADERS is queued
	flushed     bool
	declared    int64 // the handler's Content-Length, or -1
	written     int64
	buf         []byte
	trailers    []string // declared in Trailer
	head        bool
	failed      error
	done        bool // the handler has returned
}

func newResponseWriter(st *stream, r *http.Request) *responseWriter {
	return &responseWriter{
		st:       st,
		req:      r,
		header:   make(http.Header),
		declared: -1,
		head:     r.Method == http.MethodHead,
	}
}

func (rw *responseWriter) Header() http.Header { return rw.header }

// WriteHeader sends an interim response at once (queued) for 1xx, or
// chooses the final status, sent with the first flush of the body or
// when the handler returns.
func (rw *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("h2: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if rw.wroteHeader {
		return
	}
	if code < 200 {
		if code == http.StatusSwitchingProtocols {
			return // forbidden in HTTP/2 (RFC 9113 §8.6)
		}
		rw.WriteInterim(code, rw.header)
		return
	}
	rw.wroteHeader = true
	rw.status = code
	rw.snap = rw.header.Clone()
	if rw.snap == nil {
		rw.snap = make(http.Header)
	}
	for _, v := range rw.snap["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" {
				rw.trailers = append(rw.trailers, k)
			}
		}
	}
	if cl := rw.snap.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			rw.declared = n
		} else {
			rw.snap.Del("Content-Length")
		}
	}
}

func (rw *responseWriter) WriteInterim(status int, h http.Header) error {
	if status < 100 || status > 199 || status == http.StatusSwitchingProtocols {
		return errNotInterim
	}
	if rw.wroteHeader {
		return errStreamDone
	}
	fields, size := appendFields(nil, h)
	return rw.st.writeHeaders(status, fields, size, false)
}

// FieldsWriter is what an InterimWriter also does with fields prepared
// once (NewFields) and shared by many streams: the interim response is
// queued with nothing copied or checked again for this stream, which is
// what a subscription's PUB needs, sent to many subscribers.
type FieldsWriter interface {
	WriteInterimFields(status int, f *Fields) error
}

var _ FieldsWriter = (*responseWriter)(nil)

// WriteInterimFields implements FieldsWriter.
func (rw *responseWriter) WriteInterimFields(status int, f *Fields) error {
	if status < 100 || status > 199 || status == http.StatusSwitchingProtocols {
		return errNotInterim
	}
	if rw.wroteHeader {
		return errStreamDone
	}
	return rw.st.writeHeaders(status, f.f, f.size, false)
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(rw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if rw.failed != nil {
		return 0, rw.failed
	}
	if rw.declared >= 0 && rw.written+int64(len(p)) > rw.declared {
		return 0, http.ErrContentLength
	}
	rw.written += int64(len(p))
	if rw.head {
		if !rw.sentHeader {
			rw.buf = append(rw.buf, p[:min(len(p), rw.st.c.writeBufSize-len(rw.buf))]...)
		}
		return len(p), nil
	}
	if len(rw.buf)+len(p) <= rw.st.c.writeBufSize {
		rw.buf = append(rw.buf, p...)
		return len(p), nil
	}
	if err := rw.send(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// send queues the final HEADERS if not yet, then what is buffered and p.
func (rw *responseWriter) send(p []byte, end bool) error {
	if rw.failed != nil {
		return rw.failed
	}
	hasBody := (len(rw.buf) > 0 || len(p) > 0) && !rw.head && bodyAllowed(rw.status)
	if !rw.sentHeader {
		if err := rw.sendHeader(end && !hasBody); err != nil {
			rw.failed = err
			return err
		}
		if end && !hasBody {
			return nil
		}
	}
	if rw.head || !bodyAllowed(rw.status) {
		rw.buf = rw.buf[:0]
		if end {
			return rw.fail(rw.st.writeData(nil, true))
		}
		return nil
	}
	if len(rw.buf) > 0 {
		if err := rw.st.writeData(rw.buf, end && len(p) == 0); err != nil {
			return rw.fail(err)
		}
		rw.buf = rw.buf[:0]
	}
	if len(p) > 0 || (end && !hasBody) {
		return rw.fail(rw.st.writeData(p, end))
	}
	return nil
}

func (rw *responseWriter) fail(err error) error {
	if err != nil {
		rw.failed = err
	}
	return err
}

// sendHeader queues the final HEADERS. Before the handler has flushed and
// while its body is all buffered, the body's length is known: it goes in
// Content-Length.
func (rw *responseWriter) sendHeader(end bool) error {
	rw.sentHeader = true
	h := rw.snap
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			delete(h, k)
		}
	}
	fields, size := appendFields(nil, h)
	if _, ok := h["Date"]; !ok {
		fields = append(fields, hpack.HeaderField{Name: "date", Value: httpDate()})
	}
	if _, ok := h["Content-Type"]; !ok && bodyAllowed(rw.status) && len(rw.buf) > 0 {
		fields = append(fields, hpack.HeaderField{Name: "content-type", Value: http.DetectContentType(rw.buf)})
	}
	if rw.declared < 0 && bodyAllowed(rw.status) && !rw.flushed && rw.done && (rw.written > 0 || !rw.head) {
		fields = append(fields, hpack.HeaderField{Name: "content-length", Value: strconv.FormatInt(rw.written, 10)})
	}
	return rw.st.writeHeaders(rw.status, fields, size, end)
}

// Flush sends the final HEADERS, if not yet sent, and the buffered body.
func (rw *responseWriter) Flush() { rw.FlushError() }

// FlushError is Flush reporting why the response cannot be written.
func (rw *responseWriter) FlushError() error {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	rw.flushed = true
	return rw.send(nil, false)
}

// SetWriteDeadline bounds the response's writes, waits for flow control
// included; past it they fail with os.ErrDeadlineExceeded and the stream is
// reset. Safe from any goroutine.
func (rw *responseWriter) SetWriteDeadline(t time.Time) error {
	rw.st.setWriteDeadline(t)
	return nil
}

// SetReadDeadline bounds the reads of the request body. Safe from any
// goroutine.
func (rw *responseWriter) SetReadDeadline(t time.Time) error {
	rw.st.setReadDeadline(t)
	return nil
}

// EnableFullDuplex does nothing: HTTP/2 streams are full duplex.
func (rw *responseWriter) EnableFullDuplex() error { return nil }

// finish ends the response when the handler returns.
func (rw *responseWriter) finish() {
	rw.done = true
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	trailers := rw.trailerFields()
	if err := rw.send(nil, len(trailers) == 0); err != nil || len(trailers) == 0 {
		return
	}
	rw.st.writeHeaders(0, trailers, 0, true)
}

// trailerFields are the trailers the handler set: those declared in
// Trailer, and those named with http.TrailerPrefix.
func (rw *responseWriter) trailerFields() []hpack.HeaderField {
	var fields []hpack.HeaderField
	add := func(k string, vs []string) {
		name := lowerKey(k)
		if !validFieldName(name) || !httpguts.ValidTrailerHeader(k) {
			return
		}
		for _, v := range vs {
			if httpguts.ValidHeaderFieldValue(v) {
				fields = append(fields, hpack.HeaderField{Name: name, Value: v})
			}
		}
	}
	for _, k := range rw.trailers {
		add(k, rw.header[k])
	}
	for k, vs := range rw.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			add(http.CanonicalHeaderKey(name), vs)
		}
	}
	return fields
}

func (rw *responseWriter) release() { rw.buf = nil }

// httpDate is the Date field value, formatted once a second.
func httpDate() string {
	now := time.Now().Unix()
	if d := dateCache.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &cachedDate{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

type cachedDate struct {
	unix int64
	text string
}

var dateCache atomic.Pointer[cachedDate]

func stack() string {
	buf := make([]byte, 16<<10)
	return string(buf[:runtime.Stack(buf, false)])
}
