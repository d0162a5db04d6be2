package interop

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
)

// Deadlines. They are generous because `go test ./...` runs these tests
// beside other packages' on a small machine; a passing run takes a fraction.
const (
	// openTimeout bounds how long a client may take to be subscribed
	// (Chromium: to start and to open its pages).
	openTimeout = 60 * time.Second
	// deliveryTimeout bounds how long the events of one test may take to
	// arrive once published.
	deliveryTimeout = 90 * time.Second
)

// outboxPath is the stream the tests follow: alice's outbox, which is
// public, so no client needs credentials; each note posted to it emits an
// Add event there.
const outboxPath = "/users/alice/outbox"

// servers is an origin and an edge in front of it, each a subpub process,
// and a client that publishes to the origin.
type servers struct {
	origin, edge *launch.Process
	pub          *client.Client
	published    int // notes posted so far, to number them
}

// startServers starts an origin with alice and bob and, if withEdge, an edge
// whose upstream is the origin, over HTTP/2 and TLS as in production. The
// edge lets a subscriber fall 16 MiB behind (not 1 MiB) before it ends its
// stream: a client starved of CPU by a busy machine for a moment is not what
// these tests are about, and none of their clients resumes.
func startServers(t *testing.T, withEdge bool) *servers {
	t.Helper()
	s := &servers{}
	s.origin = startProcess(t, "origin",
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--user", "alice:alice-token", "--user", "bob:bob-token",
		"--max-per-client", "-1", "--metrics", "127.0.0.1:0")
	if withEdge {
		s.edge = startProcess(t, "edge",
			"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
			"--upstream", s.origin.URL(""), "--upstream-cacert", s.origin.CAFile,
			"--max-per-client", "-1", "--max-lag", "16777216", "--metrics", "127.0.0.1:0")
	}
	pub, err := client.New(client.Options{CAFile: s.origin.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	s.pub = pub
	return s
}

func startProcess(t *testing.T, role string, args ...string) *launch.Process {
	t.Helper()
	p, err := launch.Start(t.Context(), role, launch.Options{}, args...)
	if err != nil {
		t.Fatal(err)
	}
	// The process is killed when t.Context() is done; wait for it, so that
	// it no longer writes to its data directory when that is removed.
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("subpub %s output:\n%s", role, p.Output())
		}
	})
	return p
}

// server names the origin or the edge, as the matrix does.
func (s *servers) server(name string) *launch.Process {
	if name == "edge" {
		return s.edge
	}
	return s.origin
}

// publishNotes posts n public notes to alice's outbox, one after another,
// and returns their contents in order ("note 1", "note 2", …, numbered
// across the calls on s). stop, if not nil, ends the loop early when it
// returns true; it is asked before each note.
func (s *servers) publishNotes(t *testing.T, n int, stop func() bool) []string {
	t.Helper()
	var contents []string
	for range n {
		if stop != nil && stop() {
			break
		}
		s.published++
		content := fmt.Sprintf("note %d", s.published)
		note := fmt.Sprintf(`{"type":"Note","content":%q,"to":["https://www.w3.org/ns/activitystreams#Public"]}`, content)
		if _, err := s.pub.Publish(t.Context(), s.origin.URL(outboxPath), "alice-token", []byte(note)); err != nil {
			t.Fatalf("publishing %s: %v", content, err)
		}
		contents = append(contents, content)
	}
	return contents
}

// needTool finds a program on PATH or, naming the Debian package that
// provides it, skips the test (fails it, when clients are required) and
// notes why in its rows.
func needTool(t *testing.T, name, debianPackage string, rows ...*row) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipRows(t, fmt.Sprintf("%s not found on PATH: apt-get install %s", name, debianPackage), rows...)
	}
	return path
}

// proc is a client running as a child process, whose output the test reads
// line by line.
type proc struct {
	lines  chan string // closed when the output read ends
	stderr *launch.Tail
	exited chan struct{}
	err    error // how it exited, once exited is closed
}

