package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The lean HTTP/2 reader: one TLS connection per group, read by one
// goroutine with x/net's Framer (frame headers and the frames that are not
// on the path of an event) and an HPACK decoder that every header block
// goes through, to keep its dynamic table in step, though only :status and
// the Event field's `t` are looked at. HEADERS, CONTINUATION and DATA
// payloads are read into one buffer, so that an event costs no allocation
// but the HPACK strings that enter the dynamic table (once per event per
// connection: the server indexes a PUB's fields and the other streams'
// PUBs of that event refer to them).

// Settings of the lean HTTP/2 reader.
const (
	// h2HeaderTableSize lets the server index the PUB fields of several
	// events (the servers use 64 KiB when allowed; see host.HeaderTableSize).
	h2HeaderTableSize = 64 << 10
	// h2Window is the stream and connection flow-control window: large
	// enough never to hold the server back. h2WindowRefill is how many
	// consumed bytes are returned at once.
	h2Window       = 1 << 30
	h2WindowRefill = 1 << 20
	// h2MaxHeaderList bounds a header section (one event).
	h2MaxHeaderList = 1 << 20
	h2ReadBuffer    = 64 << 10
	h2WriteBuffer   = 16 << 10
)

// h2Conn is one connection of the lean HTTP/2 reader.
type h2Conn struct {
	m   muxTarget
	rec *recorder
	ctx context.Context

	fr      *http2.Framer
	dec     *hpack.Decoder
	payload []byte

	// The header block being decoded, for the emit function.
	block struct {
		st     *h2Stream
		status int
		tMS    int64
		hasT   bool
	}
	connUnacked uint32 // DATA bytes not yet returned to the connection window

	mu      sync.Mutex // guards what follows: writes and the stream table
	bw      *bufio.Writer
	enc     *hpack.Encoder
	encBuf  bytes.Buffer
	streams map[uint32]*h2Stream
	nextID  uint32
	closed  bool
}

// h2Stream is one subscription's current stream.
type h2Stream struct {
	id      uint32
	opened  bool   // its 106 (SUB) or 200 (SSE) arrived
	unacked uint32 // DATA bytes not yet returned to its window
	sse     sseScanner
}

// runH2Conn is the lean HTTP/2 reader's muxConn.
func runH2Conn(ctx context.Context, m muxTarget, count int, rec *recorder) error {
	conn, err := dialTLS(ctx, m)
	if err != nil {
		rec.failures.Add(int64(count))
		return err
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		rec.failures.Add(int64(count))
		return fmt.Errorf("benchmarks: %s negotiated %q, not h2", m.authority, p)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c := &h2Conn{
		m: m, rec: rec, ctx: ctx,
		bw:      bufio.NewWriterSize(conn, h2WriteBuffer),
		streams: make(map[uint32]*h2Stream, count),
		nextID:  1,
	}
	br := bufio.NewReaderSize(&countingReader{r: conn, n: &rec.bytes}, h2ReadBuffer)
	c.fr = http2.NewFramer(c.bw, br)
	c.fr.SetMaxReadFrameSize(1 << 20)
	c.dec = hpack.NewDecoder(h2HeaderTableSize, c.emit)
	c.dec.SetMaxStringLength(h2MaxHeaderList)
	c.enc = hpack.NewEncoder(&c.encBuf)

	err = c.start(count)
	if err == nil {
		err = c.read(br)
	}
	c.mu.Lock()
	c.closed = true
	open := len(c.streams)
	c.streams = nil
	c.mu.Unlock()
	if ctx.Err() == nil {
		rec.failures.Add(int64(open))
	}
	return err
}

// start sends the preface, the settings and count requests.
func (c *h2Conn) start(count int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.bw, http2.ClientPreface); err != nil {
		return err
	}
	err := c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingHeaderTableSize, Val: h2HeaderTableSize},
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2Window},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderList},
	)
	if err != nil {
		return err
	}
	if err := c.fr.WriteWindowUpdate(0, h2Window-65535); err != nil {
		return err
	}
	for range count {
		if err := c.openLocked(); err != nil {
			return err
		}
	}
	return c.bw.Flush()
}

// openLocked writes the request of a new stream (c.mu held; the caller
// flushes).
func (c *h2Conn) openLocked() error {
	st := &h2Stream{id: c.nextID}
	st.sse.reset()
	c.nextID += 2
	c.encBuf.Reset()
	for _, f := range c.m.request {
		c.enc.WriteField(hpack.HeaderField{Name: f.name, Value: f.value})
	}
	c.streams[st.id] = st
	return c.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID:      st.id,
		BlockFragment: c.encBuf.Bytes(),
		EndStream:     true,
		EndHeaders:    true,
	})
}

// reopen subscribes again on a new stream, unless the connection is gone
// (then the next connection subscribes).
func (c *h2Conn) reopen() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.ctx.Err() != nil {
		return
	}
	if c.openLocked() == nil {
		c.bw.Flush()
	}
}

// end forgets a stream that ended (resetting it first if reset is set),
// counts a failure, and subscribes again after a while.
func (c *h2Conn) end(st *h2Stream, reset bool) {
	c.mu.Lock()
	if c.closed || c.streams[st.id] != st {
		c.mu.Unlock()
		return
	}
	delete(c.streams, st.id)
	if reset {
		c.fr.WriteRSTStream(st.id, http2.ErrCodeCancel)
		c.bw.Flush()
	}
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	c.rec.failures.Add(1)
	time.AfterFunc(leanRetryDelay, c.reopen)
}

func (c *h2Conn) stream(id uint32) *h2Stream {
	c.mu.Lock()
	st := c.streams[id]
	c.mu.Unlock()
	return st
}

