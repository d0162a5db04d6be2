package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/internal/budget"
	"github.com/subpub/subpub/internal/setting"
)

// Conn is one HTTP/2 connection being served. Its goroutines are the one
// that called ServeConn, which reads frames, a writer that owns the framer's
// writes and the HPACK encoder, and one per handler.
type Conn struct {
	srv    *Server
	nc     net.Conn
	br     *bufio.Reader
	fr     *http2.Framer
	logger *slog.Logger
	tls    *tls.ConnectionState
	remote string

	// Limits, fixed at the start.
	maxStreams     uint32
	maxHeaderBytes int
	streamWindow   int32 // our SETTINGS_INITIAL_WINDOW_SIZE
	connWindow     int32 // our connection receive window
	maxQueued      int
	writeBufSize   int
	writeTimeout   time.Duration
	resetRate      float64
	resetBurst     float64

	ctx    context.Context
	cancel context.CancelCauseFunc
	// held is the write queue's share of the server's Budget.
	held *budget.Holder

	shutdownAtStart bool

	// Reader goroutine only.
	hdec         *hpack.Decoder
	hb           headerBlock
	sawSettings  bool
	resetTokens  float64
	resetLast    time.Time
	streamErrors int

	// The writer's; see writer.go.
	w writerState

	kick       chan struct{} // wakes the writer; capacity 1
	done       chan struct{} // closed when the connection is over
	writerDone chan struct{}
	handlers   sync.WaitGroup

	mu sync.Mutex
	// Streams open or half-closed, by id.
	streams map[uint32]*stream
	maxSeen uint32 // the largest stream id the client used
	running int    // handlers not yet returned
	closed  closedRing
	// settingsAcked: the client has acknowledged our SETTINGS, and so
	// the initial stream window in it (before, it may use 65,535).
	settingsAcked bool
	// Peer settings.
	peerWindow   int32  // SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxFrame uint32 // SETTINGS_MAX_FRAME_SIZE
	// peerMaxHeaderList is SETTINGS_MAX_HEADER_LIST_SIZE, -1 until the
	// client sends one (RFC 9113 §6.5.2: unlimited).
	peerMaxHeaderList int64
	// Flow control.
	sendWindow  int64 // the connection's send window
	recvWindow  int32 // what the client may still send on the connection
	recvCredit  int32 // consumed and not yet returned in a WINDOW_UPDATE
	connWaiters []*stream
	// The write queues: control frames go first.
	ctrl, q      []outFrame
	queuedBytes  int
	queueWaiters []*stream
	// Going away.
	goAwaySent bool
	goAwayID   uint32
	finishing  bool // GOAWAY sent and nothing left: the writer ends the connection
	over       bool // the connection has ended; every write fails
	idleTimer  *time.Timer
}

// headerBlock is a header block being read: a HEADERS frame and its
// CONTINUATION frames.
type headerBlock struct {
	streamID  uint32
	endStream bool
	selfDep   bool
	frames    int
	bytes     int
	size      int // decoded header list size, as SETTINGS_MAX_HEADER_LIST_SIZE counts
	tooLarge  bool
	fields    []hpack.HeaderField
}

// connError is a connection error (RFC 9113 §5.4.1): GOAWAY with code.
type connError struct {
	code   http2.ErrCode
	reason string
}

func (e connError) Error() string {
	return fmt.Sprintf("h2: connection error %v: %s", e.code, e.reason)
}

var (
	errConnClosed   = errors.New("h2: connection closed")
	errStreamClosed = errors.New("h2: stream closed")
	errStreamReset  = errors.New("h2: stream reset by the client")
	errStreamDone   = errors.New("h2: response already complete")
)

// How a stream id not in the map was closed, for frames that arrive late.
type closedHow uint8

const (
	closedUnknown  closedHow = iota // never opened, or closed long ago
	closedByUs                      // we reset it: frames in flight are ignored
	closedByPeer                    // the client reset it
	closedNormally                  // both sides ended it
)

// closedRing remembers how the most recent streams closed.
type closedRing struct {
	ids  [256]uint32
	how  [256]closedHow
	next int
}

func (r *closedRing) add(id uint32, how closedHow) {
	r.ids[r.next], r.how[r.next] = id, how
	r.next = (r.next + 1) % len(r.ids)
}

func (r *closedRing) lookup(id uint32) closedHow {
	for i, v := range r.ids {
		if v == id {
			return r.how[i]
		}
	}
	return closedUnknown
}

func newConn(s *Server, nc net.Conn) *Conn {
	c := &Conn{
		srv:            s,
		nc:             nc,
		logger:         s.logger(),
		remote:         nc.RemoteAddr().String(),
		maxStreams:     s.maxStreams(),
		maxHeaderBytes: setting.Or(s.MaxHeaderBytes, DefaultMaxHeaderBytes),
		streamWindow:   int32(min(setting.Or(s.InitialWindowSize, DefaultInitialWindowSize), maxWindow)),
		connWindow:     int32(min(setting.Or(s.ConnWindowSize, DefaultConnWindowSize), maxWindow)),
		maxQueued:      setting.Or(s.MaxQueuedBytes, DefaultMaxQueuedBytes),
		writeBufSize:   setting.Or(s.WriteBufferSize, DefaultWriteBufferSize),
		writeTimeout:   setting.Or(s.ConnWriteTimeout, DefaultConnWriteTimeout),
		resetRate:      float64(setting.Or(s.ResetRate, DefaultResetRate)),
		resetBurst:     float64(setting.Or(s.ResetBurst, DefaultResetBurst)),
		kick:           make(chan struct{}, 1),
		done:           make(chan struct{}),
		writerDone:     make(chan struct{}),
		streams:        make(map[uint32]*stream),
		peerWindow:     65535,
		peerMaxFrame:   16384,
		sendWindow:     65535,
		recvWindow:     65535,
	}
	c.connWindow = max(c.connWindow, 65535)
	c.peerMaxHeaderList = -1
	c.resetTokens = c.resetBurst
	c.br = bufio.NewReaderSize(nc, 16<<10)
	c.fr = http2.NewFramer(&c.w.out, c.br)
	c.fr.SetMaxReadFrameSize(maxFrameSize)
	c.fr.SetReuseFrames()
	c.hdec = hpack.NewDecoder(4096, c.emitField)
	// A single string is never longer than the bytes a header block
	// may have (longer blocks end the connection).
	c.hdec.SetMaxStringLength(c.maxBlockBytes())
	tableSize := setting.Or(s.HeaderTableSize, DefaultHeaderTableSize)
	c.w.enc = hpack.NewEncoder(&c.w.hbuf)
	c.w.enc.SetMaxDynamicTableSizeLimit(tableSize)
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		c.tls = &cs
	}
	return c
}

// maxBlockBytes bounds the encoded bytes of one header block: past it the
// client is sending far more than it may (ENHANCE_YOUR_CALM).
func (c *Conn) maxBlockBytes() int { return 4*c.maxHeaderBytes + maxFrameSize }

func (c *Conn) serve(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancelCause(ctx)
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer stop()

	if tc, ok := c.nc.(*tls.Conn); ok && c.tls != nil && !c.tls.HandshakeComplete {
		tc.SetDeadline(time.Now().Add(setting.Or(c.srv.PrefaceTimeout, DefaultPrefaceTimeout)))
		if err := tc.HandshakeContext(c.ctx); err != nil {
			c.nc.Close()
			return
		}
		tc.SetDeadline(time.Time{})
		cs := tc.ConnectionState()
		c.tls = &cs
	}

	c.held = c.srv.Budget.Hold(c.cutForBudget)
	go c.writeLoop()
	c.sendPreface()
	err := c.readPreface()
	if err == nil {
		if c.shutdownAtStart {
			c.GoAway()
		}
		err = c.readLoop()
	}
	var ce connError
	if errors.As(err, &ce) {
		c.logger.Debug("h2: connection error", "remote", c.remote, "code", ce.code, "reason", ce.reason)
		c.fatal(ce)
	}
	c.teardown()
}

// sendPreface queues the server's SETTINGS and the connection window.
func (c *Conn) sendPreface() {
	settings := []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: c.maxStreams},
		{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.maxHeaderBytes)},
	}
	if c.streamWindow != 65535 {
		settings = append(settings, http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(c.streamWindow)})
	}
	settings = append(settings, c.srv.Settings...)
	c.mu.Lock()
	c.pushCtrlLocked(outFrame{kind: kSettings, settings: settings})
	if inc := c.connWindow - 65535; inc > 0 {
		c.recvWindow += inc
		c.pushCtrlLocked(outFrame{kind: kWindowUpdate, val: uint32(inc)})
	}
	c.mu.Unlock()
}

func (c *Conn) readPreface() error {
	c.nc.SetReadDeadline(time.Now().Add(setting.Or(c.srv.PrefaceTimeout, DefaultPrefaceTimeout)))
	var buf [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.br, buf[:]); err != nil {
		return err
	}
	if string(buf[:]) != http2.ClientPreface {
		return connError{http2.ErrCodeProtocol, "invalid connection preface"}
	}
	// The first frame must be SETTINGS; readLoop checks it, under the
	// same deadline.
	return nil
}

// readLoop reads and handles frames until the connection ends or the client
// commits a connection error.
func (c *Conn) readLoop() error {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			switch {
			case errors.As(err, &se):
				if err := c.streamError(se.StreamID, se.Code); err != nil {
					return err
				}
				continue
			case errors.Is(err, http2.ErrFrameTooLarge):
				return connError{http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE"}
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				reason := "invalid frame"
				if d := c.fr.ErrorDetail(); d != nil {
					reason = d.Error()
				}
				return connError{http2.ErrCode(ce), reason}
			}
			return err
		}
		if !c.sawSettings {
			sf, ok := f.(*http2.SettingsFrame)
			if !ok || sf.IsAck() {
				return connError{http2.ErrCodeProtocol, "the first frame is not SETTINGS"}
			}
			c.sawSettings = true
			c.nc.SetReadDeadline(time.Time{})
			c.mu.Lock()
			c.idleLocked()
			c.mu.Unlock()
		}
		if err := c.handleFrame(f); err != nil {
			return err
		}
	}
}

func (c *Conn) handleFrame(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		return c.onHeaders(f)
	case *http2.ContinuationFrame:
		return c.onContinuation(f)
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onRSTStream(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pushCtrlLocked(outFrame{kind: kPing, ping: f.Data})
	case *http2.PriorityFrame:
		// Priorities are not acted on (RFC 9113 §5.3.2), but a stream
		// cannot depend on itself.
		if f.StreamDep == f.StreamID {
			return c.streamError(f.StreamID, http2.ErrCodeProtocol)
		}
		return nil
	case *http2.GoAwayFrame:
		// The client opens no more streams: finish those in flight.
		c.GoAway()
		return nil
	case *http2.PushPromiseFrame:
		return connError{http2.ErrCodeProtocol, "PUSH_PROMISE from a client"}
	}
	return nil // unknown frame types are ignored (RFC 9113 §5.5)
}

func (c *Conn) onHeaders(f *http2.HeadersFrame) error {
	if f.StreamID%2 == 0 {
		return connError{http2.ErrCodeProtocol, "even stream id from a client"}
	}
	c.hb = headerBlock{
		streamID:  f.StreamID,
		endStream: f.StreamEnded(),
		selfDep:   f.HasPriority() && f.Priority.StreamDep == f.StreamID,
		fields:    c.hb.fields[:0],
	}
	return c.headerFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

func (c *Conn) onContinuation(f *http2.ContinuationFrame) error {
	// The framer ensures it follows HEADERS (or CONTINUATION) of the
	// same stream without END_HEADERS.
	return c.headerFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// headerFragment decodes one fragment of the header block being read. The
// HPACK state is the connection's, so every block is decoded in full even
// when its request is refused; what bounds the work is the size and number
// of fragments.
func (c *Conn) headerFragment(frag []byte, end bool) error {
	hb := &c.hb
	hb.frames++
	hb.bytes += len(frag)
	if hb.frames > maxHeaderFrames || hb.bytes > c.maxBlockBytes() {
		return connError{http2.ErrCodeEnhanceYourCalm, "header block too large"}
	}
	if _, err := c.hdec.Write(frag); err != nil {
		return connError{http2.ErrCodeCompression, err.Error()}
	}
	if !end {
		return nil
	}
	if err := c.hdec.Close(); err != nil {
		return connError{http2.ErrCodeCompression, err.Error()}
	}
	err := c.endHeaderBlock()
	clear(hb.fields) // drop the strings
	return err
}

func (c *Conn) emitField(f hpack.HeaderField) {
	hb := &c.hb
	if hb.tooLarge {
		return
	}
	hb.size += int(f.Size())
	if hb.size > c.maxHeaderBytes {
		hb.tooLarge = true
		clear(hb.fields)
		hb.fields = hb.fields[:0]
		return
	}
	hb.fields = append(hb.fields, f)
}

// endHeaderBlock acts on a complete header block: a new request, the
// trailers of one, or an error.
func (c *Conn) endHeaderBlock() error {
	hb := &c.hb
	id := hb.streamID
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[id]; st != nil {
		// Trailers.
		if st.remoteClosed {
			return c.resetLocked(id, http2.ErrCodeStreamClosed)
		}
		if !hb.endStream || hb.tooLarge {
			return c.resetLocked(id, http2.ErrCodeProtocol)
		}
		if err := st.trailersLocked(hb.fields); err != nil {
			return c.resetLocked(id, http2.ErrCodeProtocol)
		}
		return nil
	}
	if id <= c.maxSeen {
		switch c.closed.lookup(id) {
		case closedByUs:
			return nil
		case closedByPeer:
			return c.resetLocked(id, http2.ErrCodeStreamClosed)
		case closedNormally:
			return connError{http2.ErrCodeStreamClosed, "HEADERS on a closed stream"}
		}
		return connError{http2.ErrCodeProtocol, "stream id not larger than a previous one"}
	}
	c.maxSeen = id
	if c.goAwaySent || c.over {
		// Past the last stream id GOAWAY announced: ignored (RFC 9113
		// §6.8), the client retries it elsewhere.
		c.closed.add(id, closedByUs)
		return nil
	}
	if hb.selfDep {
		return c.resetLocked(id, http2.ErrCodeProtocol)
	}
	if uint32(len(c.streams)) >= c.maxStreams || c.running >= 2*int(c.maxStreams) {
		return c.resetLocked(id, http2.ErrCodeRefusedStream)
	}
	if hb.tooLarge {
		// RFC 9113 §10.5.1: 431 and, if the client is still sending, a
		// reset.
		c.closed.add(id, closedByUs)
		c.pushLocked(outFrame{kind: kHeaders, id: id, status: http.StatusRequestHeaderFieldsTooLarge, end: true, size: 64})
		if !hb.endStream {
			c.pushLocked(outFrame{kind: kRST, id: id, code: http2.ErrCodeNo, size: 16})
		}
		return nil
	}
	head, err := parseRequestHead(hb.fields)
	if err == nil && hb.endStream && head.contentLength > 0 {
		err = malformed("content-length without DATA")
	}
	if err != nil {
		return c.resetLocked(id, http2.ErrCodeProtocol)
	}
	req, err := head.newRequest()
	if err != nil {
		return c.resetLocked(id, http2.ErrCodeProtocol)
	}
	st := c.newStreamLocked(id, head, hb.endStream)
	req = c.prepareRequest(st, req, hb.endStream)
	c.running++
	c.handlers.Add(1)
	go c.runHandler(st, req)
	return nil
}

func (c *Conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int32(f.Length)
	c.mu.Lock()
	defer c.mu.Unlock()
	if id > c.maxSeen {
		return connError{http2.ErrCodeProtocol, "DATA on an idle stream"}
	}
	if n > c.recvWindow {
		return connError{http2.ErrCodeFlowControl, "DATA beyond the connection window"}
	}
	c.recvWindow -= n
	st := c.streams[id]
	if st == nil || st.remoteClosed {
		// Flow control counts it all the same (RFC 9113 §6.9).
		c.creditConnLocked(n)
		if st == nil && c.closed.lookup(id) == closedByUs {
			return nil
		}
		return c.resetLocked(id, http2.ErrCodeStreamClosed)
	}
	if n > st.recvWindow {
		c.creditConnLocked(n)
		return c.resetLocked(id, http2.ErrCodeFlowControl)
	}
	st.recvWindow -= n
	data := f.Data()
	if pad := n - int32(len(data)); pad > 0 {
		c.creditConnLocked(pad)
		st.creditLocked(pad)
	}
	st.received += int64(len(data))
	if st.declared >= 0 && st.received > st.declared {
		c.creditConnLocked(int32(len(data)))
		return c.resetLocked(id, http2.ErrCodeProtocol)
	}
	if len(data) > 0 {
		if st.bodyClosed {
			c.creditConnLocked(int32(len(data)))
		} else {
			st.recv.Write(data)
			st.cond.Signal()
		}
	}
	if f.StreamEnded() {
		if st.declared >= 0 && st.received != st.declared {
			return c.resetLocked(id, http2.ErrCodeProtocol)
		}
		st.endBodyLocked()
	}
	return nil
}

func (c *Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.settingsAcked {
			c.settingsAcked = true
			delta := c.streamWindow - 65535
			for _, st := range c.streams {
				st.recvWindow += delta
			}
		}
		return nil
	}
	if err := f.ForeachSetting(http2.Setting.Valid); err != nil {
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			return connError{http2.ErrCode(ce), "invalid SETTINGS value"}
		}
		return connError{http2.ErrCodeProtocol, "invalid SETTINGS value"}
	}
	ack := outFrame{kind: kSettingsAck}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingHeaderTableSize:
			ack.tableSize, ack.hasTableSize = s.Val, true
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerWindow)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > maxWindow {
					return connError{http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window"}
				}
				if delta > 0 {
					st.cond.Signal()
				}
			}
			c.peerWindow = int32(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		case http2.SettingMaxHeaderListSize:
			c.peerMaxHeaderList = int64(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.pushCtrlLocked(ack)
}

func (c *Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID == 0 {
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return connError{http2.ErrCodeFlowControl, "connection window overflow"}
		}
		for _, st := range c.connWaiters {
			st.cond.Signal()
		}
		clear(c.connWaiters)
		c.connWaiters = c.connWaiters[:0]
		return nil
	}
	if f.StreamID > c.maxSeen {
		return connError{http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream"}
	}
	st := c.streams[f.StreamID]
	if st == nil {
		return nil
	}
	st.sendWindow += inc
	if st.sendWindow > maxWindow {
		return c.resetLocked(st.id, http2.ErrCodeFlowControl)
	}
	st.cond.Signal()
	return nil
}

func (c *Conn) onRSTStream(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID > c.maxSeen {
		return connError{http2.ErrCodeProtocol, "RST_STREAM on an idle stream"}
	}
	st := c.streams[f.StreamID]
	if st == nil {
		return nil
	}
	if !st.handlerDone {
		// A stream cancelled while its handler runs: bounded, so that
		// opening and resetting streams cannot keep the server busy
		// starting handlers.
		now := time.Now()
		if !c.resetLast.IsZero() {
			c.resetTokens = min(c.resetBurst, c.resetTokens+now.Sub(c.resetLast).Seconds()*c.resetRate)
		}
		c.resetLast = now
		if c.resetTokens < 1 {
			return connError{http2.ErrCodeEnhanceYourCalm, "too many streams reset"}
		}
		c.resetTokens--
	}
	st.peerReset.Store(true)
	c.closeStreamLocked(st, closedByPeer, errStreamReset)
	return nil
}

// streamError resets a stream for the client's error (RFC 9113 §5.4.2).
func (c *Conn) streamError(id uint32, code http2.ErrCode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resetLocked(id, code)
}

// resetLocked sends RST_STREAM for id and closes its stream if open. Too
// many of them for the client's errors end the connection.
func (c *Conn) resetLocked(id uint32, code http2.ErrCode) error {
	if code != http2.ErrCodeNo && code != http2.ErrCodeCancel {
		c.streamErrors++
		if c.streamErrors > maxStreamErrors {
			return connError{http2.ErrCodeEnhanceYourCalm, "too many stream errors"}
		}
	}
	if st := c.streams[id]; st != nil {
		c.closeStreamLocked(st, closedByUs, errStreamClosed)
	} else if id > 0 && c.closed.lookup(id) == closedUnknown {
		c.closed.add(id, closedByUs)
	}
	// In the stream's order, after what its handler queued: no frame
	// may follow RST_STREAM on a stream.
	if !c.over {
		c.pushLocked(outFrame{kind: kRST, id: id, code: code, size: 16})
	}
	return nil
}

// creditConnLocked returns n bytes to the connection's receive window,
// with a WINDOW_UPDATE once enough have accumulated.
func (c *Conn) creditConnLocked(n int32) {
	if n <= 0 || c.over {
		return
	}
	c.recvCredit += n
	if c.recvCredit >= c.connWindow/4 {
		c.recvWindow += c.recvCredit
		c.pushCtrlLocked(outFrame{kind: kWindowUpdate, val: uint32(c.recvCredit)})
		c.recvCredit = 0
	}
}

// GoAway starts a graceful close: GOAWAY with the last stream id the
// client used, then the connection closes once its streams are done.
// Streams the client opens afterwards are ignored, as RFC 9113 §6.8 says.
func (c *Conn) GoAway() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAwayLocked(http2.ErrCodeNo, "")
}

func (c *Conn) goAwayLocked(code http2.ErrCode, debug string) {
	if c.over || (c.goAwaySent && code == http2.ErrCodeNo) {
		return
	}
	c.goAwaySent = true
	c.goAwayID = c.maxSeen
	f := outFrame{kind: kGoAway, id: c.maxSeen, code: code}
	if debug != "" {
		f.debug = []byte(debug)
	}
	c.ctrl = append(c.ctrl, f)
	c.kickWriter()
	c.checkDoneLocked()
}

// checkDoneLocked lets the writer end the connection once GOAWAY is sent
// and no stream or handler is left.
func (c *Conn) checkDoneLocked() {
	if c.goAwaySent && len(c.streams) == 0 && c.running == 0 && !c.finishing {
		c.finishing = true
		c.kickWriter()
	}
}

// fatal ends the connection for a connection error: every stream is
// closed, GOAWAY with the error is written, and the client's frames are
// discarded for a while so that it reads the GOAWAY before the connection
// closes.
func (c *Conn) fatal(ce connError) {
	c.mu.Lock()
	for _, st := range c.streams {
		c.closeStreamLocked(st, closedByUs, errConnClosed)
	}
	c.goAwayLocked(ce.code, ce.reason)
	c.finishing = true
	c.kickWriter()
	c.mu.Unlock()
	c.nc.SetReadDeadline(time.Now().Add(DefaultGoAwayTimeout))
	io.Copy(io.Discard, c.br)
}

// teardown ends everything once reading has stopped, and waits for the
// writer and the handlers.
func (c *Conn) teardown() {
	c.mu.Lock()
	for _, st := range c.streams {
		c.closeStreamLocked(st, closedByUs, errConnClosed)
	}
	c.over = true
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	for _, st := range c.queueWaiters {
		st.cond.Signal()
	}
	c.mu.Unlock()
	c.cancel(nil)
	c.nc.Close()
	close(c.done)
	<-c.writerDone
	c.handlers.Wait()
	c.mu.Lock()
	c.releaseQueuesLocked()
	c.mu.Unlock()
	c.held.Close()
}

// cutForBudget ends a connection the server's Budget chose, the one with
// the most queued: its requests' contexts end with budget.ErrOverBudget as
// their cause, and the reader stops at once, which tears the connection
// down (closing it unblocks the writer). A GOAWAY would wait behind the
// queue the client is not reading. It does not wait, nor take c.mu: any
// connection's charge may call it.
func (c *Conn) cutForBudget() {
	c.cancel(budget.ErrOverBudget)
	c.nc.SetReadDeadline(time.Now())
}

// idleLocked arms the idle timer when the connection has no stream.
func (c *Conn) idleLocked() {
	if len(c.streams) > 0 || c.over {
		return
	}
	d := setting.Or(c.srv.IdleTimeout, DefaultIdleTimeout)
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(d, c.onIdle)
	} else {
		c.idleTimer.Reset(d)
	}
}

