package restart

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Reconnection delays of a reader: the first attempt after losing its
// stream waits a random time below firstRetry (clients randomize, as the
// draft asks them to, so that a restart's subscribers spread out), later
// ones retryDelay plus as much at random.
const (
	firstRetry = time.Second
	retryDelay = 200 * time.Millisecond
	readBuffer = 8 << 10
)

// reader is one subscriber: an HTTP/1.1 SSE subscription over a cleartext
// connection of its own, resumed after any failure with Last-Event-ID set
// to the last event it processed, lag events before the last it received.
// It checks that the ids it receives after resuming follow that id with
// none missing and none repeated (the origin numbers one stream's events
// consecutively).
type reader struct {
	addr, path string
	lag        int
	recent     []uint64 // the ids of the last events received, oldest first

	connects   atomic.Int64 // streams established
	received   atomic.Int64 // events received in all
	onStream   atomic.Int64 // events received on the current stream
	skipped    atomic.Int64 // ids missing after the one before
	repeated   atomic.Int64 // ids not after the one before
	gaps       atomic.Int64 // gap events
	resumeFrom atomic.Uint64

	mu      sync.Mutex
	refused map[int]int64 // attempts answered with another status than 200, by status
}

// refusals are the reader's refusals by status.
func (r *reader) refusals() map[int]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.refused)
}

// run reads until ctx is done.
func (r *reader) run(ctx context.Context) {
	delay := time.Duration(0)
	for ctx.Err() == nil {
		if delay > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
		established, _ := r.stream(ctx)
		if established {
			delay = rand.N(firstRetry)
		} else {
			delay = retryDelay + rand.N(retryDelay)
		}
	}
}

// processed is the id the reader resumes from: lag events before the last
// one received (the oldest it remembers if it has fewer), or none.
func (r *reader) processed() string {
	if len(r.recent) == 0 {
		return ""
	}
	i := max(len(r.recent)-1-r.lag, 0)
	return strconv.FormatUint(r.recent[i], 10)
}

// stream runs one subscription; established says whether it got as far as
// a 200.
func (r *reader) stream(ctx context.Context) (established bool, err error) {
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	last := r.processed()
	req := "GET " + r.path + " HTTP/1.1\r\nHost: " + r.addr + "\r\nAccept: text/event-stream\r\n"
	if last != "" {
		req += "Last-Event-ID: " + last + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return false, err
	}
	br := bufio.NewReaderSize(conn, readBuffer)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		r.mu.Lock()
		if r.refused == nil {
			r.refused = map[int]int64{}
		}
		r.refused[resp.StatusCode]++
		r.mu.Unlock()
		return false, fmt.Errorf("GET %s: %s", r.path, resp.Status)
	}
	body := br
	if len(resp.TransferEncoding) > 0 {
		body = bufio.NewReaderSize(resp.Body, readBuffer)
	}
	var prev uint64
	if last != "" {
		prev, _ = strconv.ParseUint(last, 10, 64)
		r.resumeFrom.Store(prev)
		// What was received after it is received again.
		r.recent = r.recent[:max(len(r.recent)-r.lag, 1)]
	}
	r.onStream.Store(0)
	r.connects.Add(1)
	return true, r.scan(body, prev)
}

// scan reads events, checking each id against the one before.
func (r *reader) scan(br *bufio.Reader, prev uint64) error {
	var id uint64
	var hasID, gap bool
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if hasID {
				r.event(id, gap, &prev)
			}
			hasID, gap = false, false
		case bytes.HasPrefix(line, []byte("id: ")):
			id, err = strconv.ParseUint(string(line[len("id: "):]), 10, 64)
			hasID = err == nil
		case bytes.Equal(line, []byte("event: gap")):
			gap = true
		}
	}
}

func (r *reader) event(id uint64, gap bool, prev *uint64) {
	switch {
	case gap:
		r.gaps.Add(1)
	case *prev != 0 && id <= *prev:
		r.repeated.Add(1)
	case *prev != 0 && id > *prev+1:
		r.skipped.Add(int64(id - *prev - 1))
	}
	*prev = max(*prev, id)
	r.recent = append(r.recent, id)
	if keep := r.lag + 1; len(r.recent) > keep {
		r.recent = append(r.recent[:0], r.recent[len(r.recent)-keep:]...)
	}
	r.received.Add(1)
	r.onStream.Add(1)
}
