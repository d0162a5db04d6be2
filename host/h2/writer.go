package h2

import (
	"bytes"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type frameKind uint8

const (
	kHeaders frameKind = iota
	kData
	kBatch
	kRST
	kWindowUpdate
	kPing
	kSettings
	kSettingsAck
	kGoAway
)

// What a HEADERS frame counts in Conn.queuedBytes beyond its fields' size:
// an interim response's :status, and a final response's or trailers'
// pseudo-header and the fields the writer adds (date, content-length).
const (
	interimQueueOverhead = 16
	finalQueueOverhead   = 64
)

// outFrame is one frame (or, for kBatch, several HEADERS) queued for the
// writer.
type outFrame struct {
	kind   frameKind
	end    bool
	status int // HEADERS: the :status, 0 for trailers
	id     uint32
	st     *stream // HEADERS and DATA: skipped once the client reset it
	fields []hpack.HeaderField
	data   *[]byte // DATA, from dataBufs
	n      int     // DATA: bytes of data used
	size   int     // counted in Conn.queuedBytes
	code   http2.ErrCode
	val    uint32 // WINDOW_UPDATE increment
	ping   [8]byte
	debug  []byte
	batch  []batchItem
	// SETTINGS and its acknowledgement.
	settings     []http2.Setting
	tableSize    uint32
	hasTableSize bool
}

// writerState is what the writer goroutine owns: the output buffer the
// framer writes into, and the HPACK encoder, so that header blocks are
// encoded in the order they are written.
type writerState struct {
	out  writeBuffer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
	// indexed is a batch's header block of indexed fields only, written
	// again for the batch's next streams (see writeBatch).
	indexed []byte
	// maxFrame is the client's SETTINGS_MAX_FRAME_SIZE as of this pass.
	maxFrame int
	// spare queues, swapped with the connection's on each pass.
	ctrl, q []outFrame
}

// writeBuffer collects a pass's frames for one write to the connection.
type writeBuffer struct{ b []byte }

func (w *writeBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// flushAt is the buffered size past which the writer writes before its
// pass is over.
const flushAt = 64 << 10

// dataBufs hold DATA payloads from the handler's copy to the writer's.
var dataBufs = sync.Pool{New: func() any {
	b := make([]byte, maxFrameSize)
	return &b
}}

func getDataBuf() *[]byte { return dataBufs.Get().(*[]byte) }

// writeLoop writes what is queued, all of it in one write per pass, until
// the connection ends.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	w := &c.w
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		// The handlers an event woke are runnable now: let them queue
		// their frames before taking the queue, so that one write carries
		// what they all queued rather than one write each.
		runtime.Gosched()
		c.mu.Lock()
		ctrl, q := c.ctrl, c.q
		c.ctrl, c.q = w.ctrl[:0], w.q[:0]
		w.maxFrame = int(c.peerMaxFrame)
		c.mu.Unlock()

		err := c.writeFrames(ctrl, q)
		if err == nil {
			err = c.flush()
		}

		c.mu.Lock()
		returned := int64(0)
		written := 0
		for i := range q {
			written += q[i].size
			if q[i].kind == kData && q[i].st != nil && q[i].st.peerReset.Load() {
				returned += int64(q[i].n)
			}
			for _, it := range q[i].batch {
				if it.fields == nil && it.st.peerReset.Load() {
					returned += int64(len(it.data))
				}
			}
		}
		c.queuedBytes -= written
		c.held.Credit(written)
		if returned > 0 {
			// DATA never sent gives its connection window back.
			c.sendWindow += returned
			for _, st := range c.connWaiters {
				st.cond.Signal()
			}
			c.connWaiters = c.connWaiters[:0]
		}
		if c.queuedBytes <= c.maxQueued {
			for _, st := range c.queueWaiters {
				st.cond.Signal()
			}
			clear(c.queueWaiters)
			c.queueWaiters = c.queueWaiters[:0]
		}
		releaseFrames(ctrl)
		releaseFrames(q)
		w.ctrl, w.q = ctrl[:0], q[:0]
		finished := c.finishing && len(c.ctrl) == 0 && len(c.q) == 0
		c.mu.Unlock()

		if err != nil {
			c.nc.Close()
			return
		}
		if finished {
			// Everything is written: half-close, so the client reads
			// it all and closes; the reader ends at its EOF (or soon).
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			c.nc.SetReadDeadline(time.Now().Add(DefaultGoAwayTimeout))
			return
		}
	}
}

