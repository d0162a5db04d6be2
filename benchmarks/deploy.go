package benchmarks

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/internal/launch"
)

// environment is what every deployment of a run shares.
type environment struct {
	binary      string // the subpub binary
	childBinary string // the program of the children (load.StartChild)
	dir         string // scratch directory of the run
	sample      EventSample
	// netns, when set, runs the servers in that network namespace,
	// listening for subscribers on listenHost (the lossy link's address).
	netns      string
	listenHost string
	stderr     io.Writer // servers' standard error (warnings)
	// muxReader reads the edge's HTTP/2 and HTTP/3 subscriptions
	// (load.ReaderLean or load.ReaderClient).
	muxReader string
	// profile starts the servers with their runtime profiles served.
	profile bool
}

// server is one measured process of a deployment.
type server struct {
	Role string
	pid  int
}

// deployment is a system's servers, running.
type deployment struct {
	system  System
	target  load.Target
	publish load.PublishTarget
	servers []server
	origin  *launch.Process
	edge    *launch.Process
	// upstreamPorts are the origin's ports that subscribers (direct) or
	// the intermediary connect to, for counting its connections.
	upstreamPorts []int
	bareCtrl      string
	closers       []func()
}

// stop ends every process of the deployment, last started first.
func (d *deployment) stop() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// deploy starts the servers of sys with fresh state and returns where to
// subscribe and how to publish.
func deploy(ctx context.Context, env *environment, sys System, perConnection int) (*deployment, error) {
	d := &deployment{system: sys}
	dir, err := os.MkdirTemp(env.dir, sys.Name+"-")
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, func() { os.RemoveAll(dir) })
	if err := d.start(ctx, env, dir, perConnection); err != nil {
		d.stop()
		return nil, fmt.Errorf("deploying %s: %w", sys.Name, err)
	}
	return d, nil
}

func (d *deployment) start(ctx context.Context, env *environment, dir string, perConnection int) error {
	sys := d.system
	switch sys.Server {
	case serverBare:
		return d.startBare(ctx, env)
	case serverNchan:
		return d.startNchan(ctx, env, dir)
	}
	if err := d.startOrigin(ctx, env, dir); err != nil {
		return err
	}
	switch sys.Server {
	case serverOrigin:
		d.upstreamPorts = []int{portOf(d.origin.PlainAddr)}
		d.target = load.Target{Reader: load.ReaderLean, Addr: d.origin.PlainAddr, Path: outboxPath}
		return nil
	case serverVarnish:
		d.upstreamPorts = []int{portOf(d.origin.PlainAddr)}
		return d.startVarnish(ctx, env, dir)
	case serverEdge:
		d.upstreamPorts = []int{portOf(d.origin.TLSAddr)}
		if err := d.startEdge(ctx, env, dir); err != nil {
			return err
		}
		d.target = edgeTarget(d.edge, sys, perConnection, env.muxReader, env.listenHost != "")
		return nil
	}
	return fmt.Errorf("unknown server %q", sys.Server)
}

// serverArgs are the flags origin and edge share here: addresses, metrics,
// data, no per-client bound (all subscribers come from one address), and
// only warnings logged. The server that subscribers reach listens for TLS
// on env.listenHost when one is set (the lossy link's address); the others
// stay on the loopback interface.
func serverArgs(env *environment, dir string, facesSubscribers bool) []string {
	host := "127.0.0.1"
	if env.listenHost != "" && facesSubscribers {
		host = env.listenHost
	}
	args := []string{
		"--listen", host + ":0", "--listen-plain", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
		"--data", dir, "--max-per-client", "-1", "--log-level", "warn",
	}
	if env.profile {
		args = append(args, "--pprof")
	}
	return args
}

// launch starts subpub's server role (origin or edge) in the deployment's
// network namespace, to be measured as one of its servers and killed when
// it is torn down.
func (d *deployment) launch(ctx context.Context, env *environment, role string, args []string) (*launch.Process, error) {
	p, err := launch.Start(ctx, role, launch.Options{NetNS: env.netns, Stderr: env.stderr}, args...)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, func() { p.Kill() })
	d.servers = append(d.servers, server{Role: role, pid: p.Cmd.Process.Pid})
	return p, nil
}

func (d *deployment) startOrigin(ctx context.Context, env *environment, dir string) error {
	args := append(serverArgs(env, filepath.Join(dir, "origin"), d.system.Server == serverOrigin), "--user", benchUser+":"+benchToken)
	p, err := d.launch(ctx, env, "origin", args)
	if err != nil {
		return err
	}
	d.origin = p
	d.publish = load.PublishTarget{Kind: load.PublishOrigin, URL: p.PlainURL(outboxPath), Token: benchToken, Body: noteActivity(p.BaseURL)}
	return nil
}

func (d *deployment) startEdge(ctx context.Context, env *environment, dir string) error {
	args := append(serverArgs(env, filepath.Join(dir, "edge"), true),
		"--upstream", "https://"+d.origin.TLSAddr, "--upstream-cacert", d.origin.CAFile)
	p, err := d.launch(ctx, env, "edge", args)
	if err != nil {
		return err
	}
	d.edge = p
	return nil
}

// edgeTarget subscribes to the edge: HTTP/1.1 SSE with the lean reader in
// cleartext, like the baseline; SUB over HTTP/1.1 with subpub's client in
// cleartext; HTTP/2 and HTTP/3 over TLS with muxReader, except on the lossy
// link, whose comparison keeps the client (and its reconnection policy).
func edgeTarget(edge *launch.Process, sys System, perConnection int, muxReader string, lossy bool) load.Target {
	if sys.Proto == "h1" && sys.Format == "sse" {
		return load.Target{Reader: load.ReaderLean, Addr: edge.PlainAddr, Path: outboxPath}
	}
	reader := load.ReaderClient
	if sys.multiplexed() && !lossy && muxReader != "" {
		reader = muxReader
	}
	t := load.Target{Reader: reader, Mode: "sse", PerConnection: perConnection}
	if sys.Format == "pub" {
		t.Mode = "sub"
	}
	switch sys.Proto {
	case "h1":
		t.HTTP, t.URL = "1.1", edge.PlainURL(outboxPath)
	case "h2":
		t.HTTP, t.URL, t.CAFile = "2", edge.URL(outboxPath), edge.CAFile
	case "h3":
		t.HTTP, t.URL, t.CAFile = "3", edge.URL(outboxPath), edge.CAFile
	}
	if lossy {
		// The certificate names localhost, not the link's address.
		t.ServerName = "localhost"
	}
	return t
}

func (d *deployment) startBare(ctx context.Context, env *environment) error {
	c, err := load.StartChild(ctx, env.childBinary, env.netns, load.RoleBareSender, load.BareSenderConfig{Data: env.sample.Data, Type: env.sample.Type})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, c.Stop)
	words, err := c.ExpectReady(30 * time.Second)
	if err != nil {
		return err
	}
	if len(words) != 2 {
		return fmt.Errorf("bare sender said ready %v", words)
	}
	d.servers = append(d.servers, server{Role: "bare sender", pid: c.Pid()})
	d.target = load.Target{Reader: load.ReaderLean, Addr: words[0], Path: "/"}
	d.bareCtrl = words[1]
	d.publish = load.PublishTarget{Kind: load.PublishBare, URL: "http://" + words[1] + "/publish"}
	return nil
}
