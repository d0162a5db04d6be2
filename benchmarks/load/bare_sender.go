package load

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/wire"
)

// The bare sender is the physical limit of fan-out on this machine: no HTTP
// server, no ring, no cursors, only an SSE response header and then, for
// each event, one pre-encoded frame appended to every connection's pending
// bytes and a wake-up of that connection's writer, which writes whatever is
// pending in one system call. A subscriber that has fallen behind is caught
// up in fewer, larger writes. Publications arrive on a control listener
// (POST /publish), which answers once the event is queued everywhere,
// before any write.

// BareSenderConfig configures the bare sender child.
type BareSenderConfig struct {
	// Data is the event payload (the origin's Add event, as measured).
	Data string `json:"data"`
	// Type is the event type.
	Type string `json:"type"`
	// MaxPending bounds the bytes queued for one connection; past it the
	// connection is dropped (its reader reconnects and misses events).
	MaxPending int `json:"max_pending"`
}

// BareSenderStats are the bare sender's counters.
type BareSenderStats struct {
	Events int64 `json:"events"`
	// InWindow counts the events stamped with a time in the window asked
	// for.
	InWindow int64 `json:"in_window"`
	Frames   int64 `json:"frames"` // events queued, one per connection per event
	Writes   int64 `json:"writes"` // system calls that wrote them
	Dropped  int64 `json:"dropped"`
}

type bareSender struct {
	cfg    BareSenderConfig
	logger *slog.Logger

	mu    sync.Mutex
	conns map[*bareConn]struct{}
	seq   int64
	times []int64 // publish time of every event, in ms: a few thousand

	events, frames, writes, dropped atomic.Int64
}

type bareConn struct {
	conn    net.Conn
	mu      sync.Mutex
	pending []byte
	wake    chan struct{} // capacity 1: a write is due
}

func runBareSenderChild(ctx context.Context, dec *json.Decoder, out io.Writer, logger *slog.Logger) error {
	cfg, err := readConfig[BareSenderConfig](dec)
	if err != nil {
		return err
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4 << 20
	}
	s := &bareSender{cfg: cfg, logger: logger, conns: map[*bareConn]struct{}{}}
	subs, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer subs.Close()
	ctrl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish", s.servePublish)
	mux.HandleFunc("GET /stats", s.serveStats)
	ctrlSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go ctrlSrv.Serve(ctrl)
	defer ctrlSrv.Close()
	go s.accept(subs)
	fmt.Fprintf(out, "ready %s %s\n", subs.Addr(), ctrl.Addr())
	waitForEOF(ctx, dec)
	return nil
}

func (s *bareSender) accept(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go s.serve(conn)
	}
}

// serve reads the request header, answers with an event-stream header and
// registers the connection for events.
func (s *bareSender) serve(conn net.Conn) {
	br := bufio.NewReader(conn)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			conn.Close()
			return
		}
		if len(line) <= 2 { // the blank line ending the header
			break
		}
	}
	const header = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, header); err != nil {
		conn.Close()
		return
	}
	c := &bareConn{conn: conn, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go func() { // notice the client leaving
		io.Copy(io.Discard, br)
		conn.Close()
	}()
	s.write(c)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// write is a connection's writer: whatever is pending, in one write.
func (s *bareSender) write(c *bareConn) {
	var spare []byte
	for range c.wake {
		c.mu.Lock()
		buf := c.pending
		c.pending = spare[:0]
		c.mu.Unlock()
		if len(buf) == 0 {
			continue
		}
		if _, err := c.conn.Write(buf); err != nil {
			c.conn.Close()
			return
		}
		s.writes.Add(1)
		spare = buf
	}
}

// servePublish stamps an event with the time, encodes it once and queues it
// for every connection.
func (s *bareSender) servePublish(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seq++
	e := wire.Event{ID: strconv.FormatInt(s.seq, 10), Type: s.cfg.Type, Data: []byte(s.cfg.Data), Time: time.Now()}
	s.times = append(s.times, e.Time.UnixMilli())
	frame := wire.AppendSSE(nil, &e)
	conns := make([]*bareConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.events.Add(1)
	for _, c := range conns {
		c.mu.Lock()
		if len(c.pending)+len(frame) > s.cfg.MaxPending {
			c.mu.Unlock()
			s.dropped.Add(1)
			c.conn.Close()
			continue
		}
		c.pending = append(c.pending, frame...)
		c.mu.Unlock()
		s.frames.Add(1)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveStats answers the counters, and how many events have a publish time
// in [start, end) (milliseconds, from the query).
func (s *bareSender) serveStats(w http.ResponseWriter, r *http.Request) {
	start, _ := strconv.ParseInt(r.URL.Query().Get("start"), 10, 64)
	end, _ := strconv.ParseInt(r.URL.Query().Get("end"), 10, 64)
	win := Window{StartMS: start, EndMS: end}
	var in int64
	s.mu.Lock()
	for _, t := range s.times {
		if win.contains(t) {
			in++
		}
	}
	s.mu.Unlock()
	json.NewEncoder(w).Encode(BareSenderStats{
		Events: s.events.Load(), InWindow: in, Frames: s.frames.Load(), Writes: s.writes.Load(), Dropped: s.dropped.Load(),
	})
}

// FetchBareStats reads the bare sender's counters, counting the events of
// w.
func FetchBareStats(ctx context.Context, ctrlAddr string, w Window) (BareSenderStats, error) {
	var st BareSenderStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ctrlAddr+"/stats"+windowQuery(w), nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("bare sender stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