func releaseFrames(fs []outFrame) {
	for i := range fs {
		if fs[i].data != nil {
			dataBufs.Put(fs[i].data)
		}
		if fs[i].batch != nil {
			putBatchItems(fs[i].batch)
		}
	}
	clear(fs)
}

// batchItemSlices recycles the items of written batches: a fan-out queues
// one batch per event per connection, each as long as the connection has
// streams.
var batchItemSlices sync.Pool

func getBatchItems() []batchItem {
	if p, ok := batchItemSlices.Get().(*[]batchItem); ok {
		return (*p)[:0]
	}
	return nil
}

func putBatchItems(items []batchItem) {
	clear(items)
	items = items[:0]
	batchItemSlices.Put(&items)
}

func (c *Conn) releaseQueuesLocked() {
	releaseFrames(c.ctrl)
	releaseFrames(c.q)
	c.ctrl, c.q = nil, nil
}

func (c *Conn) flush() error {
	w := &c.w
	if len(w.out.b) == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	_, err := c.nc.Write(w.out.b)
	if err == nil {
		// The client is taking what is queued, though the pass (and its
		// credit) may go on for a while.
		c.held.Progressed()
	}
	if cap(w.out.b) > 4*flushAt {
		w.out.b = nil
	} else {
		w.out.b = w.out.b[:0]
	}
	return err
}

func (c *Conn) writeFrames(ctrl, q []outFrame) error {
	for i := range ctrl {
		if err := c.writeFrame(&ctrl[i]); err != nil {
			return err
		}
	}
	for i := range q {
		if err := c.writeFrame(&q[i]); err != nil {
			return err
		}
		if len(c.w.out.b) >= flushAt {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Conn) writeFrame(f *outFrame) error {
	w := &c.w
	fr := c.fr
	switch f.kind {
	case kHeaders:
		if f.st != nil && f.st.peerReset.Load() {
			return nil
		}
		return c.writeHeaderBlock(f.id, f.status, f.fields, f.end)
	case kBatch:
		return c.writeBatch(f.batch)
	case kData:
		if f.st != nil && f.st.peerReset.Load() {
			return nil
		}
		var p []byte
		if f.data != nil {
			p = (*f.data)[:f.n]
		}
		return fr.WriteData(f.id, f.end, p)
	case kRST:
		return fr.WriteRSTStream(f.id, f.code)
	case kWindowUpdate:
		return fr.WriteWindowUpdate(f.id, f.val)
	case kPing:
		return fr.WritePing(true, f.ping)
	case kSettings:
		return fr.WriteSettings(f.settings...)
	case kSettingsAck:
		if f.hasTableSize {
			// RFC 7541 §4.2: the next header block starts with the
			// table size update.
			w.enc.SetMaxDynamicTableSize(f.tableSize)
		}
		return fr.WriteSettingsAck()
	case kGoAway:
		return fr.WriteGoAway(f.id, f.code, f.debug)
	}
	return nil
}

// writeBatch writes a batch's interim responses. Where one stream's header
// block came out as references to the dynamic table alone (the event's
// fields, indexed by an earlier stream), encoding the same fields again
// would give the same bytes and leave the table as it is: the next streams
// of the batch with the same status and fields get those bytes as they
// are, without the encoder's table lookups.
func (c *Conn) writeBatch(items []batchItem) error {
	w := &c.w
	var last batchItem // whose block w.indexed holds
	indexed := false
	for _, it := range items {
		if it.st.peerReset.Load() {
			continue
		}
		// A batch can be megabytes (SSE, a backlog of events, a hundred
		// streams): written as it goes, like the queue's frames, it never
		// holds more than about flushAt.
		if len(w.out.b) >= flushAt {
			if err := c.flush(); err != nil {
				return err
			}
		}
		if it.fields == nil {
			if err := c.writeData(it.st.id, it.data); err != nil {
				return err
			}
			continue
		}
		if indexed && it.status == last.status && it.fields == last.fields {
			if err := c.writeBlock(it.st.id, w.indexed, false); err != nil {
				return err
			}
			continue
		}
		block := c.encodeBlock(it.status, it.fields.f)
		if err := c.writeBlock(it.st.id, block, false); err != nil {
			return err
		}
		last, indexed = it, onlyIndexed(block)
		if indexed {
			w.indexed = append(w.indexed[:0], block...)
		}
	}
	return nil
}

// writeData writes p as DATA frames of at most the client's frame size.
func (c *Conn) writeData(id uint32, p []byte) error {
	for len(p) > 0 {
		n := min(len(p), c.w.maxFrame)
		if err := c.fr.WriteData(id, false, p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// onlyIndexed reports whether an HPACK header block is made only of indexed
// header fields (RFC 7541 §6.1), which do not change the dynamic table.
func onlyIndexed(block []byte) bool {
	for i := 0; i < len(block); i++ {
		if block[i]&0x80 == 0 {
			return false // a literal, or a dynamic table size update
		}
		if block[i]&0x7f == 0x7f { // the index goes on (§5.1)
			for i++; i < len(block) && block[i]&0x80 != 0; i++ {
			}
		}
	}
	return len(block) > 0
}

// writeHeaderBlock encodes a header block with the connection's encoder and
// writes it as HEADERS and, if it is larger than a frame, CONTINUATION.
func (c *Conn) writeHeaderBlock(id uint32, status int, fields []hpack.HeaderField, end bool) error {
	return c.writeBlock(id, c.encodeBlock(status, fields), end)
}

// encodeBlock encodes a header block with the connection's encoder, into a
// buffer valid until the next call.
func (c *Conn) encodeBlock(status int, fields []hpack.HeaderField) []byte {
	w := &c.w
	w.hbuf.Reset()
	if status != 0 {
		w.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusText(status)})
	}
	for _, f := range fields {
		w.enc.WriteField(f)
	}
	return w.hbuf.Bytes()
}

// writeBlock writes an encoded header block as HEADERS and, if it is
// larger than a frame, CONTINUATION.
func (c *Conn) writeBlock(id uint32, block []byte, end bool) error {
	w := &c.w
	n := min(len(block), w.maxFrame)
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID:      id,
		BlockFragment: block[:n],
		EndStream:     end,
		EndHeaders:    n == len(block),
	})
	for block = block[n:]; err == nil && len(block) > 0; block = block[n:] {
		n = min(len(block), w.maxFrame)
		err = c.fr.WriteContinuation(id, n == len(block), block[:n])
	}
	return err
}

var statusTexts = func() (s [1000]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusText(code int) string {
	if code >= 100 && code < len(statusTexts) {
		return statusTexts[code]
	}
	return strconv.Itoa(code)
}

// Fields is a header section prepared for HTTP/2 once, to be sent on many
// streams: lower-case names, fields HTTP/2 forbids left out. It is
// immutable.
type Fields struct {
	f    []hpack.HeaderField
	size int
}

// NewFields prepares h. Later changes to h do not change the Fields.
func NewFields(h http.Header) *Fields {
	f, size := appendFields(nil, h)
	return &Fields{f: f, size: size}
}

// NewNeverIndexedFields prepares h as NewFields does, every field to be sent
// as a literal never indexed (RFC 7541 §6.2.3): it neither enters the
// connection's dynamic table nor refers to an entry there, so that the size
// of a header block tells nothing of the other streams' values (§7.1). A
// subscription whose events are not for everyone uses them, so that another
// principal's responses on the connection cannot probe its values.
func NewNeverIndexedFields(h http.Header) *Fields {
	f, size := appendFields(nil, h)
	for i := range f {
		f[i].Sensitive = true
	}
	return &Fields{f: f, size: size}
}

// appendFields appends the fields of h that HTTP/2 may carry, and their
// size as the write queue counts it.
func appendFields(dst []hpack.HeaderField, h http.Header) ([]hpack.HeaderField, int) {
	size := 0
	for k, vs := range h {
		name := lowerKey(k)
		if connectionSpecific[name] || name == "te" || !validFieldName(name) {
			continue
		}
		sensitive := name == "set-cookie" || name == "authorization"
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				continue
			}
			dst = append(dst, hpack.HeaderField{Name: name, Value: v, Sensitive: sensitive})
			size += len(name) + len(v) + 32
		}
	}
	return dst, size
}

