package survey

import (
	"fmt"
)

// HAProxy in HTTP mode, with its default of reusing idle server
// connections (http-reuse safe) and, in the second configuration, always.
const haproxyConfig = `global
  log stderr format raw local0 warning
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  http-reuse %[5]s
frontend front
  bind %[2]s
  bind %[3]s ssl crt %[4]s alpn h2,http/1.1
  default_backend origin
backend origin
  server origin %[1]s
`

// haproxyStart runs HAProxy with template (haproxyConfig, or a variation
// of it) and reuse as its http-reuse mode.
func haproxyStart(template, reuse string) startFunc {
	return fileConfigured{
		file: "haproxy.cfg", listen: listeners{tls: true},
		config: func(o *Origin, dir string, addrs []string) string {
			return fmt.Sprintf(template, o.Upstream, addrs[0], addrs[1], o.CertKeyFile, reuse)
		},
		command: func(dir, file string, addrs []string) []string { return []string{"haproxy", "-db", "-f", file} },
	}.start
}
