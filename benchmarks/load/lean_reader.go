package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The lean reader is the load generator's HTTP/1.1 SSE subscriber: one
// cleartext connection per subscription, a GET, and a scan of the body for
// the `t` field of each event and the blank line that ends it, with nothing
// allocated per event. Every HTTP/1.1 SSE row (the origin, the edge, the
// bare sender, the peers) is read by it, so that they compare on equal terms
// and the load generator costs as little as it can.

// leanReadBuffer is the size of each connection's read buffer: an event of
// the workload (about 700 bytes as SSE) fits several times.
const leanReadBuffer = 8 << 10

// Prefixes of the lines the lean reader looks at. nchan carries no `t` field,
// so its publisher puts the time first in the JSON data instead.
const (
	leanTimeField  = "t: "
	leanTimeInData = `data: {"t":`
)

// startLean opens count connections, each recording into rec, and returns
// once they are established (or after a while: the caller waits for all).
func (s *Subscribers) startLean(ctx context.Context, count int, rec *recorder) error {
	for range count {
		s.done.Go(func() { leanSubscribe(ctx, s.target, rec) })
	}
	waitOpened(ctx, rec, int64(count), 30*time.Second)
	return nil
}

// leanSubscribe reads one subscription until ctx is done, reconnecting
// (without Last-Event-ID: what was missed counts as undelivered) after a
// failure.
func leanSubscribe(ctx context.Context, t Target, rec *recorder) {
	for {
		leanStream(ctx, t, rec) // whatever ended it, the stream is gone
		if ctx.Err() != nil {
			return
		}
		rec.failures.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func leanStream(ctx context.Context, t Target, rec *recorder) error {
	dialer := net.Dialer{Timeout: 10 * time.Second}
	conn, err := dialer.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := "GET " + t.Path + " HTTP/1.1\r\nHost: " + t.Addr +
		"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: subpub-bench\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return err
	}
	counted := &countingReader{r: conn, n: &rec.bytes}
	br := bufio.NewReaderSize(counted, leanReadBuffer)
	// The body is never closed: closing drains it, and closing the
	// connection (deferred above) is what ends the stream.
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", t.Path, resp.Status)
	}
	rec.opened.Add(1)
	body := br
	if resp.Body != nil && (len(resp.TransferEncoding) > 0 || resp.ContentLength >= 0) {
		// Chunked (or, oddly, sized): let net/http undo the framing.
		body = bufio.NewReaderSize(resp.Body, leanReadBuffer)
	}
	return scanEvents(body, rec)
}

// scanEvents reads an event stream, recording each event that carries a
// publish time when its blank line arrives.
func scanEvents(br *bufio.Reader, rec *recorder) error {
	var tMS int64 = -1
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A data line longer than the buffer: skip the rest of it.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if tMS >= 0 {
				rec.record(tMS, time.Now())
			}
			tMS = -1
		case strings.HasPrefix(string(line), leanTimeField):
			tMS = parseMillis(line[len(leanTimeField):])
		case tMS < 0 && strings.HasPrefix(string(line), leanTimeInData):
			tMS = parseMillis(line[len(leanTimeInData):])
		}
	}
}

// parseMillis reads the decimal digits at the start of b (-1 if none).
func parseMillis(b []byte) int64 {
	end := 0
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	v, err := strconv.ParseInt(string(b[:end]), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// countingReader counts the bytes read from the socket.
type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n interface{ Add(int64) int64 }
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
