package h2

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// stream is one request and its response. Its fields are guarded by the
// connection's mutex; its handler waits on cond (flow control, request
// body, queue space), which shares that mutex.
type stream struct {
	c      *Conn
	id     uint32
	cond   sync.Cond
	ctx    context.Context
	cancel context.CancelFunc
	req    *http.Request

	// peerReset tells the writer to skip the stream's frames.
	peerReset atomic.Bool

	remoteClosed bool // END_STREAM received
	localClosed  bool // END_STREAM queued
	isClosed     bool // out of the connection's map
	err          error
	handlerDone  bool
	finalQueued  bool // the final HEADERS is queued

	sendWindow int64

	// Request body.
	recv       bytes.Buffer
	recvWindow int32 // what the client may still send
	recvCredit int32 // read and not yet returned in a WINDOW_UPDATE
	declared   int64 // Content-Length, or -1
	received   int64
	bodyErr    error // io.EOF after END_STREAM, or why the body failed
	bodyClosed bool

	// Deadlines set through http.ResponseController.
	readDeadline, writeDeadline deadline
}

func (c *Conn) newStreamLocked(id uint32, head *requestHead, endStream bool) *stream {
	st := &stream{
		c:          c,
		id:         id,
		sendWindow: int64(c.peerWindow),
		recvWindow: c.streamWindow,
		declared:   head.contentLength,
	}
	if !c.settingsAcked {
		st.recvWindow = 65535
	}
	st.cond.L = &c.mu
	st.ctx, st.cancel = context.WithCancel(c.ctx)
	if endStream {
		st.remoteClosed = true
		st.bodyErr = io.EOF
	}
	c.streams[id] = st
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	return st
}

// closeStreamLocked takes st out of the connection: its context is
// cancelled and its waiting handler woken to fail with err.
func (c *Conn) closeStreamLocked(st *stream, how closedHow, err error) {
	if st.isClosed {
		return
	}
	st.isClosed = true
	st.err = err
	delete(c.streams, st.id)
	c.closed.add(st.id, how)
	if st.bodyErr == nil {
		st.bodyErr = err
	}
	if n := st.recv.Len(); n > 0 {
		// Unread body: the connection window gets it back.
		st.recv = bytes.Buffer{}
		c.creditConnLocked(int32(n))
	}
	st.cancel()
	st.cond.Broadcast()
	c.idleLocked()
	c.checkDoneLocked()
}

// maybeCloseLocked closes a stream both sides have ended.
func (c *Conn) maybeCloseLocked(st *stream) {
	if st.localClosed && st.remoteClosed {
		c.closeStreamLocked(st, closedNormally, errStreamDone)
	}
}

func (st *stream) endBodyLocked() {
	st.remoteClosed = true
	if st.bodyErr == nil {
		st.bodyErr = io.EOF
	}
	st.cond.Signal()
	st.c.maybeCloseLocked(st)
}

// trailersLocked takes the request's trailers, which end its body.
func (st *stream) trailersLocked(fields []hpack.HeaderField) error {
	for _, f := range fields {
		if err := checkFieldName(f.Name); err != nil || f.Name[0] == ':' {
			return malformed("invalid trailer field")
		}
	}
	if st.req.Trailer == nil {
		st.req.Trailer = make(http.Header)
	}
	for _, f := range fields {
		k := canonicalKey(f.Name)
		st.req.Trailer[k] = append(st.req.Trailer[k], f.Value)
	}
	st.endBodyLocked()
	return nil
}

// creditLocked returns n bytes of the stream's receive window, with a
// WINDOW_UPDATE once enough have accumulated.
func (st *stream) creditLocked(n int32) {
	if st.remoteClosed || st.isClosed || n <= 0 {
		return
	}
	st.recvCredit += n
	if st.recvCredit >= st.c.streamWindow/4 {
		st.recvWindow += st.recvCredit
		st.c.pushCtrlLocked(outFrame{kind: kWindowUpdate, id: st.id, val: uint32(st.recvCredit)})
		st.recvCredit = 0
	}
}

// writeErrLocked is why the stream cannot be written to, or nil.
func (st *stream) writeErrLocked() error {
	switch {
	case st.c.over:
		return errConnClosed
	case st.writeDeadline.expired:
		return os.ErrDeadlineExceeded
	case st.isClosed:
		return st.err
	case st.localClosed:
		return errStreamDone
	}
	return nil
}

// waitQueueLocked waits while the connection's write queue is over its
// bound.
func (st *stream) waitQueueLocked() error {
	c := st.c
	for c.queuedBytes > c.maxQueued {
		if err := st.writeErrLocked(); err != nil {
			return err
		}
		c.queueWaiters = append(c.queueWaiters, st)
		st.cond.Wait()
	}
	return st.writeErrLocked()
}