func validFieldName(name string) bool {
	return name != "" && checkFieldName(name) == nil && name[0] != ':'
}

// Batch collects interim responses and DATA for streams of one connection,
// written together: the header blocks encoded one after the other with the
// connection's encoder (so the same field value is indexed once and
// referred to by every later stream), everything into one buffer, and sent
// in one write.
type Batch struct {
	c     *Conn
	items []batchItem
	size  int
}

// batchItem is an interim response, or (fields nil) DATA.
type batchItem struct {
	st     *stream
	status int
	fields *Fields
	data   []byte
	queued *bool // DATA: set when the flow-control windows let it be queued
}

// Interim adds an interim response (status 100 to 199, not 101) with fields
// f for the stream of w, which must be a response of this connection (see
// ConnOf). It returns an error if w is not, or the status is not interim.
// A stream that has sent its final response or has closed by the time the
// batch is queued is left out.
func (b *Batch) Interim(w http.ResponseWriter, status int, f *Fields) error {
	rw := unwrap(w)
	if rw == nil || rw.st.c != b.c {
		return errNotThisConn
	}
	if status < 100 || status > 199 || status == http.StatusSwitchingProtocols {
		return errNotInterim
	}
	b.items = append(b.items, batchItem{st: rw.st, status: status, fields: f})
	b.size += f.size + interimQueueOverhead
	return nil
}

// Data adds p as DATA (in as many frames as the client's frame size needs)
// for the stream of w, a response of this connection whose header has been
// written. It is queued only if the stream's and the connection's
// flow-control windows take all of p when the batch is queued, and then
// *queued is set; otherwise the stream's later items in the batch are
// left out too, so that the stream's bytes stay in order. p is written
// as it is, later: it must not change.
func (b *Batch) Data(w http.ResponseWriter, p []byte, queued *bool) error {
	rw := unwrap(w)
	if rw == nil || rw.st.c != b.c {
		return errNotThisConn
	}
	if !rw.wroteHeader || !bodyAllowed(rw.status) {
		return http.ErrBodyNotAllowed
	}
	*queued = false
	b.items = append(b.items, batchItem{st: rw.st, data: p, queued: queued})
	b.size += len(p)
	return nil
}

// Batch runs fill to collect interim responses and DATA for streams of c, then
// queues them as one unit without waiting for the write (except, as every
// write, while the connection's queue is over Server.MaxQueuedBytes). It
// reports how many were queued. If an interim response is larger than the
// client's SETTINGS_MAX_HEADER_LIST_SIZE, nothing is queued and the error
// is a *FieldSectionTooLargeError: the streams' own writes then meet it
// one by one, after what comes before it.
func (c *Conn) Batch(fill func(b *Batch)) (int, error) {
	b := &Batch{c: c, items: getBatchItems()}
	fill(b)
	if len(b.items) == 0 {
		putBatchItems(b.items)
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.queuedBytes > c.maxQueued && !c.over {
		// Wait as a handler of the first stream would.
		st := b.items[0].st
		if st.writeErrLocked() != nil {
			break
		}
		c.queueWaiters = append(c.queueWaiters, st)
		st.cond.Wait()
	}
	if c.over {
		putBatchItems(b.items)
		return 0, errConnClosed
	}
	if err := c.fitsBatchLocked(b.items); err != nil {
		putBatchItems(b.items)
		return 0, err
	}
	items := b.items[:0]
	var blocked map[*stream]bool // streams whose DATA the windows did not take
	for _, it := range b.items {
		if it.st.writeErrLocked() != nil || blocked[it.st] {
			continue
		}
		if it.fields != nil && it.st.finalQueued {
			continue // an interim response after the final one
		}
		if it.fields == nil {
			n := int64(len(it.data))
			if it.st.sendWindow < n || b.c.sendWindow < n {
				if blocked == nil {
					blocked = make(map[*stream]bool)
				}
				blocked[it.st] = true
				continue
			}
			it.st.sendWindow -= n
			b.c.sendWindow -= n
			*it.queued = true
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		putBatchItems(items)
		return 0, nil
	}
	c.pushLocked(outFrame{kind: kBatch, batch: items, size: b.size})
	return len(items), nil
}
