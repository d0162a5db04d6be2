#!/usr/bin/env bash
# Installs the proxies `make survey` puts in front of the origin, from
# Debian. The survey starts its own instances with its own configuration;
# the packages' services are kept from starting on install, and stopped and
# disabled where systemd runs, so that they hold no port.
set -euo pipefail

packages=(haproxy nginx-light caddy varnish apache2 h2o trafficserver)

if [ "$(id -u)" -ne 0 ]; then
  echo "survey/install.sh: needs root (apt-get install ${packages[*]})" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "survey/install.sh: needs apt-get (Debian or Ubuntu); install ${packages[*]} by other means" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  for svc in haproxy nginx caddy varnish varnishncsa apache2 h2o trafficserver; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi
