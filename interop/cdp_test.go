package interop

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/subpub/subpub/internal/launch"
)

// browser is a headless Chromium driven with the DevTools protocol over a
// pipe (--remote-debugging-pipe): it reads commands from its file
// descriptor 3 and writes replies and events to its descriptor 4, each
// message a JSON text ended by a NUL byte. No WebSocket, no npm package.
type browser struct {
	cmd    *exec.Cmd
	stderr *launch.Tail
	exited chan struct{}

	writeMu sync.Mutex
	toB     *os.File

	mu       sync.Mutex
	nextID   int64
	pending  map[int64]chan cdpMessage
	sessions map[string]func(method string, params json.RawMessage)
	err      error // why the connection ended, once it has
}

// cdpMessage is a command, a reply or an event.
type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// chromiumFlags are those every launch needs: headless, no sandbox (the
// tests may run as root), and nothing that reaches for Google's services.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--no-default-browser-check", "--disable-default-apps", "--mute-audio",
	"--remote-debugging-pipe",
	// Pages of one site share a renderer process: fewer processes to
	// start on a small machine.
	"--process-per-site",
}

// launchBrowser starts Chromium with a new profile and extra flags; the
// test's cleanup closes it. It may run in a goroutine of its own.
func launchBrowser(t *testing.T, path string, flags ...string) (*browser, error) {
	toR, toW, err := os.Pipe() // commands: we write, Chromium reads (fd 3)
	if err != nil {
		return nil, err
	}
	fromR, fromW, err := os.Pipe() // replies and events: Chromium writes (fd 4)
	if err != nil {
		toR.Close()
		toW.Close()
		return nil, err
	}
	args := append(append([]string{"--user-data-dir=" + t.TempDir()}, chromiumFlags...), flags...)
	cmd := exec.Command(path, append(args, "about:blank")...)
	cmd.ExtraFiles = []*os.File{toR, fromW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers go with it
	b := &browser{cmd: cmd, stderr: launch.NewTail(32 << 10), exited: make(chan struct{}), toB: toW,
		pending: map[int64]chan cdpMessage{}, sessions: map[string]func(string, json.RawMessage){}}
	cmd.Stderr = b.stderr
	err = cmd.Start()
	toR.Close()
	fromW.Close()
	if err != nil {
		toW.Close()
		fromR.Close()
		return nil, fmt.Errorf("starting Chromium: %w", err)
	}
	go b.read(fromR)
	go func() {
		cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.call(ctx, "", "Browser.close", nil, nil)
		select {
		case <-b.exited:
		case <-ctx.Done():
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-b.exited
		}
		toW.Close()
		if t.Failed() {
			t.Logf("Chromium's standard error (end):\n%s", b.stderr.String())
		}
	})
	// Ready when it answers.
	ctx, cancel := context.WithTimeout(t.Context(), openTimeout)
	defer cancel()
	if err := b.call(ctx, "", "Browser.getVersion", nil, nil); err != nil {
		return nil, fmt.Errorf("Chromium does not answer on its DevTools pipe: %w\n%s", err, b.stderr.String())
	}
	return b, nil
}

// read dispatches what Chromium sends until the pipe closes.
func (b *browser) read(r *os.File) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	var err error
	for {
		var raw []byte
		raw, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var m cdpMessage
		if err = json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			break
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.pending[m.ID]; ok {
				delete(b.pending, m.ID)
				ch <- m // buffered
			}
			b.mu.Unlock()
			continue
		}
		handler := b.sessions[m.SessionID]
		b.mu.Unlock()
		if handler != nil && m.Method != "" {
			handler(m.Method, m.Params)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = fmt.Errorf("the DevTools pipe closed: %w", err)
	for id, ch := range b.pending {
		delete(b.pending, id)
		close(ch)
	}
}

// call sends a command (to a page's session, or to the browser when
// session is "") and decodes its result into result, if not nil.
func (b *browser) call(ctx context.Context, session, method string, params, result any) error {
	raw, err := json.Marshal(params)
	if err != nil {
		return err
	}
	if params == nil {
		raw = nil
	}
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return b.err
	}
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(cdpMessage{ID: id, SessionID: session, Method: method, Params: raw})
	if err != nil {
		return err
	}
	b.writeMu.Lock()
	_, err = b.toB.Write(append(msg, 0))
	b.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case reply, ok := <-ch:
		if !ok {
			b.mu.Lock()
			defer b.mu.Unlock()
			return fmt.Errorf("%s: %w", method, b.err)
		}
		if reply.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, reply.Error.Message, reply.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(reply.Result, result)
		}
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// page is a tab. The tests give each page of a browser its own server
// origin (scheme, host and port), so that no two share a connection.
type page struct {
	b       *browser
	session string

	mu     sync.Mutex
	loads  int
	loaded chan struct{} // signalled on each load event
	// eventSource is what the browser's network stack says of the page's
	// EventSource request: the protocol of its response, or why it failed.
	eventSource struct {
		protocol string
		status   int
		failure  string
	}
}

func (b *browser) newPage(ctx context.Context) (*page, error) {
	var target struct{ TargetID string }
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var attached struct{ SessionID string }
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	p := &page{b: b, session: attached.SessionID, loaded: make(chan struct{}, 1)}
	b.mu.Lock()
	b.sessions[p.session] = p.onEvent
	b.mu.Unlock()
	for _, domain := range []string{"Page.enable", "Network.enable"} {
		if err := b.call(ctx, p.session, domain, nil, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// onEvent runs on the browser's reader: it must not call the browser.
func (p *page) onEvent(method string, params json.RawMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch method {
	case "Page.loadEventFired":
		p.loads++
		select {
		case p.loaded <- struct{}{}:
		default:
		}
	case "Network.responseReceived":
		var ev struct {
			Type     string
			Response struct {
				Status   int
				Protocol string
			}
		}
		if json.Unmarshal(params, &ev) == nil && ev.Type == "EventSource" {
			p.eventSource.protocol = ev.Response.Protocol
			p.eventSource.status = ev.Response.Status
		}
	case "Network.loadingFailed":
		var ev struct {
			Type      string
			ErrorText string
			Canceled  bool
		}
		if json.Unmarshal(params, &ev) == nil && ev.Type == "EventSource" && !ev.Canceled {
			p.eventSource.failure = ev.ErrorText
		}
	}
}

// navigate loads url and waits for its load event.
func (p *page) navigate(ctx context.Context, url string) error {
	p.mu.Lock()
	before := p.loads
	p.mu.Unlock()
	var nav struct{ ErrorText string }
	if err := p.b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", url, nav.ErrorText)
	}
	for {
		p.mu.Lock()
		done := p.loads > before
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-p.loaded:
		case <-ctx.Done():
			return fmt.Errorf("navigating to %s: no load event: %w", url, ctx.Err())
		}
	}
}

// evaluate runs a JavaScript expression in the page, awaiting the promise
// it returns, and decodes its value into result.
func (p *page) evaluate(ctx context.Context, expression string, result any) error {
	var reply struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression": expression, "awaitPromise": true, "returnByValue": true,
	}, &reply)
	if err != nil {
		return err
	}
	if d := reply.ExceptionDetails; d != nil {
		return errors.New(cmp.Or(d.Exception.Description, d.Text))
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(reply.Result.Value, result)
}
