package launch

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// Bounds on starting a Program.
const (
	// DefaultListenTimeout bounds how long a program may take to accept
	// connections on every address it was told to listen on.
	DefaultListenTimeout = 30 * time.Second
	// programOutputKept is how much of a program's output is kept to say
	// why it failed.
	programOutputKept = 16 << 10
)

// Program is a program other than subpub (a peer of the benchmarks, a proxy
// of the survey) run in the foreground as a child of this process, in a
// process group of its own so that its workers end with it.
type Program struct {
	Cmd  *exec.Cmd
	done chan struct{}
	out  *Tail
}

// ProgramOptions adjust how a Program is started.
type ProgramOptions struct {
	// Dir is its working directory; Env, if set, its whole environment.
	Dir string
	Env []string
	// Output receives what it writes, besides the end kept for errors.
	Output io.Writer
	// Listen are the addresses it is ready once they accept TCP
	// connections.
	Listen []string
}

// StartProgram runs name with args and waits until every address in
// opts.Listen accepts connections. The program is killed when ctx is done.
func StartProgram(ctx context.Context, opts ProgramOptions, name string, args ...string) (*Program, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = opts.Dir, opts.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	p := &Program{Cmd: cmd, done: make(chan struct{}), out: NewTail(programOutputKept)}
	var out io.Writer = p.out
	if opts.Output != nil {
		out = io.MultiWriter(p.out, opts.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(DefaultListenTimeout)
	for _, addr := range opts.Listen {
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case <-p.done:
				return nil, fmt.Errorf("%s exited before listening on %s:\n%s", name, addr, p.out.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				p.Stop()
				return nil, fmt.Errorf("%s not listening on %s after %v:\n%s", name, addr, DefaultListenTimeout, p.out.String())
			}
		}
	}
	return p, nil
}

// Stop kills the program and its workers and waits for it.
func (p *Program) Stop() {
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}
