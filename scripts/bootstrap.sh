#!/usr/bin/env bash
# Installs what ztmysql needs on a fresh Debian 12 machine, and nothing twice:
# Debian packages (lab host tools, SoftHSM2, Chromium for report rendering later)
# and the npm dependencies from package-lock.json. The lab builds its own rootfs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "ztmysql: run as root (the lab needs debootstrap, network namespaces and systemd-nspawn)" >&2
  exit 2
fi

packages=(debootstrap systemd-container iproute2 openssl openssh-client softhsm2 procps util-linux ca-certificates)
missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "ztmysql: Node.js 20 or later is required" >&2
  exit 2
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.ztmysql-lock.sha256
want=$(sha256sum package-lock.json | cut -c1-64)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi
