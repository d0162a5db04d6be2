package survey

import (
	"fmt"
	"path/filepath"
)

// Varnish with its built-in VCL, which pipes a request with a method it
// does not know (SUB) to the backend as a raw tunnel, and with SUB sent to
// pass, where Varnish parses the response as HTTP. HTTP/2 is h2c (Varnish
// has no TLS).
const (
	varnishDefaultVCL = `vcl 4.1;
backend origin { .host = "%[1]s"; .port = "%[2]s"; .first_byte_timeout = 3600s; .between_bytes_timeout = 3600s; }
`
	varnishPassVCL = varnishDefaultVCL + `sub vcl_recv {
  if (req.method == "SUB") { return (pass); }
}
`
)

// varnishStart runs Varnish with vcl (varnishDefaultVCL or varnishPassVCL).
func varnishStart(vcl string) startFunc {
	return fileConfigured{
		file: "survey.vcl", listen: listeners{h2c: true},
		// varnishd reads its VCL and keeps its state as an unprivileged
		// user.
		unprivileged: true,
		config: func(o *Origin, dir string, addrs []string) string {
			return fmt.Sprintf(vcl, "127.0.0.1", port(o.Upstream))
		},
		command: func(dir, file string, addrs []string) []string {
			return []string{"varnishd", "-F", "-a", addrs[0], "-f", file, "-n", filepath.Join(dir, "varnish"),
				"-s", "malloc,64m", "-p", "feature=+http2", "-p", "pipe_timeout=3600", "-p", "send_timeout=3600"}
		},
	}.start
}