// startProc runs argv in dir; the test's cleanup kills it and waits. The
// lines read are those of its standard output or, with fromStderr, of its
// standard error (curl writes its verbose output there, unbuffered), its
// standard output then being discarded.
func startProc(t *testing.T, name, dir string, fromStderr bool, argv ...string) *proc {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
	cmd.Dir = dir
	p := &proc{lines: make(chan string, 256), stderr: launch.NewTail(16 << 10), exited: make(chan struct{})}
	var stdout io.ReadCloser
	var err error
	if fromStderr {
		stdout, err = cmd.StderrPipe()
	} else {
		cmd.Stderr = p.stderr
		stdout, err = cmd.StdoutPipe()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	stop := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	go func() {
		<-read // Wait must not close stdout before it has been read
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		close(stop)
		cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// event is one event as a client reported it.
type event struct {
	ID, Type string
	// Content is the note's content, decoded from the event's JSON data
	// (empty when the client shows only the fields).
	Content string
	// FieldBytes is the size of the PUB response's header section as the
	// client counted it, where it did.
	FieldBytes int
}

// stream collects what one subscriber reports, from a goroutine reading its
// output, for the test to wait on.
type stream struct {
	label string
	acked chan struct{} // closed at the subscription's acknowledgement

	mu          sync.Mutex
	events      []event
	headerBytes int // of every response header section received, as the client counts them
	ended       bool
	why         string        // why the stream ended, as the client said
	changed     chan struct{} // signalled (not closed) on every change
}

func newStream(label string) *stream {
	return &stream{label: label, acked: make(chan struct{}), changed: make(chan struct{}, 1)}
}

func (s *stream) ack() {
	select {
	case <-s.acked:
	default:
		close(s.acked)
	}
}

func (s *stream) add(e event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	s.signal()
}

// addBytes counts n more header bytes received.
func (s *stream) addBytes(n int) {
	s.mu.Lock()
	s.headerBytes += n
	s.mu.Unlock()
}

// setBytes sets the header bytes received, as a client that counts them
// itself reports.
func (s *stream) setBytes(n int) {
	s.mu.Lock()
	s.headerBytes = n
	s.mu.Unlock()
}

// bytes is the header bytes received so far.
func (s *stream) bytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headerBytes
}

func (s *stream) end(why string) {
	s.mu.Lock()
	if !s.ended {
		s.ended, s.why = true, why
	}
	s.mu.Unlock()
	s.signal()
}

func (s *stream) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// snapshot returns the events so far, whether the stream ended, and why.
func (s *stream) snapshot() ([]event, bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events...), s.ended, s.why
}

// follow feeds the lines p prints to parse, which updates s, and ends s
// when p's output ends.
func (s *stream) follow(p *proc, parse func(line string, s *stream)) {
	go func() {
		for line := range p.lines {
			parse(line, s)
		}
		<-p.exited
		why := "the client exited"
		if p.err != nil {
			why = fmt.Sprintf("the client exited: %v", p.err)
		}
		if tail := p.stderr.String(); tail != "" {
			why += ": " + lastLines(tail, 3)
		}
		s.end(why)
	}()
}

// waitAck waits for the subscription's acknowledgement.
func (s *stream) waitAck(t *testing.T) {
	t.Helper()
	timer := time.NewTimer(openTimeout)
	defer timer.Stop()
	for {
		select {
		case <-s.acked:
			return
		case <-s.changed:
			if _, ended, why := s.snapshot(); ended {
				t.Fatalf("%s ended before it was acknowledged: %s", s.label, why)
			}
		case <-timer.C:
			t.Fatalf("%s: no acknowledgement within %v", s.label, openTimeout)
		}
	}
}

// waitEvents waits until the stream has n events, or has ended, or the
// deadline passes, and returns the events it has.
func (s *stream) waitEvents(n int, deadline time.Time) []event {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		events, ended, _ := s.snapshot()
		if len(events) >= n || ended {
			return events
		}
		select {
		case <-s.changed:
		case <-timer.C:
			events, _, _ := s.snapshot()
			return events
		}
	}
}

// checkOrder verifies that events carry the published notes in order, and
// that their ids increase, and returns how many of want arrived.
func checkOrder(t *testing.T, label string, events []event, want []string) int {
	t.Helper()
	if len(events) > len(want) {
		t.Errorf("%s: %d events, more than the %d published", label, len(events), len(want))
	}
	var prev uint64
	for i, e := range events[:min(len(events), len(want))] {
		if e.Type != "Add" {
			t.Errorf("%s: event %d has type %q, want Add", label, i+1, e.Type)
		}
		if e.Content != want[i] {
			t.Fatalf("%s: event %d (id %s) carries %q, want %q", label, i+1, e.ID, e.Content, want[i])
		}
		id, err := parseID(e.ID)
		if err != nil || (i > 0 && id <= prev) {
			t.Fatalf("%s: event %d has id %q after %d: ids must increase", label, i+1, e.ID, prev)
		}
		prev = id
	}
	if len(events) < len(want) {
		t.Errorf("%s: received %d of %d events", label, len(events), len(want))
	}
	return min(len(events), len(want))
}

// parseID reads an event id: opaque to clients in general, but this
// origin's are decimal sequence numbers, increasing within a stream.
func parseID(id string) (uint64, error) {
	var n uint64
	if id == "" {
		return 0, fmt.Errorf("empty id")
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("id %q is not decimal", id)
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
