package main

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/wire"
)

// A connEncoder is what one subscriber's connection does to send each
// event: it returns the bytes the event adds to the connection, before
// HTTP framing for a text/event-stream and with it for a PUB.
type connEncoder interface {
	encode(e *Event) (int, error)
}

// Row is one way of sending the events, measured.
type Row struct {
	Name string `json:"name"`
	// State is what each connection keeps to encode the next event.
	State string `json:"state"`
	// H1, H2 and H3 are the mean bytes one event adds to a connection of
	// that version (0: not measured), HTTP framing included (chunked
	// coding, a DATA frame's header) and TLS, TCP, QUIC not.
	H1 float64 `json:"h1,omitempty"`
	H2 float64 `json:"h2,omitempty"`
	H3 float64 `json:"h3,omitempty"`
	// CPUMicros is the processor time per event per connection that the
	// encoding takes, for an encoding of the connection's own (0 when the
	// encoding of an event is made once and shared by every subscriber).
	CPUMicros float64 `json:"cpu_us,omitempty"`
	// HeapKiB is the heap each connection's encoder holds once it has sent
	// every event (0 for a shared encoding).
	HeapKiB float64 `json:"heap_kib,omitempty"`
	// Shared says that the encoding of an event is the same for every
	// subscriber, made once: CPUMicros is then per event, not per
	// connection.
	Shared bool `json:"shared,omitempty"`
}

// Options of a measurement.
type Options struct {
	// Rounds is how many times the sequence is encoded, each on a fresh
	// connection, for the processor time.
	Rounds int
	// Connections is how many encoders are kept alive together for the
	// heap each holds.
	Connections int
}

// Measure encodes events in every way.
func Measure(events []Event, opts Options) ([]Row, error) {
	var rows []Row
	pub := Row{Name: "SUB (105 PUB)", State: "HTTP/2: the HPACK dynamic table (4 KiB, the default SETTINGS_HEADER_TABLE_SIZE); HTTP/1.1 and HTTP/3 (static QPACK table): none"}
	for i := range events {
		pub.H1 += float64(len(events[i].PUB))
		pub.H3 += float64(len(wire.AppendHTTP3Headers(nil, 105, events[i].Fields)))
	}
	pub.H1 /= float64(len(events))
	pub.H3 /= float64(len(events))
	var err error
	if pub.H2, pub.CPUMicros, pub.HeapKiB, err = measureEncoder(events, opts, func() (connEncoder, error) { return newHPACK(4096), nil }); err != nil {
		return nil, err
	}
	rows = append(rows, pub)
	big := Row{Name: "SUB, HPACK table 64 KiB", State: "a 64 KiB HPACK dynamic table (what the implementation's HTTP/2 server offers; Chromium's SETTINGS allow it)"}
	if big.H2, big.CPUMicros, big.HeapKiB, err = measureEncoder(events, opts, func() (connEncoder, error) { return newHPACK(64 << 10), nil }); err != nil {
		return nil, err
	}
	rows = append(rows, big)

	sse := Row{Name: "SSE", State: "none (each event's block is encoded once, for every subscriber)"}
	plain := make([]int, len(events))
	for i := range events {
		plain[i] = len(events[i].SSE)
	}
	sse.setFramed(plain)
	rows = append(rows, sse)

	for _, c := range append(Codecs, EachEventAlone) {
		row := Row{Name: "SSE + " + c.Name, State: "a compressor per connection, window " + c.Window}
		if c.Name == EachEventAlone.Name {
			row.Shared = true
			row.State = "none: each event is compressed once, alone, and the same bytes sent to every subscriber"
		}
		var sizes []int
		var err error
		if _, row.CPUMicros, row.HeapKiB, err = measureEncoder(events, opts, func() (connEncoder, error) { return newCompressed(c) }); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		if sizes, err = compressedSizes(c, events); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		row.setFramed(sizes)
		rows = append(rows, row)
	}
	return rows, nil
}

// setFramed sets the mean bytes per event of a text/event-stream whose
// events came to sizes bytes of content each, with each version's
// framing of them: a chunk, a DATA frame.
func (r *Row) setFramed(sizes []int) {
	r.H1, r.H2, r.H3 = 0, 0, 0
	for _, n := range sizes {
		r.H1 += float64(n + chunkFraming(n))
		r.H2 += float64(n + h2DataFraming)
		r.H3 += float64(n + len(wire.AppendHTTP3DataHeader(nil, n)))
	}
	r.H1 /= float64(len(sizes))
	r.H2 /= float64(len(sizes))
	r.H3 /= float64(len(sizes))
}

// h2DataFraming is an HTTP/2 DATA frame's header.
const h2DataFraming = 9

// chunkFraming is what the chunked coding of HTTP/1.1 adds to a chunk of n
// bytes: its size in hexadecimal, CRLF, and CRLF after it.
func chunkFraming(n int) int { return len(strconv.FormatInt(int64(n), 16)) + 4 }