// writeHeaders queues a HEADERS frame: an interim response (1xx), the
// final one, or trailers (status 0). fieldsSize is the fields' size as
// appendFields counts it (that of RFC 9113 §6.5.2). It does not wait for
// the write.
func (st *stream) writeHeaders(status int, fields []hpack.HeaderField, fieldsSize int, end bool) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := st.waitQueueLocked(); err != nil {
		return err
	}
	size := fieldsSize + finalQueueOverhead
	switch {
	case status >= 200:
		st.finalQueued = true
	case status == 0: // trailers
	case st.finalQueued:
		return errStreamDone
	default:
		if err := c.fitsLocked(status, fieldsSize); err != nil {
			return err
		}
		size = fieldsSize + interimQueueOverhead
	}
	c.pushLocked(outFrame{kind: kHeaders, st: st, id: st.id, status: status, fields: fields, end: end, size: size})
	if end {
		st.localClosed = true
		c.maybeCloseLocked(st)
	}
	return nil
}

// writeData queues p as DATA frames as the flow-control windows allow,
// waiting for them (and for queue space) until the write deadline.
func (st *stream) writeData(p []byte, end bool) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		n := 0
		for len(p) > 0 {
			if err := st.writeErrLocked(); err != nil {
				return err
			}
			if c.queuedBytes > c.maxQueued {
				c.queueWaiters = append(c.queueWaiters, st)
			} else if st.sendWindow > 0 && c.sendWindow > 0 {
				n = int(min(int64(len(p)), int64(min(c.peerMaxFrame, maxFrameSize)), st.sendWindow, c.sendWindow))
				break
			} else if st.sendWindow > 0 {
				c.connWaiters = append(c.connWaiters, st)
			}
			st.cond.Wait()
		}
		if err := st.writeErrLocked(); err != nil {
			return err
		}
		st.sendWindow -= int64(n)
		c.sendWindow -= int64(n)
		fin := end && n == len(p)
		f := outFrame{kind: kData, st: st, id: st.id, end: fin, size: n}
		if n > 0 {
			f.data = getDataBuf()
			f.n = copy(*f.data, p[:n])
			// Queued, the frame holds its whole buffer, however little
			// of it is used: a handler flushing a few hundred bytes at a
			// time would otherwise hold fifty times what is counted.
			f.size = cap(*f.data)
		}
		c.pushLocked(f)
		p = p[n:]
		if fin {
			st.localClosed = true
			c.maybeCloseLocked(st)
			return nil
		}
		if len(p) == 0 {
			return nil
		}
	}
}

// setWriteDeadline arms (or, with the zero time, disarms) the write
// deadline. Once it passes, writes fail with os.ErrDeadlineExceeded, a
// write waiting on flow control or queue space returns, and the stream is
// reset.
func (st *stream) setWriteDeadline(t time.Time) {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	st.writeDeadline.setLocked(&st.c.mu, t, st.handlerDone, func() {
		if !st.isClosed {
			st.c.resetLocked(st.id, http2.ErrCodeCancel)
		}
		st.cond.Broadcast()
	})
}

// setReadDeadline arms the request body's read deadline: once it passes,
// reads fail with os.ErrDeadlineExceeded.
func (st *stream) setReadDeadline(t time.Time) {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	st.readDeadline.setLocked(&st.c.mu, t, st.handlerDone, st.cond.Broadcast)
}

func (st *stream) stopTimersLocked() {
	st.readDeadline.stopLocked()
	st.writeDeadline.stopLocked()
}

// deadline is one direction's deadline of a stream, guarded by its
// connection's mutex. Each setting starts a generation, so a timer of an
// earlier setting that fires late does nothing.
type deadline struct {
	timer   *time.Timer
	gen     uint64
	expired bool
}

// setLocked arms the deadline for t, or disarms it for the zero time or
// once the handler is done. When it passes, expired is set and expire is
// called, with mu held.
func (d *deadline) setLocked(mu *sync.Mutex, t time.Time, handlerDone bool, expire func()) {
	d.stopLocked()
	d.expired = false
	if t.IsZero() || handlerDone {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.expired = true
		expire()
		return
	}
	gen := d.gen
	d.timer = time.AfterFunc(wait, func() {
		mu.Lock()
		defer mu.Unlock()
		if d.gen == gen {
			d.expired = true
			expire()
		}
	})
}

// stopLocked disarms the deadline and voids its pending timer.
func (d *deadline) stopLocked() {
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
	}
}

// requestBody is a request's body, read from its stream's DATA frames.
type requestBody struct {
	st             *stream
	closed         bool
	expectContinue bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	if b.expectContinue {
		b.expectContinue = false
		st.writeHeaders(http.StatusContinue, nil, 0, false)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if b.closed {
			return 0, http.ErrBodyReadAfterClose
		}
		if st.recv.Len() > 0 {
			n, _ := st.recv.Read(p)
			if st.recv.Len() == 0 {
				st.recv.Reset()
			}
			c.creditConnLocked(int32(n))
			st.creditLocked(int32(n))
			return n, nil
		}
		if st.bodyErr != nil {
			return 0, st.bodyErr
		}
		if st.readDeadline.expired {
			return 0, os.ErrDeadlineExceeded
		}
		if len(p) == 0 {
			return 0, nil
		}
		st.cond.Wait()
	}
}

// Close discards the rest of the body: what is buffered and what arrives
// goes back to the connection's window (not the stream's, so the client
// stops sending until the stream ends).
func (b *requestBody) Close() error {
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	st.bodyClosed = true
	if n := st.recv.Len(); n > 0 {
		st.recv = bytes.Buffer{}
		c.creditConnLocked(int32(n))
	}
	return nil
}
