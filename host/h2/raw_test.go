package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawClient speaks HTTP/2 frame by frame, to send what Go's client never
// would and to watch exactly what the server answers.
type rawClient struct {
	t    *testing.T
	nc   net.Conn
	fr   *http2.Framer
	ebuf bytes.Buffer
	enc  *hpack.Encoder
	// settings is the server's SETTINGS.
	settings map[http2.SettingID]uint32
}

// dialRaw connects to an h2c server, sends the preface with settings, and
// reads the server's SETTINGS (acknowledging it).
func dialRaw(t *testing.T, ts *testServer, settings ...http2.Setting) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc := &rawClient{t: t, nc: nc, settings: map[http2.SettingID]uint32{}}
	rc.fr = http2.NewFramer(nc, nc)
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rc.fr.MaxHeaderListSize = 1 << 20
	rc.enc = hpack.NewEncoder(&rc.ebuf)
	io.WriteString(nc, http2.ClientPreface)
	rc.fr.WriteSettings(settings...)
	f := rc.next(func(f http2.Frame) bool {
		sf, ok := f.(*http2.SettingsFrame)
		return ok && !sf.IsAck()
	})
	f.(*http2.SettingsFrame).ForeachSetting(func(s http2.Setting) error {
		rc.settings[s.ID] = s.Val
		return nil
	})
	rc.fr.WriteSettingsAck()
	return rc
}

// block encodes fields (name, value, name, value...) as a header block.
func (rc *rawClient) block(fields ...string) []byte {
	rc.ebuf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		rc.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(rc.ebuf.Bytes())
}

// request sends a request's HEADERS: the usual pseudo-header fields for
// method and path, then extra.
func (rc *rawClient) request(id uint32, method, path string, end bool, extra ...string) {
	fields := append([]string{":method", method, ":scheme", "http", ":authority", "test", ":path", path}, extra...)
	if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: id, BlockFragment: rc.block(fields...), EndStream: end, EndHeaders: true,
	}); err != nil {
		rc.t.Fatal(err)
	}
}

// next reads frames until match accepts one, and returns it. It fails the
// test if the connection ends or nothing matches within five seconds.
func (rc *rawClient) next(match func(http2.Frame) bool) http2.Frame {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			rc.t.Fatalf("reading a frame: %v", err)
		}
		if match(f) {
			return f
		}
	}
}

// goAway waits for GOAWAY and returns its error code.
func (rc *rawClient) goAway() *http2.GoAwayFrame {
	rc.t.Helper()
	return rc.next(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
}

// rst waits for RST_STREAM on stream id and returns its error code.
func (rc *rawClient) rst(id uint32) http2.ErrCode {
	rc.t.Helper()
	f := rc.next(func(f http2.Frame) bool {
		if g, ok := f.(*http2.GoAwayFrame); ok {
			rc.t.Fatalf("GOAWAY %v instead of RST_STREAM on %d", g.ErrCode, id)
		}
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == id
	})
	return f.(*http2.RSTStreamFrame).ErrCode
}

// response waits for the final response HEADERS on stream id.
func (rc *rawClient) response(id uint32) *http2.MetaHeadersFrame {
	rc.t.Helper()
	return rc.next(func(f http2.Frame) bool {
		if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID == id {
			rc.t.Fatalf("RST_STREAM %v instead of a response on %d", r.ErrCode, id)
		}
		mh, ok := f.(*http2.MetaHeadersFrame)
		return ok && mh.StreamID == id && !strings.HasPrefix(mh.PseudoValue("status"), "1")
	}).(*http2.MetaHeadersFrame)
}

// closed waits until the server closes the connection.
func (rc *rawClient) closed() {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := rc.fr.ReadFrame(); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				rc.t.Fatal("the connection stayed open")
			}
			return
		}
	}
}

func fieldOf(mh *http2.MetaHeadersFrame, name string) string {
	for _, f := range mh.RegularFields() {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func okHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, "ok")
}

func TestMalformedRequestsResetTheStream(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(okHandler), false)
	for _, tc := range []struct {
		name   string
		fields []string
	}{
		{"connection", []string{"connection", "keep-alive"}},
		{"transfer-encoding", []string{"transfer-encoding", "chunked"}},
		{"upgrade", []string{"upgrade", "websocket"}},
		{"keep-alive", []string{"keep-alive", "timeout=5"}},
		{"proxy-connection", []string{"proxy-connection", "close"}},
		{"te gzip", []string{"te", "gzip"}},
		{"upper-case name", []string{"X-Upper", "1"}},
		{"pseudo after regular", []string{"x-a", "1", ":status", "200"}},
		{"unknown pseudo", []string{":protocol", "websocket"}},
		{"bad content-length", []string{"content-length", "1x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, ts)
			rc.request(1, "GET", "/", true, tc.fields...)
			if code := rc.rst(1); code != http2.ErrCodeProtocol {
				t.Fatalf("RST_STREAM %v, want PROTOCOL_ERROR", code)
			}
			// The connection goes on.
			rc.request(3, "GET", "/", true)
			if st := rc.response(3).PseudoValue("status"); st != "200" {
				t.Fatalf("next stream: status %s", st)
			}
		})
	}
	t.Run("te trailers is fine", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.request(1, "GET", "/", true, "te", "trailers")
		if st := rc.response(1).PseudoValue("status"); st != "200" {
			t.Fatalf("status %s", st)
		}
	})
	t.Run("missing :path", func(t *testing.T) {
		rc := dialRaw(t, ts)
		rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
			BlockFragment: rc.block(":method", "GET", ":scheme", "http")})
		if code := rc.rst(1); code != http2.ErrCodeProtocol {
			t.Fatalf("RST_STREAM %v", code)
		}
	})
}

func TestOversizedFrameIsAFrameSizeError(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(okHandler), false)
	rc := dialRaw(t, ts)
	rc.request(1, "POST", "/", false)
	rc.fr.WriteData(1, true, make([]byte, maxFrameSize+1))
	if g := rc.goAway(); g.ErrCode != http2.ErrCodeFrameSize {
		t.Fatalf("GOAWAY %v, want FRAME_SIZE_ERROR", g.ErrCode)
	}
	rc.closed()
}

func TestContinuationFloodEndsTheConnection(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(okHandler), false)
	for _, tc := range []struct {
		name string
		frag []byte
	}{
		{"empty frames", nil},
		{"full frames", bytes.Repeat([]byte{0x40, 0x01, 'x', 0x7f, 0x00}, 3000)}, // not decodable as sent, but never decoded that far
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, ts)
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true,
				BlockFragment: rc.block(":method", "GET", ":scheme", "http", ":path", "/")})
			var werr error
			for i := 0; i < 10000 && werr == nil; i++ {
				werr = rc.fr.WriteContinuation(1, false, tc.frag)
			}
			g := rc.goAway()
			if g.ErrCode != http2.ErrCodeEnhanceYourCalm && g.ErrCode != http2.ErrCodeCompression {
				t.Fatalf("GOAWAY %v", g.ErrCode)
			}
			rc.closed()
		})
	}
}

func TestHeaderListOverTheLimitGets431(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(okHandler), false, func(s *Server) { s.MaxHeaderBytes = 4 << 10 })
	rc := dialRaw(t, ts)
	if rc.settings[http2.SettingMaxHeaderListSize] != 4<<10 {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE %d", rc.settings[http2.SettingMaxHeaderListSize])
	}
	big := strings.Repeat("v", 3000)
	block := rc.block(":method", "GET", ":scheme", "http", ":path", "/", "x-a", big, "x-b", big)
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, BlockFragment: block})
	if st := rc.response(1).PseudoValue("status"); st != "431" {
		t.Fatalf("status %s, want 431", st)
	}
	// The HPACK state stayed in step: the next request works.
	rc.request(3, "GET", "/", true)
	if st := rc.response(3).PseudoValue("status"); st != "200" {
		t.Fatalf("next stream: status %s", st)
	}
}

func TestMaxConcurrentStreamsRefusesTheNext(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), false, func(s *Server) { s.MaxConcurrentStreams = 2 })
	rc := dialRaw(t, ts)
	if rc.settings[http2.SettingMaxConcurrentStreams] != 2 {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d", rc.settings[http2.SettingMaxConcurrentStreams])
	}
	rc.request(1, "GET", "/", true)
	rc.request(3, "GET", "/", true)
	rc.request(5, "GET", "/", true)
	if code := rc.rst(5); code != http2.ErrCodeRefusedStream {
		t.Fatalf("RST_STREAM %v, want REFUSED_STREAM", code)
	}
	close(release)
	seen := map[uint32]bool{}
	rc.next(func(f http2.Frame) bool {
		if mh, ok := f.(*http2.MetaHeadersFrame); ok && mh.PseudoValue("status") == "200" {
			seen[mh.StreamID] = true
		}
		return seen[1] && seen[3]
	})
	rc.request(7, "GET", "/", true)
	rc.response(7)
}

func TestRapidResetEndsTheConnection(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}), false, func(s *Server) {
		s.ResetBurst = 50
		s.ResetRate = 10
	})
	rc := dialRaw(t, ts)
	var werr error
	for id := uint32(1); id < 400 && werr == nil; id += 2 {
		rc.request(id, "GET", "/", true)
		werr = rc.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	if g := rc.goAway(); g.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", g.ErrCode)
	}
	rc.closed()
}

func TestPingFloodWithoutReadingIsBounded(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(okHandler), false, func(s *Server) { s.ConnWriteTimeout = time.Second })
	rc := dialRaw(t, ts)
	// The client reads nothing: the acknowledgements pile up, until the
	// server gives up on it, with a GOAWAY if it can still write one, else
	// when its write to the connection times out.
	// Kernel buffers can take megabytes of acknowledgements, so the flood
	// goes on until the server stops it (the client's write fails) or for
	// at most 10 s, after which a connection still open fails the test.
	var werr error
	deadline := time.Now().Add(10 * time.Second)
	rc.nc.SetWriteDeadline(deadline)
	for i := 0; werr == nil && time.Now().Before(deadline); i++ {
		werr = rc.fr.WritePing(false, [8]byte{byte(i)})
	}
	rc.closed()
}

func TestTinyFlowControlWindow(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}), false)
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 7})
	rc.request(1, "GET", "/", true)
	if cl := fieldOf(rc.response(1), "content-length"); cl != strconv.Itoa(len(body)) {
		t.Fatalf("content-length %q", cl)
	}
	var got []byte
	for {
		f := rc.next(func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok }).(*http2.DataFrame)
		if len(f.Data()) > 7 {
			t.Fatalf("DATA of %d bytes with a window of 7", len(f.Data()))
		}
		got = append(got, f.Data()...)
		if f.StreamEnded() {
			break
		}
		if len(f.Data()) > 0 {
			rc.fr.WriteWindowUpdate(1, uint32(len(f.Data())))
		}
	}
	if string(got) != body {
		t.Fatalf("got %q", got)
	}
}

func TestInitialWindowSizeChangeAppliesToOpenStreams(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 30))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}), false)
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	rc.request(1, "GET", "/", true)
	rc.response(1)
	rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 30})
	f := rc.next(func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok }).(*http2.DataFrame)
	if len(f.Data()) != 30 {
		t.Fatalf("DATA of %d bytes, want 30", len(f.Data()))
	}
	// A window past 2^31-1 on the stream is a stream error.
	rc.fr.WriteWindowUpdate(1, maxWindow)
	rc.fr.WriteWindowUpdate(1, 1)
	if code := rc.rst(1); code != http2.ErrCodeFlowControl {
		t.Fatalf("RST_STREAM %v, want FLOW_CONTROL_ERROR", code)
	}
}

// TestWriteDeadlineUnblocksAWriteOnFlowControl is what the Streamer's stall
// watchdog depends on: a client that stops granting window must not hold
// the handler's write forever.
func TestWriteDeadlineUnblocksAWriteOnFlowControl(t *testing.T) {
	writing := make(chan *http.ResponseController)
	result := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.WriteHeader(200)
		rc.Flush()
		writing <- rc
		_, err := w.Write(make([]byte, 100<<10))
		if err == nil {
			err = rc.Flush()
		}
		result <- err
	}), false)
	// exceeded waits for the handler's write to end past its deadline.
	exceeded := func() {
		t.Helper()
		select {
		case err := <-result:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write: %v, want os.ErrDeadlineExceeded", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the write stayed blocked past its deadline")
		}
	}
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	rc.request(1, "GET", "/", true)
	ctl := <-writing
	select {
	case err := <-result:
		t.Fatalf("write returned without window: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// From another goroutine, as the watchdog does.
	ctl.SetWriteDeadline(time.Now())
	exceeded()
	if code := rc.rst(1); code != http2.ErrCodeCancel {
		t.Fatalf("RST_STREAM %v", code)
	}

	// A deadline in the future fires by itself.
	rc.request(3, "GET", "/", true)
	ctl = <-writing
	ctl.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	exceeded()
}

// TestInterimResponsesDoNotWaitForTheClient: HEADERS are not flow
// controlled, and WriteHeader(1xx) queues and returns even while the
// client grants no window and reads nothing.
func TestInterimResponsesDoNotWaitForTheClient(t *testing.T) {
	done := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iw := w.(InterimWriter)
		h := http.Header{"Event-Data": {strings.Repeat("e", 100)}}
		for i := range 2000 {
			h.Set("Event", strconv.Itoa(i))
			if err := iw.WriteInterim(105, h); err != nil {
				t.Error(err)
				break
			}
		}
		close(done)
		<-r.Context().Done()
	}), false)
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	rc.request(1, "SUB", "/", true)
	// The client reads nothing until the handler has queued them all: if a
	// WriteInterim waited for the client, this would never return (and
	// the test binary's timeout would fail the test), so no clock decides.
	<-done
	n := 0
	for n < 2000 {
		f := rc.next(func(f http2.Frame) bool { _, ok := f.(*http2.MetaHeadersFrame); return ok }).(*http2.MetaHeadersFrame)
		if f.PseudoValue("status") != "105" || fieldOf(f, "event") != strconv.Itoa(n) {
			t.Fatalf("interim %d: %s %v", n, f.PseudoValue("status"), f.Fields)
		}
		n++
	}
	rc.fr.WriteRSTStream(1, http2.ErrCodeCancel)
}

// TestBatchEncodesSharedFieldsOnce: every stream after the first refers to
// the Event-Data the first one indexed, and a stream whose fields differ
// from the one before it in the batch is encoded for its own fields (the
// block reused for a run of streams is not carried over to it).
func TestBatchEncodesSharedFieldsOnce(t *testing.T) {
	const streams = 4
	ws := make(chan http.ResponseWriter, streams)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(106)
		ws <- w
		<-r.Context().Done()
	}), false)
	rc := dialRaw(t, ts, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 64 << 10})
	rc.fr.ReadMetaHeaders.SetAllowedMaxDynamicTableSize(64 << 10)
	byStream := map[http.ResponseWriter]uint32{}
	for i := range streams {
		rc.request(uint32(2*i+1), "SUB", "/", true)
		byStream[<-ws] = 0
	}
	data := strings.Repeat("d", 2000)
	seven := NewFields(http.Header{"Event": {`id="7"`}, "Event-Data": {data}})
	eight := NewFields(http.Header{"Event": {`id="8"`}, "Event-Data": {data}})
	// Streams in the order written: 7, 7, 8, 7.
	var order []http.ResponseWriter
	for w := range byStream {
		order = append(order, w)
	}
	want := []string{`id="7"`, `id="7"`, `id="8"`, `id="7"`}
	n, err := ConnOf(order[0]).Batch(func(b *Batch) {
		for i, w := range order {
			f := seven
			if i == 2 {
				f = eight
			}
			b.Interim(w, 105, f)
		}
	})
	if n != streams || err != nil {
		t.Fatalf("Batch: %d, %v", n, err)
	}
	for i := range streams {
		mh := rc.next(func(f http2.Frame) bool {
			mh, ok := f.(*http2.MetaHeadersFrame)
			return ok && mh.PseudoValue("status") == "105"
		}).(*http2.MetaHeadersFrame)
		if fieldOf(mh, "event-data") != data || fieldOf(mh, "event") != want[i] {
			t.Fatalf("PUB %d: event %q, %d bytes of data; want %s", i, fieldOf(mh, "event"), len(fieldOf(mh, "event-data")), want[i])
		}
		switch {
		case i == 0 && mh.Length < 1000:
			t.Fatalf("the first PUB is %d bytes: it does not carry the data", mh.Length)
		case i > 0 && mh.Length > 20:
			t.Fatalf("PUB %d is %d bytes: it does not refer to the indexed data", i, mh.Length)
		}
	}
	for i := range streams {
		rc.fr.WriteRSTStream(uint32(2*i+1), http2.ErrCodeCancel)
	}
}

func TestOnlyIndexed(t *testing.T) {
	for _, tt := range []struct {
		block []byte
		want  bool
	}{
		{[]byte{0x88}, true},                         // :status 200
		{[]byte{0xbe, 0xbf}, true},                   // two dynamic entries
		{[]byte{0xff, 0x80, 0x01, 0xbe}, true},       // a two-byte index, then one more
		{[]byte{0xff, 0x80}, true},                   // truncated index: still nothing else
		{[]byte{0x40, 0x01, 'a', 0x01, 'b'}, false},  // literal with incremental indexing
		{[]byte{0xbe, 0x0f, 0x00, 0x01, 'x'}, false}, // indexed, then a literal
		{[]byte{0x3f, 0xe1, 0x1f}, false},            // dynamic table size update
		{nil, false},
	} {
		if got := onlyIndexed(tt.block); got != tt.want {
			t.Errorf("onlyIndexed(% x) = %v, want %v", tt.block, got, tt.want)
		}
	}
}

