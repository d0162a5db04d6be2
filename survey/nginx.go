package survey

import (
	"fmt"
)

// nginx proxies to the origin over HTTP/1.1 with buffering off, as its
// documentation advises for streaming. keepalive (a pool of idle upstream
// connections) is what the connection-reuse check needs.
const nginxConfig = `daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream origin {
    server %[2]s;
    %[6]s
  }
  server {
    listen %[3]s;
    listen %[4]s ssl http2;
    ssl_certificate %[5]s;
    ssl_certificate_key %[7]s;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`

// nginxStart runs nginx with template (nginxConfig, or a variation of
// it) and keepalive in its upstream block.
func nginxStart(template, keepalive string) startFunc {
	return fileConfigured{
		file: "nginx.conf", listen: listeners{tls: true},
		config: func(o *Origin, dir string, addrs []string) string {
			return fmt.Sprintf(template, dir, o.Upstream, addrs[0], addrs[1], o.CertFile, keepalive, o.KeyFile)
		},
		command: func(dir, file string, addrs []string) []string { return []string{"nginx", "-p", dir, "-c", file} },
	}.start
}
