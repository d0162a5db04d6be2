#!/usr/bin/env bash
# Installs the systems `subpub bench --peers` compares with, from Debian:
# nginx with the nchan module (SSE fan-out with a publisher endpoint) and
# Varnish (request coalescing in front of the origin). The benchmark starts
# its own instances with its own configuration; the distribution's services
# are stopped and disabled so that they hold no port and no CPU.
set -euo pipefail

packages=(nginx-light libnginx-mod-nchan varnish)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers.sh: needs root (apt-get install ${packages[*]})" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "install-peers.sh: needs apt-get (Debian or Ubuntu); install ${packages[*]} by other means" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the packages' services from starting on install where possible.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

for svc in nginx varnish varnishncsa; do
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done

nginx -v
varnishd -V 2>&1 | head -1
ls /usr/lib/nginx/modules/ngx_nchan_module.so
