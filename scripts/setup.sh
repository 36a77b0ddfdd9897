#!/usr/bin/env bash
# Install what shipway needs on a Debian 12 machine, as root: system packages
# (sandbox, firewall, git, Node.js for Node apps; pebble for the ACME tests,
# wrk and nginx for bench/router_throughput.py) and shipway itself in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in bwrap:bubblewrap nft:nftables git:git setpriv:util-linux curl:curl tar:tar mkfs.btrfs:btrfs-progs pg_ctlcluster:postgresql mariadbd:mariadb-server redis-server:redis-server memcached:memcached composer:composer restic:restic cc:gcc sshd:openssh-server ssh:openssh-client pebble:pebble openssl:openssl wrk:wrk nginx:nginx-light go:golang-go; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# Team access (issue 10): the API's TLS certificates (openssl), SSH key fingerprints (ssh-keygen).
for pair in openssl:openssl ssh-keygen:openssh-client; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# The console's browser tests (W4): Debian's chromium, driven by Playwright (no browser download).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# PHP apps (C6): Debian's PHP-FPM and the common modules runtime.extensions
# names; WordPress's package for its end-to-end test (issue 12, must-hold 2).
for pkg in php8.2-fpm php8.2-cli php8.2-mysql php8.2-pgsql php8.2-sqlite3 php8.2-curl php8.2-gd \
    php8.2-intl php8.2-mbstring php8.2-xml php8.2-zip php8.2-redis php8.2-apcu php8.2-igbinary \
    jq wordpress; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# Node.js apps (nodejs:N) need a node and npm on the host; keep one that is there.
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
ln -sf "$PWD/.venv/bin/shipway" /usr/local/bin/shipway
