package survey

import (
	"fmt"
)

// Apache httpd with mod_proxy, forwarding over HTTP/1.1 (mod_proxy_http)
// or over h2c (mod_proxy_http2); mod_http2 serves HTTP/2 over TLS and h2c.
const apacheConfig = `ServerRoot %[1]s
ServerName 127.0.0.1
DefaultRuntimeDir %[1]s
PidFile %[1]s/httpd.pid
Mutex file:%[1]s default
ErrorLog /dev/stderr
LogLevel warn
User nobody
Group nogroup
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule http2_module /usr/lib/apache2/modules/mod_http2.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule proxy_http2_module /usr/lib/apache2/modules/mod_proxy_http2.so
Listen %[3]s
Listen %[4]s
Protocols h2c http/1.1
Timeout 3600
ProxyTimeout 3600
ProxyPass / %[2]s
<VirtualHost %[4]s>
  SSLEngine on
  SSLCertificateFile %[5]s
  SSLCertificateKeyFile %[6]s
  Protocols h2 http/1.1
</VirtualHost>
`

// apacheStart runs Apache with mod_proxy forwarding to the origin over
// scheme: http, or h2c.
func apacheStart(scheme string) startFunc {
	return fileConfigured{
		file: "httpd.conf", listen: listeners{tls: true, h2c: true}, unprivileged: true,
		config: func(o *Origin, dir string, addrs []string) string {
			upstream := scheme + "://" + o.Upstream + "/"
			return fmt.Sprintf(apacheConfig, dir, upstream, addrs[0], addrs[1], o.CertFile, o.KeyFile)
		},
		command: func(dir, file string, addrs []string) []string {
			return []string{"apache2", "-f", file, "-DFOREGROUND"}
		},
	}.start
}
