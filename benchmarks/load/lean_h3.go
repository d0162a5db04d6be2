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

	"github.com/quic-go/qpack"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/quic-go/quicvarint"
)

// The lean HTTP/3 reader: one QUIC connection per group, on which quic-go's
// http3.ClientConn runs the control streams (SETTINGS, and the server's
// unidirectional streams), while each subscription's request stream is
// opened on the QUIC connection directly and its frames read here: a
// varint type and length, then a HEADERS frame's QPACK section read in
// place for its status and `t` (qpackFields), or a DATA frame's SSE scanned
// for `t:` lines. quic-go's streams block on Read, so each stream has a
// goroutine; nothing is allocated per event.

// HTTP/3 frame types and the error code of a cancelled request (RFC 9114).
const (
	h3FrameData          = 0x00
	h3FrameHeaders       = 0x01
	h3ErrRequestCanceled = 0x10c
	h3ReadBuffer         = 16 << 10
)

// h3QUICConfig lets the server send without waiting on flow control, and
// keeps a quiet connection alive as subpub's client does.
var h3QUICConfig = &quic.Config{
	KeepAlivePeriod:                10 * time.Second,
	MaxIdleTimeout:                 30 * time.Second,
	InitialStreamReceiveWindow:     1 << 20,
	MaxStreamReceiveWindow:         8 << 20,
	InitialConnectionReceiveWindow: 16 << 20,
	MaxConnectionReceiveWindow:     64 << 20,
	MaxIncomingStreams:             -1, // servers open no bidirectional streams
}

// h3Request is the HEADERS frame of every request of a connection: with
// QPACK's static table only, the same bytes on every stream.
func h3Request(m muxTarget) []byte {
	var block bytes.Buffer
	enc := qpack.NewEncoder(&block)
	for _, f := range m.request {
		enc.WriteField(qpack.HeaderField{Name: f.name, Value: f.value})
	}
	enc.Close()
	frame := quicvarint.Append(nil, h3FrameHeaders)
	frame = quicvarint.Append(frame, uint64(block.Len()))
	return append(frame, block.Bytes()...)
}

// runH3Conn is the lean HTTP/3 reader's muxConn.
func runH3Conn(ctx context.Context, m muxTarget, count int, rec *recorder) error {
	dialCtx, cancel := context.WithTimeout(ctx, dialTimeout)
	qc, err := quic.DialAddr(dialCtx, m.authority, m.tls, h3QUICConfig)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			rec.failures.Add(int64(count))
		}
		return err
	}
	defer qc.CloseWithError(0, "")
	stop := context.AfterFunc(ctx, func() { qc.CloseWithError(0, "") })
	defer stop()
	// The ClientConn sends the client's SETTINGS and reads the server's
	// control stream; the request streams are this reader's.
	(&http3.Transport{}).NewClientConn(qc)
	req := h3Request(m)
	var streams sync.WaitGroup
	events := new(eventTimeCache)
	for range count {
		streams.Go(func() { h3Subscribe(ctx, qc, m, req, rec, events) })
	}
	streams.Wait()
	return context.Cause(qc.Context())
}

// h3Subscribe keeps one subscription on qc until ctx is done or qc fails.
func h3Subscribe(ctx context.Context, qc *quic.Conn, m muxTarget, req []byte, rec *recorder, events *eventTimeCache) {
	r := &h3Reader{m: m, rec: rec, br: bufio.NewReaderSize(nil, h3ReadBuffer)}
	r.fields.events = events
	for {
		r.stream(ctx, qc, req)
		if ctx.Err() != nil {
			return
		}
		rec.failures.Add(1)
		if qc.Context().Err() != nil {
			return // the group dials again
		}
		t := time.NewTimer(leanRetryDelay)
		select {
		case <-t.C:
		case <-qc.Context().Done():
		}
		t.Stop()
	}
}

// h3Reader is one subscription's reading state, reused from stream to
// stream.
type h3Reader struct {
	m      muxTarget
	rec    *recorder
	br     *bufio.Reader
	fields qpackFields
	block  []byte
	sse    sseScanner
}

var errH3Final = errors.New("benchmarks: the server ended the subscription")

func (r *h3Reader) stream(ctx context.Context, qc *quic.Conn, req []byte) error {
	str, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	cancelStream := func() {
		str.CancelRead(h3ErrRequestCanceled)
		str.CancelWrite(h3ErrRequestCanceled)
	}
	stop := context.AfterFunc(ctx, cancelStream)
	defer stop()
	if _, err := str.Write(req); err != nil {
		cancelStream()
		return err
	}
	str.Close()
	r.br.Reset(&countingReader{r: str, n: &r.rec.bytes})
	r.sse.reset()
	err = r.read()
	cancelStream() // a no-op if the stream ended
	return err
}

// read reads the stream's frames until it ends.
func (r *h3Reader) read() error {
	opened := false
	for {
		typ, err := quicvarint.Read(r.br)
		if err != nil {
			return err
		}
		n, err := quicvarint.Read(r.br)
		if err != nil {
			return err
		}
		switch typ {
		case h3FrameHeaders:
			if n > h2MaxHeaderList {
				return fmt.Errorf("benchmarks: HTTP/3 HEADERS frame of %d bytes", n)
			}
			if uint64(cap(r.block)) < n {
				r.block = make([]byte, n)
			}
			r.block = r.block[:n]
			if _, err := io.ReadFull(r.br, r.block); err != nil {
				return err
			}
			if err := r.fields.read(r.block); err != nil {
				return err
			}
			switch r.m.response(r.fields.status, opened) {
			case responseOpened:
				opened = true
				r.rec.opened.Add(1)
			case responseEvent:
				if r.fields.hasT {
					r.rec.record(r.fields.tMS, time.Now())
				}
			case responseFinal:
				return errH3Final
			}
		case h3FrameData:
			if r.m.sub || !opened {
				if err := r.discard(n); err != nil {
					return err
				}
				continue
			}
			for n > 0 {
				k := int(min(n, uint64(r.br.Size())))
				p, err := r.br.Peek(k)
				if err != nil {
					return err
				}
				r.sse.feed(p, r.rec)
				r.br.Discard(k)
				n -= uint64(k)
			}
		default: // reserved and unknown frame types are skipped
			if err := r.discard(n); err != nil {
				return err
			}
		}
	}
}

func (r *h3Reader) discard(n uint64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		d, err := r.br.Discard(k)
		n -= uint64(d)
		if err != nil {
			return err
		}
	}
	return nil
}
