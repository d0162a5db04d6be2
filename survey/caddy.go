package survey

import (
	"fmt"
	"net"
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

// caddyStart runs Caddy with caddyConfig.
var caddyStart = fileConfigured{
	file: "Caddyfile", listen: listeners{tls: true, h2c: true}, ownHome: true,
	config: func(o *Origin, dir string, addrs []string) string {
		return fmt.Sprintf(caddyConfig, dir, o.Upstream, port(addrs[0]), port(addrs[1]), o.CertFile, o.KeyFile)
	},
	command: func(dir, file string, addrs []string) []string {
		return []string{"caddy", "run", "--config", file, "--adapter", "caddyfile"}
	},
}.start

// port is the port of a host:port address.
func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
