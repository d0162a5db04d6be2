package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Some parts of a benchmark run in processes of their own: the bare sender
// (a server, measured like the others), and on the lossy link the
// subscribers and the publisher, each in the network namespace it must be
// in (a Go process cannot move its threads into another namespace safely).
// They are the benchmark's own program again, `subpub-bench --child ROLE`
// (the harness re-executes itself), speaking JSON lines: the parent writes the role's configuration on its standard
// input, the child answers on its standard output ("ready ..." lines, then
// a JSON result), and it ends when its input is closed.

// Roles a child can play.
const (
	RoleBareSender  = "bare-sender"
	RoleSubscribers = "subscribers"
	RolePublisher   = "publisher"
)

// RunChild plays role, reading its configuration from in and writing its
// answers to out. A program that starts children (`subpub-bench`, and the
// harness's tests) calls it when run with --child ROLE.
func RunChild(ctx context.Context, role string, in io.Reader, out io.Writer, logger *slog.Logger) error {
	dec := json.NewDecoder(in)
	switch role {
	case RoleBareSender:
		return runBareSenderChild(ctx, dec, out, logger)
	case RoleSubscribers:
		return runSubscribersChild(ctx, dec, out)
	case RolePublisher:
		return runPublisherChild(ctx, dec, out)
	}
	return fmt.Errorf("benchmarks: unknown child role %q", role)
}

// Child is a running child process, from the parent's side.
type Child struct {
	role   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	enc    *json.Encoder
	out    *bufio.Reader
	stderr *strings.Builder
	done   chan struct{}
}

// StartChild runs `BINARY --child ROLE` (in network namespace netns if not
// empty), BINARY being a program that calls RunChild for it, and sends it
// config.
func StartChild(ctx context.Context, binary, netns, role string, config any) (*Child, error) {
	argv := []string{binary, "--child", role}
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	c := &Child{role: role, cmd: cmd, stderr: new(strings.Builder), done: make(chan struct{})}
	cmd.Stderr = &limitedWriter{w: c.stderr, left: 64 << 10}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	c.in, c.enc, c.out = in, json.NewEncoder(in), bufio.NewReader(out)
	if err := c.Send(config); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// Send writes one JSON line to the child.
func (c *Child) Send(v any) error {
	if err := c.enc.Encode(v); err != nil {
		return fmt.Errorf("benchmarks: child %s: %w\n%s", c.role, err, c.stderr)
	}
	return nil
}

// readLine waits for the child's next line of output, up to timeout.
func (c *Child) readLine(timeout time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		line, err := c.out.ReadString('\n')
		got <- result{strings.TrimSpace(line), err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			<-c.done
			return "", fmt.Errorf("benchmarks: child %s ended: %v\n%s", c.role, r.err, c.stderr)
		}
		return r.line, nil
	case <-time.After(timeout):
		c.kill()
		return "", fmt.Errorf("benchmarks: child %s silent for %v\n%s", c.role, timeout, c.stderr)
	}
}

// ExpectReady waits for the child's "ready" line and returns its words.
func (c *Child) ExpectReady(timeout time.Duration) ([]string, error) {
	line, err := c.readLine(timeout)
	if err != nil {
		return nil, err
	}
	words := strings.Fields(line)
	if len(words) == 0 || words[0] != "ready" {
		return nil, fmt.Errorf("benchmarks: child %s said %q, not ready\n%s", c.role, line, c.stderr)
	}
	return words[1:], nil
}

// Result reads the child's JSON result into v.
func (c *Child) Result(v any, timeout time.Duration) error {
	line, err := c.readLine(timeout)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(line), v); err != nil {
		return fmt.Errorf("benchmarks: child %s answered %q: %w", c.role, line, err)
	}
	return nil
}

// Pid is the child's process id (`ip netns exec` execs in place, so it is
// the child's own).
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Stop closes the child's input, which ends it, and kills it if it does
// not end within a few seconds.
func (c *Child) Stop() {
	c.in.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.kill()
	}
}

func (c *Child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// readConfig reads a child's configuration, the first line its parent
// writes.
func readConfig[T any](dec *json.Decoder) (T, error) {
	var cfg T
	if err := dec.Decode(&cfg); err != nil {
		return cfg, errChildUsage
	}
	return cfg, nil
}

// waitForEOF blocks until in is closed (the parent is done with the child)
// or ctx is done.
func waitForEOF(ctx context.Context, dec *json.Decoder) {
	ended := make(chan struct{})
	go func() {
		var v any
		for dec.Decode(&v) == nil {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
	}
}

// answer writes a child's result, v, as one JSON line, and waits until the
// parent is done with the child.
func answer(ctx context.Context, dec *json.Decoder, out io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		return err
	}
	waitForEOF(ctx, dec)
	return nil
}

// limitedWriter keeps the first left bytes written to it.
type limitedWriter struct {
	w    io.Writer
	left int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.left > 0 {
		n := min(len(p), l.left)
		l.w.Write(p[:n])
		l.left -= n
	}
	return len(p), nil
}

// errChildUsage reports a child started without a configuration.
var errChildUsage = errors.New("benchmarks: a child reads its configuration as JSON on standard input")