func (c *Conn) onIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.streams) == 0 {
		c.goAwayLocked(http2.ErrCodeNo, "idle")
	}
}

// prepareRequest gives a request its context, body and connection facts.
func (c *Conn) prepareRequest(st *stream, r *http.Request, endStream bool) *http.Request {
	ctx := context.WithValue(st.ctx, http.LocalAddrContextKey, c.nc.LocalAddr())
	r = r.WithContext(ctx)
	r.RemoteAddr = c.remote
	r.TLS = c.tls
	if endStream {
		r.Body = http.NoBody
		r.ContentLength = 0
	} else {
		r.Body = &requestBody{st: st, expectContinue: r.Header.Get("Expect") == "100-continue"}
	}
	st.req = r
	return r
}

// runHandler runs the handler of one stream and finishes its response.
func (c *Conn) runHandler(st *stream, r *http.Request) {
	defer c.handlers.Done()
	rw := newResponseWriter(st, r)
	panicked := true
	defer func() {
		if panicked {
			e := recover()
			if e != http.ErrAbortHandler {
				c.logger.Error("h2: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", e, "stack", stack())
			}
		}
		rw.release()
		c.handlerDone(st, panicked)
	}()
	c.srv.Handler.ServeHTTP(rw, r)
	rw.finish()
	panicked = false
}

// handlerDone closes what the handler leaves open: a stream it did not
// finish is reset; a finished one whose client is still sending is reset
// with NO_ERROR (RFC 9113 §8.1).
func (c *Conn) handlerDone(st *stream, panicked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st.handlerDone = true
	c.running--
	if !st.isClosed {
		switch {
		case panicked || !st.localClosed:
			c.resetLocked(st.id, http2.ErrCodeInternal)
		case !st.remoteClosed:
			c.resetLocked(st.id, http2.ErrCodeNo)
		}
	}
	st.stopTimersLocked()
	c.checkDoneLocked()
}

func (c *Conn) kickWriter() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// pushCtrlLocked queues a control frame, written before the others. Too
// many waiting means a client that sends them without reading the answers.
func (c *Conn) pushCtrlLocked(f outFrame) error {
	if c.over {
		return nil
	}
	if len(c.ctrl) >= maxQueuedControl {
		return connError{http2.ErrCodeEnhanceYourCalm, "too many control frames queued"}
	}
	c.ctrl = append(c.ctrl, f)
	c.kickWriter()
	return nil
}

// pushLocked queues a frame of a stream, in order.
func (c *Conn) pushLocked(f outFrame) {
	c.q = append(c.q, f)
	c.queuedBytes += f.size
	c.held.Charge(f.size)
	c.kickWriter()
}
