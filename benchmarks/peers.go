package benchmarks

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/subpub/subpub/benchmarks/load"
	"github.com/subpub/subpub/internal/launch"
)

// The peers: the fan-out systems people use today, installed from Debian by
// install-peers.sh and started here with their own configuration, each in
// the foreground as a child of the bench process so that it is measured and
// ended like subpub's servers.

// Where Debian puts the peers.
const (
	nginxBinary  = "/usr/sbin/nginx"
	nchanModule  = "/usr/lib/nginx/modules/ngx_nchan_module.so"
	varnishd     = "/usr/sbin/varnishd"
	nchanChannel = "bench"
)

// peersAvailable says which peer is missing, if any.
func peersAvailable() error {
	for _, f := range []string{nginxBinary, nchanModule, varnishd} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is not installed (run benchmarks/install-peers.sh)", f)
		}
	}
	return nil
}

// nginxConfig serves nchan: a publisher endpoint and an EventSource
// subscriber endpoint on one channel. Its message buffer is sized for the
// highest rate so that no subscriber misses messages it is catching up on.
const nginxConfig = `load_module %[1]s;
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 16384;
pid %[2]s/nginx.pid;
error_log stderr warn;
events { worker_connections 16384; multi_accept on; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  server {
    listen 127.0.0.1:%[3]d backlog=4096;
    location = /pub { nchan_publisher; nchan_channel_id %[4]s; nchan_message_buffer_length 1000; nchan_message_timeout 120s; }
    location = /sub { nchan_subscriber eventsource; nchan_channel_id %[4]s; }
  }
}
`

func (d *deployment) startNchan(ctx context.Context, env *environment, dir string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConfig, nchanModule, dir, port, nchanChannel), 0o644); err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := d.startPeer(ctx, env, "nginx+nchan", addr, nginxBinary, "-p", dir, "-c", conf); err != nil {
		return err
	}
	d.target = load.Target{Reader: load.ReaderLean, Addr: addr, Path: "/sub"}
	d.publish = load.PublishTarget{Kind: load.PublishNchan, URL: "http://" + addr + "/pub", Data: env.sample.Data}
	return nil
}

// varnishVCL coalesces every GET of a URL into one backend request whose
// streamed response all the clients read (Varnish delivers a busy object to
// many clients while it is still being fetched). The origin marks the
// stream "no-cache", which the built-in VCL would take as uncacheable, so
// this VCL decides instead; credentials are dropped as the stream is public.
const varnishVCL = `vcl 4.1;
backend origin {
  .host = "127.0.0.1";
  .port = "%d";
  .first_byte_timeout = 3600s;
  .between_bytes_timeout = 3600s;
}
sub vcl_recv {
  if (req.method != "GET") { return (pass); }
  unset req.http.Authorization;
  unset req.http.Cookie;
  return (hash);
}
sub vcl_backend_response {
  set beresp.do_stream = true;
  set beresp.ttl = 3600s;
  set beresp.grace = 0s;
  set beresp.uncacheable = false;
  return (deliver);
}
`

func (d *deployment) startVarnish(ctx context.Context, env *environment, dir string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	// varnishd reads its VCL and keeps its state as an unprivileged user.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	vcl := filepath.Join(dir, "bench.vcl")
	if err := os.WriteFile(vcl, fmt.Appendf(nil, varnishVCL, portOf(d.origin.PlainAddr)), 0o644); err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	workdir := filepath.Join(dir, "varnish")
	err = d.startPeer(ctx, env, "varnish", addr, varnishd, "-F", "-a", addr, "-f", vcl, "-n", workdir,
		"-s", "malloc,1g", "-p", "thread_pools=2", "-p", "thread_pool_min=100", "-p", "thread_pool_max=30000",
		"-p", "send_timeout=3600", "-p", "idle_send_timeout=3600", "-p", "listen_depth=4096")
	if err != nil {
		return err
	}
	d.target = load.Target{Reader: load.ReaderLean, Addr: addr, Path: outboxPath}
	return nil
}

// startPeer runs a peer in the foreground and waits until addr accepts
// connections.
func (d *deployment) startPeer(ctx context.Context, env *environment, role, addr, name string, args ...string) error {
	p, err := launch.StartProgram(ctx, launch.ProgramOptions{Output: env.stderr, Listen: []string{addr}}, name, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", role, err)
	}
	d.closers = append(d.closers, p.Stop)
	d.servers = append(d.servers, server{Role: role, pid: p.Cmd.Process.Pid})
	return nil
}

// freePort finds a TCP port free on the loopback address for a peer that
// cannot be told to pick one.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
