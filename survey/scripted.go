package survey

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Variant is one way an origin could answer a subscription on the wire —
// the draft's, or an alternative a working group would ask about — played
// by a scripted upstream, so that proxies can be tried with each.
type Variant struct {
	Name string
	// Describe says what differs from the draft's form.
	Describe string
	// head is written once, before the events ("" for none); event writes
	// the i-th event.
	head  string
	event func(i int) string
	// reuseQuestion marks the variants whose connection reuse is asked
	// several times (see tryVariant).
	reuseQuestion bool
}

func (v Variant) heading() (name, describe string) { return v.Name, v.Describe }

// scriptedEvents is how many events the scripted upstream writes to each
// subscription, eventGap apart: more than the proxies that stop early let
// through (Caddy 4, Apache 9).
const (
	scriptedEvents = 20
	eventGap       = 10 * time.Millisecond
)

// pub is an interim response carrying event i with code.
func pub(code int, reason string, i int) string {
	return fmt.Sprintf("HTTP/1.1 %d %s\r\nEvent: id=\"%d\"\r\nEvent-Data: \"n%d\"\r\n\r\n", code, reason, i, i)
}

// Variants are the answers tried.
var Variants = []Variant{
	{
		Name: "drafted", Describe: "106 first, then a 105 per event",
		head:          "HTTP/1.1 106 Subscribed\r\nCache-Control: public\r\n\r\n",
		event:         func(i int) string { return pub(105, "PUB", i) },
		reuseQuestion: true,
	},
	{
		Name: "Connection: close", Describe: "as drafted, with Connection: close on the 106 (HTTP/1.1), so that a proxy taking it for the final response does not reuse the connection",
		head:          "HTTP/1.1 106 Subscribed\r\nCache-Control: public\r\nConnection: close\r\n\r\n",
		event:         func(i int) string { return pub(105, "PUB", i) },
		reuseQuestion: true,
	},
	{
		Name: "no 106", Describe: "no acknowledgement: the first 105 is the first response",
		event: func(i int) string { return pub(105, "PUB", i) },
	},
	{
		Name: "Incremental", Describe: "as drafted, with Incremental: ?1 (RFC 10036) on the 106 and every 105",
		head: "HTTP/1.1 106 Subscribed\r\nCache-Control: public\r\nIncremental: ?1\r\n\r\n",
		event: func(i int) string {
			return strings.Replace(pub(105, "PUB", i), "\r\n\r\n", "\r\nIncremental: ?1\r\n\r\n", 1)
		},
	},
	{
		Name: "102 first", Describe: "102 Processing as the acknowledgement and keepalive, then a 105 per event",
		head:  "HTTP/1.1 102 Processing\r\n\r\n",
		event: func(i int) string { return pub(105, "PUB", i) },
	},
	{
		Name: "code 150", Describe: "as drafted, with an unassigned code far from the registered ones (150) for PUB",
		head:  "HTTP/1.1 106 Subscribed\r\nCache-Control: public\r\n\r\n",
		event: func(i int) string { return pub(150, "PUB", i) },
	},
}

// scriptedUpstream serves the variants over HTTP/1.1: a request's path
// names its variant (/variant/N). After the last event it keeps the
// response open, as a subscription would, until its connection closes.
type scriptedUpstream struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]bool
}

func startScriptedUpstream() (*scriptedUpstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &scriptedUpstream{ln: ln, open: map[net.Conn]bool{}}
	s.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open[conn] = true
			s.mu.Unlock()
			s.wg.Go(func() { s.serve(conn) })
		}
	})
	return s, nil
}

func (s *scriptedUpstream) addr() string { return s.ln.Addr().String() }

// close ends every connection and waits for their goroutines.
func (s *scriptedUpstream) close() {
	s.ln.Close()
	s.mu.Lock()
	for conn := range s.open {
		conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *scriptedUpstream) serve(conn net.Conn) {
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.open, conn)
		s.mu.Unlock()
	}()
	r := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		var n int
		if _, err := fmt.Sscanf(req.URL.Path, "/variant/%d", &n); err != nil || n < 0 || n >= len(Variants) || req.Method != "SUB" {
			body := "not a variant\n"
			fmt.Fprintf(conn, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			continue
		}
		v := Variants[n]
		if _, err := io.WriteString(conn, v.head); err != nil {
			return
		}
		for i := range scriptedEvents {
			time.Sleep(eventGap)
			if _, err := io.WriteString(conn, v.event(i)); err != nil {
				return
			}
		}
		// Hold the subscription open until the peer goes.
		io.Copy(io.Discard, r)
		return
	}
}
