package stream_test

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// TestFanOutWritesEveryStreamOfAMultiplexedConnection: the SUB and SSE
// subscriptions of one HTTP/2 or HTTP/3 connection, once caught up, are
// written by the connection's fan-out, and each still receives every event
// once, in order.
// Over HTTP/1.1 (no fan-out) nothing is counted as fanned out.
func TestFanOutWritesEveryStreamOfAMultiplexedConnection(t *testing.T) {
	const subscribers, events = 10, 400
	for _, p := range []struct {
		name       string
		http       string
		plain      bool
		fanOutWant bool
	}{
		{"HTTP/2", client.HTTP2, false, true},
		{"h2c", client.HTTP2, true, true},
		{"HTTP/1.1", client.HTTP11, false, false},
		{"HTTP/3", client.HTTP3, false, true},
	} {
		for _, mode := range []client.Mode{client.ModeSUB, client.ModeSSE} {
			t.Run(p.name+"/"+mode.String(), func(t *testing.T) {
				o := startTestOrigin(t, nil)
				c := testkit.NewClient(t, client.Options{Mode: mode, HTTP: p.http, CAFile: o.CA.CAFile})
				followers := make([]*testkit.Follower, subscribers)
				for i := range followers {
					followers[i] = testkit.Follow(t, c, o.url(p.plain), "", nil)
					followers[i].WaitOpen(t)
				}
				if p.fanOutWant {
					testkit.WaitUntil(t, "every subscription fanned out", func() bool {
						return o.closes.FanOutNow() == subscribers
					})
				}
				first := o.Log.Last() + 1
				// In bursts, so that the fan-out writes several events at
				// once as well as one.
				for i := 0; i < events; i += 20 {
					o.publish(20)
					time.Sleep(time.Millisecond)
				}
				for n, f := range followers {
					ids := f.WaitCount(t, events)
					for i, id := range ids[:events] {
						if id != strconv.FormatUint(first+uint64(i), 10) {
							t.Fatalf("subscriber %d: event %d has id %s, want %d", n, i, id, first+uint64(i))
						}
					}
				}
				// Nothing made a subscriber leave its fan-out: each
				// joined it once.
				want := map[bool]int{true: subscribers}[p.fanOutWant]
				if got := o.closes.FanOutEver(); got != want {
					t.Errorf("subscriptions joined a fan-out %d times, want %d", got, want)
				}
			})
		}
	}
}

// TestFanOutHandsAStreamWithAFullWindowToItsOwnLoop: SSE streams whose
// flow-control window is smaller than an event cannot take the fan-out's
// DATA; each leaves it for its own loop, which writes as the client opens
// the window, and every stream still gets every event in order.
func TestFanOutHandsAStreamWithAFullWindowToItsOwnLoop(t *testing.T) {
	const streams, events = 3, 60
	o := startTestOrigin(t, nil)
	rc := newRawH2(t, o.PlainAddr(), 1000)
	for i := range streams {
		rc.request(uint32(2*i+1), "GET", "text/event-stream")
	}
	bodies := rc.readUntil(t, func(bodies map[uint32]string) bool { return len(bodies) == streams })
	testkit.WaitUntil(t, "every stream fanned out", func() bool { return o.closes.FanOutNow() == streams })
	first := o.Log.Last() + 1
	for i := 0; i < events; i += 10 {
		o.PublishEvent(streamPath, wire.Event{Data: []byte(strings.Repeat("y", 1500))})
		o.publish(9)
	}
	lastID := "id: " + strconv.FormatUint(first+events-1, 10) + "\n"
	bodies = rc.readUntil(t, func(bodies map[uint32]string) bool {
		for _, b := range bodies {
			if !strings.Contains(b, lastID) {
				return false
			}
		}
		return true
	})
	for id, b := range bodies {
		at := 0
		for i := range uint64(events) {
			next := strings.Index(b[at:], "id: "+strconv.FormatUint(first+i, 10)+"\n")
			if next < 0 {
				t.Fatalf("stream %d: event %d missing or out of order", id, first+i)
			}
			at += next + 1
		}
	}
}

