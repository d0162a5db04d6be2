package survey

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/subpub/subpub/internal/launch"
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

func varnishProxy() Proxy {
	start := func(vcl string) func(context.Context, *Origin, string) (*Front, error) {
		return func(ctx context.Context, o *Origin, dir string) (*Front, error) {
			addrs, err := freeAddrs(1)
			if err != nil {
				return nil, err
			}
			// varnishd reads its VCL and keeps its state as an unprivileged
			// user.
			if err := os.Chmod(dir, 0o755); err != nil {
				return nil, err
			}
			conf := fmt.Sprintf(vcl, "127.0.0.1", port(o.Upstream))
			file := filepath.Join(dir, "survey.vcl")
			args := []string{"-F", "-a", addrs[0], "-f", file, "-n", filepath.Join(dir, "varnish"),
				"-s", "malloc,64m", "-p", "feature=+http2", "-p", "pipe_timeout=3600", "-p", "send_timeout=3600"}
			p, err := startConfigured(ctx, launch.ProgramOptions{Dir: dir, Listen: addrs}, file, conf, "varnishd", args...)
			if err != nil {
				return nil, err
			}
			return &Front{Plain: addrs[0], H2C: true, Config: conf, program: p}, nil
		}
	}
	return Proxy{
		Name: "Varnish", Package: "varnish", Binary: "varnishd", versionArgs: []string{"-V"},
		Configs: []Config{
			{Name: "built-in VCL (SUB piped)", start: start(varnishDefaultVCL)},
			{Name: "SUB to pass", start: start(varnishPassVCL)},
		},
	}
}
