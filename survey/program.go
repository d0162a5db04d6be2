package survey

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"time"

	"github.com/subpub/subpub/internal/launch"
)

// Bounds on starting a proxy.
const (
	// startTimeout bounds how long a proxy may take to accept connections
	// on every address it was told to listen on.
	startTimeout = 30 * time.Second
	// outputKept is how much of a proxy's output is kept to say why it
	// failed.
	outputKept = 16 << 10
)

// program is a proxy running in the foreground as a child of this process,
// in a process group of its own so that its workers end with it.
type program struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *launch.Tail
}

// startProgram runs name with args in dir and waits until every address in
// listen accepts TCP connections.
func startProgram(ctx context.Context, dir, name string, args []string, env []string, listen ...string) (*program, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	p := &program{cmd: cmd, done: make(chan struct{}), out: launch.NewTail(outputKept)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(startTimeout)
	for _, addr := range listen {
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
				p.stop()
				return nil, fmt.Errorf("%s not listening on %s after %v:\n%s", name, addr, startTimeout, p.out.String())
			}
		}
	}
	return p, nil
}

// stop kills the program and its workers and waits for it.
func (p *program) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// freeAddrs finds n loopback TCP addresses free for a proxy that cannot be
// told to pick its ports itself. They are held open together, so that they
// differ, and released for the proxy to take.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}
