package conformance

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/subpub/subpub/wire"
)

// http1Subscription is the ResponseWriter of a SUB subscription over
// HTTP/1.1 on a connection taken over from net/http. net/http cannot tell
// a handler that its client sent more after the request, and the draft
// requires a server to stop there (section "http11": those bytes can only
// come from an intermediary that took an interim response for the final
// one, and anything written after them would answer another request). It
// writes responses as net/http does, a 1xx with the header's fields as
// they are then; once the client sends anything, it writes nothing more
// and closes the connection.
type http1Subscription struct {
	conn   net.Conn
	bw     *bufio.Writer
	header http.Header
	cancel context.CancelFunc // the subscription's context

	mu    sync.Mutex
	more  bool // the client sent more: nothing is written
	final bool // a final response was written
}

// takeOverHTTP1 takes r's connection over from net/http and returns the
// subscription's writer, and r with a context that ends when the client
// sends anything or goes. Close the writer when the subscription ends.
func takeOverHTTP1(w http.ResponseWriter, r *http.Request) (*http1Subscription, *http.Request, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(r.Context())
	hs := &http1Subscription{conn: conn, bw: brw.Writer, header: w.Header().Clone(), cancel: cancel}
	go hs.watch(brw.Reader)
	return hs, r.WithContext(ctx), nil
}

// watch waits for a byte from the client, or the connection's end, which
// Close brings about.
func (hs *http1Subscription) watch(br *bufio.Reader) {
	_, err := br.ReadByte()
	hs.mu.Lock()
	hs.more = err == nil
	hs.mu.Unlock()
	hs.cancel()
	hs.conn.Close()
}

func (hs *http1Subscription) Header() http.Header { return hs.header }

func (hs *http1Subscription) WriteHeader(code int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.writeHeaderLocked(code)
}

func (hs *http1Subscription) writeHeaderLocked(code int) {
	if hs.more || hs.final {
		return
	}
	reason := http.StatusText(code)
	switch code {
	case wire.StatusPUB:
		reason = "PUB"
	case wire.StatusNoOperation:
		reason = "No Operation"
	}
	if code >= http.StatusOK {
		// The content, if any, runs to the connection's end.
		hs.final = true
		hs.header.Set("Connection", "close")
	}
	fmt.Fprintf(hs.bw, "HTTP/1.1 %d %s\r\n", code, reason)
	hs.header.Write(hs.bw)
	hs.bw.WriteString("\r\n")
	hs.bw.Flush()
}

func (hs *http1Subscription) Write(p []byte) (int, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.writeHeaderLocked(http.StatusOK)
	if hs.more {
		return 0, net.ErrClosed
	}
	n, err := hs.bw.Write(p)
	if err == nil {
		err = hs.bw.Flush()
	}
	return n, err
}

// Close ends the subscription's connection.
func (hs *http1Subscription) Close() { hs.conn.Close() }