func TestGoAwayNamesTheLastStreamAndIgnoresLaterOnes(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}), false)
	rc := dialRaw(t, ts)
	rc.request(1, "GET", "/", true)
	rc.request(3, "GET", "/", true)
	time.Sleep(50 * time.Millisecond)
	go ts.srv.Shutdown(t.Context())
	g := rc.goAway()
	if g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 3 {
		t.Fatalf("GOAWAY %v last %d", g.ErrCode, g.LastStreamID)
	}
	rc.request(5, "GET", "/", true) // ignored
	close(release)
	seen := map[uint32]bool{}
	rc.next(func(f http2.Frame) bool {
		if mh, ok := f.(*http2.MetaHeadersFrame); ok {
			seen[mh.StreamID] = true
		}
		return seen[1] && seen[3]
	})
	if seen[5] {
		t.Fatal("stream 5, past GOAWAY, was served")
	}
	rc.closed()
	ts.close()
}

func TestIdleConnectionGetsGoAway(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(okHandler), false, func(s *Server) { s.IdleTimeout = 100 * time.Millisecond })
	rc := dialRaw(t, ts)
	rc.request(1, "GET", "/", true)
	rc.response(1)
	if g := rc.goAway(); g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
		t.Fatalf("GOAWAY %v last %d", g.ErrCode, g.LastStreamID)
	}
	rc.closed()
}

func TestFramesOnStreamsTheServerResetAreIgnored(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}), false)
	rc := dialRaw(t, ts)
	rc.request(1, "POST", "/", false)
	if code := rc.rst(1); code != http2.ErrCodeInternal {
		t.Fatalf("RST_STREAM %v", code)
	}
	// In flight when the reset was sent: not an error.
	rc.fr.WriteData(1, false, []byte("late"))
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, BlockFragment: rc.block("x-trailer", "1")})
	rc.fr.WritePing(false, [8]byte{1})
	f := rc.next(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.PingFrame:
			return f.IsAck()
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			t.Fatalf("unexpected %v", f)
		}
		return false
	})
	_ = f
}

func TestRequestBodyAndTrailers(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		io.WriteString(w, string(b)+" "+r.Trailer.Get("X-Check")+" "+strconv.FormatBool(err == nil))
	}), false)
	rc := dialRaw(t, ts)
	rc.request(1, "POST", "/", false, "trailer", "x-check", "content-length", "5")
	rc.fr.WriteData(1, false, []byte("hello"))
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, BlockFragment: rc.block("x-check", "ok")})
	rc.response(1)
	f := rc.next(func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok }).(*http2.DataFrame)
	if string(f.Data()) != "hello ok true" {
		t.Fatalf("got %q", f.Data())
	}
	// Content-Length that the DATA contradicts is malformed.
	rc.request(3, "POST", "/", false, "content-length", "2")
	rc.fr.WriteData(3, true, []byte("abc"))
	if code := rc.rst(3); code != http2.ErrCodeProtocol {
		t.Fatalf("RST_STREAM %v", code)
	}
}

// TestStalledConnectionIsClosed: a client that reads nothing at all ends up
// with its connection closed, the writer's write bounded by
// ConnWriteTimeout.
func TestStalledConnectionIsClosed(t *testing.T) {
	gaveUp := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(gaveUp)
		h := http.Header{"Event-Data": {strings.Repeat("e", 1000)}}
		for i := 0; r.Context().Err() == nil; i++ {
			h.Set("Event", strconv.Itoa(i)) // a new value each time: no indexing
			h.Set("Event-Id", strconv.Itoa(i*7919)+strings.Repeat("i", 500))
			if err := w.(InterimWriter).WriteInterim(105, h); err != nil {
				return
			}
		}
	}), false, func(s *Server) {
		s.ConnWriteTimeout = 200 * time.Millisecond
		s.MaxQueuedBytes = 256 << 10
	})
	rc := dialRaw(t, ts)
	rc.request(1, "SUB", "/", true)
	// Read nothing; the server must give up on the connection, which ends
	// the handler. (Reading after a while to see the close would race: a
	// server slower than that to give up, on a loaded machine, would find
	// its writes going through again.)
	select {
	case <-gaveUp:
	case <-time.After(stalledCloseBound):
		t.Fatal("the stalled connection stayed open")
	}
}

// stalledCloseBound is how long TestStalledConnectionIsClosed waits for
// what takes ConnWriteTimeout on an idle machine: only an upper bound.
const stalledCloseBound = 30 * time.Second
