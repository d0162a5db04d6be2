#!/usr/bin/env bash
# Installs the proxies `make survey` puts in front of the origin, from
# Debian. The survey starts its own instances with its own configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
./internal/scripts/install-quietly.sh survey/install.sh \
  "haproxy nginx caddy varnish varnishncsa apache2 h2o trafficserver" \
  haproxy nginx-light caddy varnish apache2 h2o trafficserver