// TestFanOutLeavesOnAnEventPUBCannotCarry: an event the fan-out cannot
// write goes back to each subscriber's own loop, which ends the
// subscription with a 502 naming it, after every event before it.
func TestFanOutLeavesOnAnEventPUBCannotCarry(t *testing.T) {
	const subscribers = 4
	o := startTestOrigin(t, nil)
	c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: o.CA.CAFile, Reconnect: client.Reconnect{Disabled: true}})
	var followers []*testkit.Follower
	for range subscribers {
		f := testkit.Follow(t, c, o.url(false), "", nil)
		f.WaitOpen(t)
		followers = append(followers, f)
	}
	testkit.WaitUntil(t, "every subscription fanned out", func() bool {
		return o.closes.FanOutNow() == subscribers
	})
	o.publish(3)
	o.PublishEvent(streamPath, wire.Event{ID: "caf\xc3\xa9", Data: []byte("x")})
	for _, f := range followers {
		err := f.WaitDone(t)
		if err == nil || !strings.Contains(err.Error(), "cannot be sent") {
			t.Errorf("ended with %v, want the 502 naming the event", err)
		}
		if n := len(f.IDs()); n != 3 {
			t.Errorf("received %d events before the end, want 3", n)
		}
	}
	if n := o.closes.Count("", stream.CloseError); n != subscribers {
		t.Errorf("%d subscriptions closed for an error, want %d", n, subscribers)
	}
}

// TestFanOutOfAConnectionThatStoppedReadingIsEndedAsStalled: a client that
// opens SUB streams on one connection and then never reads fills its
// connection's write queue; the fan-out's write blocks, and the watchdog
// ends every one of its subscriptions as stalled.
func TestFanOutOfAConnectionThatStoppedReadingIsEndedAsStalled(t *testing.T) {
	const subscribers = 3
	o := startTestOrigin(t, func(s *stream.Streamer) { s.StallTimeout = 300 * time.Millisecond })
	rc := newRawH2(t, o.PlainAddr(), defaultWindow)
	rc.nc.(*net.TCPConn).SetReadBuffer(smallReadBuffer)
	for i := range subscribers {
		rc.request(uint32(2*i+1), "SUB", "")
	}
	rc.readUntil(t, func(bodies map[uint32]string) bool { return len(bodies) == subscribers })
	testkit.WaitUntil(t, "every subscription fanned out", func() bool {
		return o.closes.FanOutNow() == subscribers
	})
	big := wire.Event{Data: []byte(strings.Repeat("x", 32<<10))}
	deadline := time.Now().Add(testkit.Timeout)
	for o.closes.Count("", stream.CloseStalled) < subscribers {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d subscriptions ended as stalled", o.closes.Count("", stream.CloseStalled), subscribers)
		}
		o.PublishEvent(streamPath, big)
		time.Sleep(time.Millisecond)
	}
	if n := o.closes.FanOutNow(); n != 0 {
		t.Errorf("%d subscriptions still fanned out", n)
	}
}

// TestAStreamOpenedWithNoWindowIsEndedAsStalled: an SSE stream whose client
// gives it no flow-control window blocks the stream's very first write; the
// watchdog ends it as it ends any stalled write, and its slot is freed.
func TestAStreamOpenedWithNoWindowIsEndedAsStalled(t *testing.T) {
	o := startTestOrigin(t, func(s *stream.Streamer) { s.StallTimeout = 300 * time.Millisecond })
	rc := newRawH2(t, o.PlainAddr(), 0)
	rc.request(1, "GET", "text/event-stream")
	testkit.WaitUntil(t, "the stream ended as stalled", func() bool {
		return o.closes.Count("", stream.CloseStalled) == 1 && o.Active() == 0
	})
}

// defaultWindow is HTTP/2's initial flow-control window (RFC 9113
// §6.9.2): a raw client that announces it gives a stream what a client
// that announces none does.
const defaultWindow = 65535

// smallReadBuffer is the receive buffer of a client that stops reading, so
// that the server's writes to it soon block.
const smallReadBuffer = 4 << 10

// The framer of a raw client that measures the field sections the server
// sends decodes them with HPACK's default dynamic table size (RFC 7541
// §4.2, the SETTINGS_HEADER_TABLE_SIZE a client that sets none allows),
// and accepts sections far larger than any a test's server is allowed to
// send, so that one too large is seen rather than refused.
const (
	defaultHeaderTableSize = 4096
	measuredHeaderListSize = 1 << 20
)

// rawH2 is a cleartext HTTP/2 client (prior knowledge) on x/net's framer,
// which reads at its own pace and gives flow-control credit only for what it
// has read.
type rawH2 struct {
	nc     net.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	block  bytes.Buffer
	addr   string
	bodies map[uint32]string
}

// newRawH2 connects with the given initial stream window and more settings.
func newRawH2(t *testing.T, addr string, window uint32, more ...http2.Setting) *rawH2 {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc := &rawH2{nc: nc, fr: http2.NewFramer(nc, nc), addr: addr, bodies: map[uint32]string{}}
	rc.enc = hpack.NewEncoder(&rc.block)
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := rc.fr.WriteSettings(append([]http2.Setting{{ID: http2.SettingInitialWindowSize, Val: window}}, more...)...); err != nil {
		t.Fatal(err)
	}
	return rc
}

// decodeFieldSections has the framer hand whole decoded field sections
// (MetaHeadersFrame) to each and readUntil, of any size a server sends.
func (rc *rawH2) decodeFieldSections() {
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(defaultHeaderTableSize, nil)
	rc.fr.MaxHeaderListSize = measuredHeaderListSize
}

// request opens stream id with method and, if not empty, an Accept field.
func (rc *rawH2) request(id uint32, method, accept string) {
	var extra [][2]string
	if accept != "" {
		extra = append(extra, [2]string{"accept", accept})
	}
	rc.requestPath(id, method, streamPath, extra...)
}

// requestPath opens stream id with method for path, with the extra fields.
func (rc *rawH2) requestPath(id uint32, method, path string, extra ...[2]string) {
	rc.block.Reset()
	fields := append([][2]string{{":method", method}, {":scheme", "http"}, {":authority", rc.addr}, {":path", path}}, extra...)
	for _, f := range fields {
		rc.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.block.Bytes(), EndHeaders: true, EndStream: true})
}

// readUntil reads frames, acknowledging SETTINGS and giving back the window
// of every DATA read, until done says the bodies so far (by stream; a
// stream is there once its response header came) are enough.
func (rc *rawH2) readUntil(t *testing.T, done func(bodies map[uint32]string) bool) map[uint32]string {
	t.Helper()
	if done(rc.bodies) {
		return rc.bodies
	}
	rc.each(t, func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.HeadersFrame:
			rc.bodies[f.StreamID] += ""
		case *http2.DataFrame:
			rc.bodies[f.StreamID] += string(f.Data())
			if n := uint32(len(f.Data())); n > 0 {
				rc.fr.WriteWindowUpdate(0, n)
				rc.fr.WriteWindowUpdate(f.StreamID, n)
			}
		case *http2.RSTStreamFrame:
			t.Fatalf("stream %d reset: %v", f.StreamID, f.ErrCode)
		}
		return !done(rc.bodies)
	})
	return rc.bodies
}

// each reads frames, acknowledging SETTINGS, and hands every other one to
// handle until it returns false.
func (rc *rawH2) each(t *testing.T, handle func(http2.Frame) bool) {
	t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(testkit.Timeout))
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok {
			if !sf.IsAck() {
				rc.fr.WriteSettingsAck()
			}
			continue
		}
		if !handle(f) {
			return
		}
	}
}
