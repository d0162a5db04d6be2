package survey

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/subpub/subpub/internal/launch"
)

// h2o's proxy.reverse.url, with HTTP/2 over TLS.
const h2oConfig = `# %[1]s
user: nobody
error-log: /dev/stderr
listen:
  host: 127.0.0.1
  port: %[3]s
listen:
  host: 127.0.0.1
  port: %[4]s
  ssl:
    certificate-file: %[5]s
    key-file: %[6]s
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        proxy.reverse.url: http://%[2]s/
        proxy.timeout.io: 3600000
`

func h2oProxy() Proxy {
	start := func(ctx context.Context, o *Origin, dir string) (*Front, error) {
		addrs, err := freeAddrs(2)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		conf := fmt.Sprintf(h2oConfig, dir, o.Upstream, port(addrs[0]), port(addrs[1]), o.CertFile, o.KeyFile)
		file := filepath.Join(dir, "h2o.conf")
		p, err := startConfigured(ctx, launch.ProgramOptions{Dir: dir, Listen: addrs}, file, conf, "h2o", "-c", file)
		if err != nil {
			return nil, err
		}
		return &Front{Plain: addrs[0], TLS: addrs[1], Config: conf, program: p}, nil
	}
	return Proxy{
		Name: "h2o", Package: "h2o", Binary: "h2o", versionArgs: []string{"-v"},
		Configs: []Config{{Name: "default", start: start}},
	}
}
