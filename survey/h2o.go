package survey

import (
	"fmt"
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

// h2oStart runs h2o with h2oConfig.
var h2oStart = fileConfigured{
	file: "h2o.conf", listen: listeners{tls: true}, unprivileged: true,
	config: func(o *Origin, dir string, addrs []string) string {
		return fmt.Sprintf(h2oConfig, dir, o.Upstream, port(addrs[0]), port(addrs[1]), o.CertFile, o.KeyFile)
	},
	command: func(dir, file string, addrs []string) []string { return []string{"h2o", "-c", file} },
}.start