// write runs f with the writing side, then flushes.
func (c *h2Conn) write(f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := f(); err != nil {
		return err
	}
	return c.bw.Flush()
}

// read reads frames until the connection fails.
func (c *h2Conn) read(br *bufio.Reader) error {
	for {
		fh, err := c.fr.ReadFrameHeader()
		if err != nil {
			return err
		}
		switch fh.Type {
		case http2.FrameHeaders, http2.FrameContinuation, http2.FrameData:
			if err := c.readPayload(br, fh.Length); err != nil {
				return err
			}
			if fh.Type == http2.FrameData {
				err = c.data(fh)
			} else {
				err = c.headers(fh)
			}
			if err != nil {
				return err
			}
			continue
		}
		f, err := c.fr.ReadFrameForHeader(fh)
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				break
			}
			if v, ok := f.Value(http2.SettingHeaderTableSize); ok {
				c.mu.Lock()
				c.enc.SetMaxDynamicTableSizeLimit(v)
				c.mu.Unlock()
			}
			if err := c.write(c.fr.WriteSettingsAck); err != nil {
				return err
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				data := f.Data
				if err := c.write(func() error { return c.fr.WritePing(true, data) }); err != nil {
					return err
				}
			}
		case *http2.RSTStreamFrame:
			if st := c.stream(f.StreamID); st != nil {
				c.end(st, false)
			}
		case *http2.GoAwayFrame:
			return fmt.Errorf("benchmarks: %s sent GOAWAY (%v)", c.m.authority, f.ErrCode)
		case *http2.PushPromiseFrame:
			return errors.New("benchmarks: PUSH_PROMISE, though push is disabled")
		}
	}
}

func (c *h2Conn) readPayload(br *bufio.Reader, n uint32) error {
	if cap(c.payload) < int(n) {
		c.payload = make([]byte, n)
	}
	c.payload = c.payload[:n]
	_, err := io.ReadFull(br, c.payload)
	return err
}

// unpad strips a padded frame's padding (the Pad Length octet first).
func unpad(p []byte, padded bool) ([]byte, error) {
	if !padded {
		return p, nil
	}
	if len(p) == 0 || int(p[0]) >= len(p) {
		return nil, errors.New("benchmarks: HTTP/2 padding longer than its frame")
	}
	return p[1 : len(p)-int(p[0])], nil
}

// headers decodes a HEADERS or CONTINUATION frame's part of a header block
// and, at its end, acts on the response.
func (c *h2Conn) headers(fh http2.FrameHeader) error {
	p := c.payload
	if fh.Type == http2.FrameHeaders {
		var err error
		if p, err = unpad(p, fh.Flags.Has(http2.FlagHeadersPadded)); err != nil {
			return err
		}
		if fh.Flags.Has(http2.FlagHeadersPriority) {
			if len(p) < 5 {
				return errors.New("benchmarks: short HTTP/2 HEADERS priority")
			}
			p = p[5:]
		}
		c.block.st = c.stream(fh.StreamID)
		c.block.status, c.block.hasT = 0, false
	}
	if _, err := c.dec.Write(p); err != nil {
		return err
	}
	if !fh.Flags.Has(http2.FlagHeadersEndHeaders) {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return err
	}
	st := c.block.st
	if st == nil {
		return nil // a stream already forgotten
	}
	switch c.m.response(c.block.status, st.opened) {
	case responseOpened:
		st.opened = true
		c.rec.opened.Add(1)
	case responseEvent:
		if c.block.hasT {
			c.rec.record(c.block.tMS, time.Now())
		}
	case responseFinal:
		if !c.m.sub {
			c.end(st, true) // not an event stream
			return nil
		}
	}
	// A final response to SUB ends the subscription with its stream.
	if fh.Flags.Has(http2.FlagHeadersEndStream) {
		c.end(st, false)
	}
	return nil
}

// emit receives each decoded field of the header block being read.
func (c *h2Conn) emit(f hpack.HeaderField) {
	switch f.Name {
	case ":status":
		c.block.status = parseStatus(f.Value)
	case "event":
		if c.m.sub {
			c.block.tMS, c.block.hasT = eventTime(f.Value)
		}
	}
}

// data scans a DATA frame (an SSE stream's) and returns what it consumed
// to the flow-control windows, a batch at a time.
func (c *h2Conn) data(fh http2.FrameHeader) error {
	p, err := unpad(c.payload, fh.Flags.Has(http2.FlagDataPadded))
	if err != nil {
		return err
	}
	st := c.stream(fh.StreamID)
	if st != nil && st.opened && !c.m.sub {
		st.sse.feed(p, c.rec)
	}
	c.connUnacked += fh.Length
	var streamRefill uint32
	if st != nil && !fh.Flags.Has(http2.FlagDataEndStream) {
		st.unacked += fh.Length
		if st.unacked >= h2WindowRefill {
			streamRefill, st.unacked = st.unacked, 0
		}
	}
	if c.connUnacked >= h2WindowRefill || streamRefill > 0 {
		connRefill := c.connUnacked
		c.connUnacked = 0
		err := c.write(func() error {
			if streamRefill > 0 {
				if err := c.fr.WriteWindowUpdate(fh.StreamID, streamRefill); err != nil {
					return err
				}
			}
			if connRefill > 0 {
				return c.fr.WriteWindowUpdate(0, connRefill)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if st != nil && fh.Flags.Has(http2.FlagDataEndStream) {
		c.end(st, false)
	}
	return nil
}

// parseStatus reads a three-digit status code (0 if it is not one).
func parseStatus[T string | []byte](v T) int {
	if len(v) != 3 {
		return 0
	}
	n := 0
	for i := range 3 {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
		n = n*10 + int(v[i]-'0')
	}
	return n
}
