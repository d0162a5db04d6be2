// Package launch runs subpub's roles (origin, edge) as child processes, as
// the benchmarks, the interoperability tests and the end-to-end tests need:
// each server in its own process, so that it can be measured (CPU, memory),
// killed and restarted like the real thing.
package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Binary returns the path of a subpub binary: $SUBPUB_BIN if set, otherwise
// one built once per process from this module's cmd/subpub.
func Binary() (string, error) {
	if bin := os.Getenv("SUBPUB_BIN"); bin != "" {
		return bin, nil
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "subpub-bin-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "subpub")
		cmd := exec.Command("go", "build", "-o", built, "./cmd/subpub")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("launch: building subpub: %v\n%s", err, out)
		}
	})
	return built, buildErr
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// moduleRoot finds the directory holding this module's go.mod.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("launch: cannot locate the module")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Process is a running subpub server.
type Process struct {
	Role string
	Cmd  *exec.Cmd
	// Where it listens, as it reported on standard output.
	TLSAddr, PlainAddr, MetricsAddr string
	// CAFile is the local CA that signed its certificate, if it made one.
	CAFile string
	// BaseURL is the origin's canonical URL (origins only).
	BaseURL string

	done    chan struct{}
	waitErr error
	output  *Tail
}

// Options adjust how a process is started.
type Options struct {
	// Env adds environment variables.
	Env []string
	// NetNS runs the process in a network namespace (with `ip netns
	// exec`), for the benchmarks' lossy links.
	NetNS string
	// Stderr receives the process's standard error; default: kept, and
	// shown in errors.
	Stderr io.Writer
	// ReadyTimeout bounds how long the process may take to report where it
	// listens. Default 60 s.
	ReadyTimeout time.Duration
}

// Lines the commands print when they are ready (see cmd/subpub).
var (
	listenLine  = regexp.MustCompile(`^(origin|edge): (https?)://(\S+) \(`)
	metricsLine = regexp.MustCompile(`^(origin|edge) metrics: http://(\S+)/metrics`)
	caLine      = regexp.MustCompile(`--cacert (\S+)$`)
	baseLine    = regexp.MustCompile(`^origin: ids under (\S+);`)
)

// Start runs `subpub ROLE ARGS...` and waits until it has reported every
// address it listens on. The process is killed when ctx is done.
func Start(ctx context.Context, role string, opts Options, args ...string) (*Process, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	argv := append([]string{bin, role}, args...)
	if opts.NetNS != "" {
		argv = append([]string{"ip", "netns", "exec", opts.NetNS}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	out := NewTail(64 << 10)
	cmd.Stderr = out
	if opts.Stderr != nil {
		cmd.Stderr = io.MultiWriter(out, opts.Stderr)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Role: role, Cmd: cmd, done: make(chan struct{}), output: out}
	expect := expectedLines(args)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.Write([]byte(line + "\n"))
			if p.note(line) >= expect {
				select {
				case <-ready:
				default:
					close(ready)
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	select {
	case <-ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("launch: subpub %s exited before it was ready (%v):\n%s", role, p.waitErr, out.String())
	case <-time.After(timeout):
		p.Kill()
		return nil, fmt.Errorf("launch: subpub %s not ready after %v:\n%s", role, timeout, out.String())
	}
}

// expectedLines counts the address lines a command with these flags prints.
func expectedLines(args []string) int {
	n := 1 // --listen has a default
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		switch {
		case name == "listen" && value == "":
			n--
		case name == "listen-plain" && value != "", name == "metrics" && value != "":
			n++
		}
	}
	return n
}

var noteMu sync.Mutex

// note records what a line of output says and counts the addresses known.
func (p *Process) note(line string) int {
	noteMu.Lock()
	defer noteMu.Unlock()
	if m := listenLine.FindStringSubmatch(line); m != nil {
		if m[2] == "https" {
			p.TLSAddr = m[3]
		} else {
			p.PlainAddr = m[3]
		}
	}
	if m := metricsLine.FindStringSubmatch(line); m != nil {
		p.MetricsAddr = m[2]
	}
	if m := caLine.FindStringSubmatch(line); m != nil {
		p.CAFile = m[1]
	}
	if m := baseLine.FindStringSubmatch(line); m != nil {
		p.BaseURL = m[1]
	}
	n := 0
	for _, a := range []string{p.TLSAddr, p.PlainAddr, p.MetricsAddr} {
		if a != "" {
			n++
		}
	}
	return n
}

// URL is the process's TLS URL for path (its cleartext URL if it has no TLS
// listener).
func (p *Process) URL(path string) string {
	if p.TLSAddr != "" {
		return "https://" + p.TLSAddr + path
	}
	return "http://" + p.PlainAddr + path
}

// PlainURL is the process's cleartext URL for path.
func (p *Process) PlainURL(path string) string { return "http://" + p.PlainAddr + path }

// Stop ends the process gracefully (SIGTERM) and waits for it.
func (p *Process) Stop() error {
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.Kill()
	}
	return p.waitErr
}

// Kill ends the process at once (SIGKILL), as a crash would, and waits.
func (p *Process) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Output is the end of what the process wrote.
func (p *Process) Output() string { return p.output.String() }

// Metrics scrapes the process's Prometheus metrics and returns the value of
// every sample of the family name, by its labels formatted as
// `a="x",b="y"` (sorted by label name; "" for none).
func (p *Process) Metrics(name string) (map[string]float64, error) {
	if p.MetricsAddr == "" {
		return nil, errors.New("launch: the process serves no metrics (start it with --metrics)")
	}
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	family, ok := families[name]
	if !ok {
		return out, nil
	}
	for _, m := range family.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
		}
		var v float64
		switch {
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		}
		out[strings.Join(labels, ",")] = v
	}
	return out, nil
}

// Sum adds every sample of a metric family.
func (p *Process) Sum(name string) (float64, error) {
	samples, err := p.Metrics(name)
	var sum float64
	for _, v := range samples {
		sum += v
	}
	return sum, err
}
