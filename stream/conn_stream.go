package stream

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/wire"
)

// connStream writes a subscription over HTTP/1.1 on the connection itself,
// taken over from net/http once the request has been read. A batch of
// events then costs one write (one system call, one TLS record), where
// net/http's response buffers would flush every few kilobytes and, for
// SUB, after every interim response; and an idle subscriber holds no
// net/http buffers and no background reader.
//
// Without a reader, a client that closes the connection is noticed by the
// Streamer's hangups (one epoll set for every taken-over connection, on
// Linux), or else by the next write (an event or a keepalive).
//
// A client sends nothing after a subscription's request. Bytes that come
// all the same are another request, from a proxy that took the 106 for the
// final response and reused the connection: written after them, the next
// PUB would be read as that request's response, which may be another
// user's (see draft/survey.md). So a request pipelined behind the
// subscription, or any byte arriving later, ends it with nothing more
// written (the hangups watch for input too). The 106 does not say
// Connection: close, which would keep such a proxy from reusing the
// connection: Node's HTTP parser then refuses every response after it.
//
// An SSE response has no Content-Length and no chunked coding: its body
// ends when the connection closes (Connection: close), which every
// event-stream client expects.
type connStream struct {
	conn    net.Conn
	format  wire.Format
	proto   string
	metrics Metrics
	gone    <-chan struct{} // see hangups
	unwatch func()
	// pipelined says the client sent more after the request before the
	// connection was taken over: nothing is written to it.
	pipelined bool
	// held is charged with a write's bytes while it is in progress: a
	// write to a client that reads slowly holds its batch until the
	// client takes it.
	held *budget.Holder
}

func (cs *connStream) chargeTo(h *budget.Holder) { cs.held = h }

// maxIgnoredBody bounds the body of a subscription's request that is read
// and ignored; past it, the rest counts as sent after the request.
const maxIgnoredBody = 64 << 10

// errClientSentMore ends a subscription whose client sent something after
// its request.
var errClientSentMore = errors.New("the client sent more after a subscription's request")

// batchBuffers hold a batch while it is written, so that idle subscribers
// hold none.
var batchBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// hijackStream takes the connection of an HTTP/1.1 request over, or reports
// false when it cannot be (then net/http writes the stream).
func hijackStream(rc *http.ResponseController, r *http.Request, f wire.Format, m Metrics, h *hangups) (*connStream, bool) {
	if r.ProtoMajor != 1 {
		return nil, false
	}
	// A body, which a subscription does not use, is read first: its bytes
	// are the request's, not more sent after it.
	if r.Body != nil && r.ContentLength != 0 {
		io.Copy(io.Discard, io.LimitReader(r.Body, maxIgnoredBody))
	}
	conn, brw, err := rc.Hijack()
	if err != nil {
		return nil, false
	}
	pipelined := brw.Reader.Buffered() > 0
	brw.Reader.Reset(nil)
	brw.Writer.Reset(nil)
	conn.SetDeadline(time.Time{})
	gone, unwatch := h.watch(conn)
	return &connStream{conn: conn, format: f, proto: "h1", metrics: m, gone: gone, unwatch: unwatch, pipelined: pipelined}, true
}

// write writes b unless the client has sent something since its request
// (or gone; then the write would fail anyway).
func (cs *connStream) write(b []byte) error {
	if cs.pipelined {
		return errClientSentMore
	}
	select {
	case <-cs.gone:
		return errClientSentMore
	default:
	}
	cs.held.Charge(len(b))
	_, err := cs.conn.Write(b)
	cs.held.Credit(len(b))
	return err
}

func (cs *connStream) start(sub Subscription, retry time.Duration, pos string) error {
	buf := batchBuffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	head := streamHead(sub, cs.format, pos)
	if cs.format == wire.FormatPUB {
		writeHead(buf, wire.StatusNoOperation, "No Operation", head)
		return cs.write(buf.Bytes())
	}
	head.Set("Date", httpDate())
	head.Set("Connection", "close")
	writeHead(buf, http.StatusOK, "OK", head)
	buf.Write(sseOpening(retry, pos))
	return cs.write(buf.Bytes())
}

func (cs *connStream) events(frames []*wire.Frame) error {
	buf := batchBuffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	var failure error
	sent := 0
	for _, f := range frames {
		if cs.format == wire.FormatPUB {
			fields, err := f.PUB()
			if err != nil {
				failure = &unsendableError{id: f.ID, err: err}
				break
			}
			buf.Write(fields.AppendHTTP1(buf.AvailableBuffer()))
		} else {
			if err := f.SSEErr(); err != nil {
				failure = &unsendableError{id: f.ID, err: err}
				break
			}
			buf.Write(f.SSE())
		}
		sent++
	}
	cs.metrics.Delivered(cs.proto, cs.format, sent, buf.Len())
	if err := cs.write(buf.Bytes()); err != nil {
		return err
	}
	return failure
}

// noOperation is a 106 keepalive on the wire.
var noOperation = []byte("HTTP/1.1 106 No Operation\r\n\r\n")

func (cs *connStream) keepalive() error {
	if cs.format == wire.FormatPUB {
		return cs.write(noOperation)
	}
	return cs.write(wire.SSEKeepalive)
}

func (cs *connStream) final(status int) {
	if cs.format == wire.FormatPUB {
		buf := batchBuffers.Get().(*bytes.Buffer)
		defer putBuffer(buf)
		writeHead(buf, status, http.StatusText(status), http.Header{"Connection": {"close"}, "Date": {httpDate()}})
		cs.write(buf.Bytes())
	}
	cs.conn.Close()
}

func (cs *connStream) comeBack(e *wire.StatusError) {
	if cs.format == wire.FormatPUB {
		cs.failed(e)
		return
	}
	cs.write(wire.AppendSSERetry(nil, e.RetryAfter))
	cs.conn.Close()
}

func (cs *connStream) failed(err error) {
	if cs.format == wire.FormatPUB {
		status, h, body := errorResponse(err)
		h.Set("Connection", "close")
		h.Set("Date", httpDate())
		buf := batchBuffers.Get().(*bytes.Buffer)
		defer putBuffer(buf)
		writeHead(buf, status, http.StatusText(status), h)
		buf.Write(body)
		cs.write(buf.Bytes())
	}
	cs.conn.Close()
}

func (cs *connStream) abort() { cs.conn.SetWriteDeadline(time.Now()) }

func (cs *connStream) abandon() { cs.close() }

// close closes the connection: net/http no longer owns it.
func (cs *connStream) close() {
	cs.unwatch() // before the descriptor can be another connection's
	cs.conn.Close()
}

func (cs *connStream) hangup() <-chan struct{} { return cs.gone }

// writeHead writes a status line and fields, and the empty line after them.
func writeHead(buf *bytes.Buffer, status int, reason string, h http.Header) {
	buf.WriteString("HTTP/1.1 ")
	buf.WriteString(strconv.Itoa(status))
	buf.WriteByte(' ')
	buf.WriteString(reason)
	buf.WriteString("\r\n")
	h.Write(buf)
	buf.WriteString("\r\n")
}

// putBuffer returns a batch buffer to the pool unless a rare huge batch
// made it too large to keep.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 1<<20 {
		return
	}
	buf.Reset()
	batchBuffers.Put(buf)
}

// httpDate is the Date field's value now, which every final response
// carries (RFC 9110 §6.6.1).
func httpDate() string { return time.Now().UTC().Format(http.TimeFormat) }
