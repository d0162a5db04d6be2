#!/usr/bin/env bash
# Installs the systems `subpub bench --peers` compares with, from Debian:
# nginx with the nchan module (SSE fan-out with a publisher endpoint) and
# Varnish (request coalescing in front of the origin). The benchmark starts
# its own instances with its own configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
./internal/scripts/install-quietly.sh install-peers.sh "nginx varnish varnishncsa" \
  nginx-light libnginx-mod-nchan varnish

nginx -v
varnishd -V 2>&1 | head -1
ls /usr/lib/nginx/modules/ngx_nchan_module.so