// measureEncoder runs the events through encoders that newEncoder makes:
// once for the mean bytes per event, opts.Rounds times (a fresh encoder
// each) for the processor time per event, and opts.Connections encoders
// kept alive together for the heap each holds.
func measureEncoder(events []Event, opts Options, newEncoder func() (connEncoder, error)) (bytesPerEvent, cpuMicros, heapKiB float64, err error) {
	run := func() (connEncoder, int, error) {
		enc, err := newEncoder()
		if err != nil {
			return nil, 0, err
		}
		total := 0
		for i := range events {
			n, err := enc.encode(&events[i])
			if err != nil {
				return nil, 0, err
			}
			total += n
		}
		return enc, total, nil
	}
	_, total, err := run()
	if err != nil {
		return 0, 0, 0, err
	}
	bytesPerEvent = float64(total) / float64(len(events))

	before := cpuTime()
	for range opts.Rounds {
		if _, _, err := run(); err != nil {
			return 0, 0, 0, err
		}
	}
	cpuMicros = float64((cpuTime() - before).Nanoseconds()) / 1e3 / float64(opts.Rounds*len(events))

	heap0 := liveHeap()
	kept := make([]connEncoder, 0, opts.Connections)
	for range opts.Connections {
		enc, _, err := run()
		if err != nil {
			return 0, 0, 0, err
		}
		kept = append(kept, enc)
	}
	heapKiB = float64(liveHeap()-heap0) / 1024 / float64(len(kept))
	runtime.KeepAlive(kept)
	return bytesPerEvent, cpuMicros, heapKiB, nil
}

// cpuTime is the processor time of this process so far, user and system:
// the garbage collector's share of an encoding included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveHeap is the heap in use after a collection (two: what a finalizer
// freed in the first is collected in the second).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// hpackConn is one HTTP/2 connection's HPACK encoder, which indexes every
// field, as the implementation's server does.
type hpackConn struct {
	buf bytes.Buffer
	enc *hpack.Encoder
}

func newHPACK(table uint32) *hpackConn {
	c := &hpackConn{}
	c.enc = hpack.NewEncoder(&c.buf)
	c.enc.SetMaxDynamicTableSizeLimit(table)
	c.enc.SetMaxDynamicTableSize(table)
	return c
}

// encode returns the HEADERS frame of the event's 105, frame header
// included.
func (c *hpackConn) encode(e *Event) (int, error) {
	c.buf.Reset()
	if err := c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "105"}); err != nil {
		return 0, err
	}
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range e.Fields[name] {
			if err := c.enc.WriteField(hpack.HeaderField{Name: strings.ToLower(name), Value: v}); err != nil {
				return 0, err
			}
		}
	}
	return 9 + c.buf.Len(), nil
}

// compressedConn is one connection's compressed text/event-stream.
type compressedConn struct {
	out bytes.Buffer
	w   FlushWriter
}

func newCompressed(c Codec) (*compressedConn, error) {
	cc := &compressedConn{}
	var err error
	cc.w, err = c.New(&cc.out)
	return cc, err
}

// encode compresses the event and flushes, and returns the bytes that
// came out.
func (c *compressedConn) encode(e *Event) (int, error) {
	c.out.Reset()
	if _, err := c.w.Write(e.SSE); err != nil {
		return 0, err
	}
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	return c.out.Len(), nil
}

// compressedSizes compresses the events on one connection, flushing after
// each, and returns the bytes each added; it decodes the whole stream
// again, each event from no more than the bytes flushed by then, and
// fails unless every event comes back as it was.
func compressedSizes(c Codec, events []Event) ([]int, error) {
	var stream bytes.Buffer
	w, err := c.New(&stream)
	if err != nil {
		return nil, err
	}
	src := &flushedReader{}
	var dec io.Reader
	sizes := make([]int, len(events))
	for i := range events {
		before := stream.Len()
		if _, err := w.Write(events[i].SSE); err != nil {
			return nil, err
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
		sizes[i] = stream.Len() - before
		src.pending = append(src.pending, stream.Bytes()[before:]...)
		if dec == nil {
			if dec, err = c.NewReader(src); err != nil {
				return nil, fmt.Errorf("event 0: %w", err)
			}
		}
		got := make([]byte, len(events[i].SSE))
		if _, err := io.ReadFull(dec, got); err != nil {
			return nil, fmt.Errorf("event %d could not be decoded from the bytes flushed so far: %w", i, err)
		}
		if !bytes.Equal(got, events[i].SSE) {
			return nil, fmt.Errorf("event %d decoded as %q, want %q", i, got, events[i].SSE)
		}
	}
	return sizes, nil
}

// flushedReader hands a decoder the bytes flushed so far, and no more: a
// decoder that needs more to produce an event gets errNotFlushed, as a
// client would wait forever.
type flushedReader struct{ pending []byte }

var errNotFlushed = fmt.Errorf("more bytes needed than the sender has flushed")

func (r *flushedReader) Read(p []byte) (int, error) {
	if len(r.pending) == 0 {
		return 0, errNotFlushed
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}
