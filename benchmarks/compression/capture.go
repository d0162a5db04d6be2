package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
)

// The origin's one user, whose outbox stream is captured.
const (
	user       = "alice"
	token      = "alice-token"
	outboxPath = "/users/" + user + "/outbox"
)

// Event is one event as the origin sent it, in both formats.
type Event struct {
	// SSE is the event's text/event-stream block, as written (its
	// trailing empty line included), without HTTP framing.
	SSE []byte
	// PUB is the 105 interim response as written on HTTP/1.1: its status
	// line and fields; Fields are the same fields parsed.
	PUB    []byte
	Fields http.Header
}

// captureTimeout bounds a capture: the origin publishes several hundred
// notes a second.
const captureTimeout = 5 * time.Minute

// Capture runs a subpub origin (the binary internal/launch finds), follows
// alice's outbox with SUB and with text/event-stream over cleartext
// HTTP/1.1 on raw connections, posts a Note for each of contents, and
// returns the events the origin sent, byte for byte, in order.
func Capture(ctx context.Context, contents []string, dir string) ([]Event, error) {
	ctx, cancel := context.WithTimeout(ctx, captureTimeout)
	defer cancel()
	p, err := launch.Start(ctx, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", filepath.Join(dir, "origin"),
		"--user", user+":"+token, "--max-per-client", "-1")
	if err != nil {
		return nil, err
	}
	defer p.Kill()

	pubs, err := follow(ctx, p.PlainAddr, "SUB", "")
	if err != nil {
		return nil, err
	}
	defer pubs.conn.Close()
	sse, err := follow(ctx, p.PlainAddr, http.MethodGet, "Accept: text/event-stream\r\n")
	if err != nil {
		return nil, err
	}
	defer sse.conn.Close()
	var wg sync.WaitGroup
	var pubEvents [][]byte
	var sseEvents [][]byte
	var pubErr, sseErr error
	wg.Go(func() { pubEvents, pubErr = pubs.readPUBs(len(contents)) })
	wg.Go(func() { sseEvents, sseErr = sse.readSSE(len(contents)) })

	c, err := client.New(client.Options{HTTP: client.HTTP11})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for _, content := range contents {
		note := fmt.Sprintf(`{"type":"Note","content":%q,"to":["https://www.w3.org/ns/activitystreams#Public"]}`, content)
		if _, err := c.Publish(ctx, p.PlainURL(outboxPath), token, []byte(note)); err != nil {
			pubs.conn.Close()
			sse.conn.Close()
			wg.Wait()
			return nil, fmt.Errorf("publishing: %w", err)
		}
	}
	context.AfterFunc(ctx, func() { pubs.conn.Close(); sse.conn.Close() })
	wg.Wait()
	if err := errors.Join(pubErr, sseErr); err != nil {
		return nil, err
	}
	events := make([]Event, len(contents))
	for i := range events {
		events[i].SSE = sseEvents[i]
		events[i].PUB = pubEvents[i]
		if events[i].Fields, err = parseFields(pubEvents[i]); err != nil {
			return nil, err
		}
	}
	return events, nil
}

// stream is a subscription on a connection of its own.
type stream struct {
	conn net.Conn
	r    *bufio.Reader
}

// follow subscribes to alice's outbox with method on a new connection to
// addr and reads the response up to its first event or acknowledgement.
func follow(ctx context.Context, addr, method, fields string) (*stream, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", method, outboxPath, addr, fields); err != nil {
		conn.Close()
		return nil, err
	}
	s := &stream{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	if method == http.MethodGet {
		resp, err := http.ReadResponse(s.r, nil)
		if err != nil {
			conn.Close()
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			conn.Close()
			return nil, fmt.Errorf("GET %s: %s", outboxPath, resp.Status)
		}
		s.r = bufio.NewReaderSize(resp.Body, 64<<10)
	}
	return s, nil
}

// readPUBs reads n 105 responses, as written, skipping 106s.
func (s *stream) readPUBs(n int) ([][]byte, error) {
	return s.readEvents(n, "SUB", "\r\n\r\n", func(head []byte) (bool, error) {
		switch {
		case bytes.HasPrefix(head, []byte("HTTP/1.1 105 ")):
			return true, nil
		case bytes.HasPrefix(head, []byte("HTTP/1.1 106 ")):
			return false, nil
		}
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return false, fmt.Errorf("%q", line)
	})
}

// readSSE reads n event blocks, as written, skipping comments and retry
// blocks.
func (s *stream) readSSE(n int) ([][]byte, error) {
	return s.readEvents(n, "text/event-stream", "\n\n", func(block []byte) (bool, error) {
		return bytes.Contains(block, []byte("\ndata:")) || bytes.HasPrefix(block, []byte("data:")), nil
	})
}

// readEvents reads the blocks of a stream in format, each ending in end,
// until n of them are events: isEvent says whether a block is one, to be
// kept as written, or what makes the stream not one of format.
func (s *stream) readEvents(n int, format, end string, isEvent func(block []byte) (bool, error)) ([][]byte, error) {
	var out [][]byte
	for len(out) < n {
		block, err := readUntil(s.r, end)
		if err != nil {
			return out, fmt.Errorf("%s: after %d events: %w", format, len(out), err)
		}
		event, err := isEvent(block)
		if err != nil {
			return out, fmt.Errorf("%s: %v after %d events", format, err, len(out))
		}
		if event {
			out = append(out, block)
		}
	}
	return out, nil
}

// readUntil reads up to and including the first end.
func readUntil(r *bufio.Reader, end string) ([]byte, error) {
	var b []byte
	for !bytes.HasSuffix(b, []byte(end)) {
		c, err := r.ReadByte()
		if err != nil {
			return b, err
		}
		b = append(b, c)
	}
	return b, nil
}

func parseFields(head []byte) (http.Header, error) {
	_, rest, _ := bytes.Cut(head, []byte("\r\n"))
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(rest))).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return http.Header(h), nil
}

// sentence is a piece of prose ending with a full stop.
var sentence = regexp.MustCompile(`[A-Z][^.]{20,400}\.`)

// maxNoteLength bounds a note's content, as microblogs do (500 characters
// is Mastodon's default).
const maxNoteLength = 500

// Contents are n note contents: the sentences of the text file, one per
// note, in order, from the beginning again when they run out. Prose a
// person wrote, so that what the compressors find in the events is what
// they would find in posts; the ActivityPub around it is the origin's.
func Contents(file string, n int) ([]string, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, s := range sentence.FindAllString(string(text), -1) {
		s = strings.Join(strings.Fields(s), " ")
		all = append(all, s[:min(len(s), maxNoteLength)])
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: no sentence in it", file)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = all[i%len(all)]
	}
	return out, nil
}
