package survey

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/subpub/subpub/internal/launch"
)

// Caddy's reverse_proxy, flushing every write (flush_interval -1), with
// HTTP/2 over TLS and h2c on the cleartext listener.
const caddyConfig = `{
	admin off
	auto_https off
	storage file_system %[1]s/data
	servers {
		protocols h1 h2 h2c
	}
}
http://127.0.0.1:%[3]s {
	bind 127.0.0.1
	reverse_proxy %[2]s {
		flush_interval -1
	}
}
https://127.0.0.1:%[4]s {
	bind 127.0.0.1
	tls %[5]s %[6]s
	reverse_proxy %[2]s {
		flush_interval -1
	}
}
`

func caddyProxy() Proxy {
	start := func(ctx context.Context, o *Origin, dir string) (*Front, error) {
		addrs, err := freeAddrs(2)
		if err != nil {
			return nil, err
		}
		conf := fmt.Sprintf(caddyConfig, dir, o.Upstream, port(addrs[0]), port(addrs[1]), o.CertFile, o.KeyFile)
		file := filepath.Join(dir, "Caddyfile")
		env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
		p, err := startConfigured(ctx, launch.ProgramOptions{Dir: dir, Env: env, Listen: addrs}, file, conf, "caddy", "run", "--config", file, "--adapter", "caddyfile")
		if err != nil {
			return nil, err
		}
		return &Front{Plain: addrs[0], TLS: addrs[1], H2C: true, Config: conf, program: p}, nil
	}
	return Proxy{
		Name: "Caddy", Package: "caddy", Binary: "caddy", versionArgs: []string{"version"},
		Configs: []Config{{Name: "default", start: start}},
	}
}

// port is the port of a host:port address.
func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
