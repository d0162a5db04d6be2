#!/usr/bin/env bash
# Installs Debian packages whose services the caller runs itself, with its
# own configuration: the packages' services are kept from starting on
# install, and stopped and disabled where systemd runs, so that they hold
# no port and no CPU.
#
#   install-quietly.sh NAME "SERVICE..." PACKAGE...
#
# NAME prefixes the messages; SERVICE... are the services to disable.
set -euo pipefail

name=$1 services=$2
shift 2
packages=("$@")

if [ "$(id -u)" -ne 0 ]; then
  echo "$name: needs root (apt-get install ${packages[*]})" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "$name: needs apt-get (Debian or Ubuntu); install ${packages[*]} by other means" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  for svc in $services; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi
