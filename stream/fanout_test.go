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

// TestFanOutWritesEveryStreamOfAnHTTP2Connection: the SUB subscriptions of
// one HTTP/2 connection, once caught up, are written by the connection's
// fan-out, and each still receives every event once, in order. Over
// HTTP/1.1 and HTTP/3 (no fan-out) nothing is counted as fanned out.
func TestFanOutWritesEveryStreamOfAnHTTP2Connection(t *testing.T) {
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
		{"HTTP/3", client.HTTP3, false, false},
	} {
		t.Run(p.name, func(t *testing.T) {
			o := startTestOrigin(t, nil)
			c := testkit.NewClient(t, client.Options{Mode: client.ModeSUB, HTTP: p.http, CAFile: o.CA.CAFile})
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
			// In bursts, so that the fan-out writes several events at once
			// as well as one.
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
			if got := o.closes.FanOutEver() > 0; got != p.fanOutWant {
				t.Errorf("fanned out: %v, want %v", got, p.fanOutWant)
			}
		})
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
	conn := subscribeRawH2(t, o.PlainAddr(), subscribers)
	defer conn.Close()
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

// subscribeRawH2 opens n SUB streams on one cleartext HTTP/2 connection
// (prior knowledge) with the smallest receive buffer, and reads only until
// each has its first 106.
func subscribeRawH2(t *testing.T, addr string, n int) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(nc, nc)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for i := range n {
		block.Reset()
		for _, f := range [][2]string{{":method", "SUB"}, {":scheme", "http"}, {":authority", addr}, {":path", streamPath}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block.Bytes(), EndHeaders: true, EndStream: true}); err != nil {
			t.Fatal(err)
		}
	}
	nc.SetReadDeadline(time.Now().Add(testkit.Timeout))
	opened := map[uint32]bool{}
	for len(opened) < n {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			opened[f.StreamID] = true
		}
	}
	return nc
}
