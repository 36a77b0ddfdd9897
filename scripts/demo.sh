#!/usr/bin/env bash
# Set up shipway, start its control plane, push the Python example and print
# its URL. Run as root on a fresh Debian 12 machine. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export SHIPWAY_HOME="${SHIPWAY_HOME:-/var/lib/shipway}"
export SHIPWAY_HTTP_PORT="${SHIPWAY_HTTP_PORT:-80}" SHIPWAY_HTTPS_PORT="${SHIPWAY_HTTPS_PORT:-443}"
# The HTTPS API, and with it the console (W1), on loopback unless told otherwise.
export SHIPWAY_API_LISTEN="${SHIPWAY_API_LISTEN:-127.0.0.1:8444}"
mkdir -p "$SHIPWAY_HOME"
if ! shipway project:list >/dev/null 2>&1; then
  nohup shipway serve >>"$SHIPWAY_HOME/serve.log" 2>&1 &
  for _ in $(seq 100); do shipway project:list >/dev/null 2>&1 && break; sleep 0.2; done
fi
shipway project:list >/dev/null || { tail -20 "$SHIPWAY_HOME/serve.log"; exit 1; }

remote=$(shipway project:list --format json | grep -q '"demo"' \
  && echo "$SHIPWAY_HOME/git/demo.git" || shipway project:create demo | tail -n 1)
work=$(mktemp -d)
cp -r examples/python-flask/. "$work"
git -C "$work" init -q -b main
git -C "$work" -c user.email=demo@shipway -c user.name=demo add -A
git -C "$work" -c user.email=demo@shipway -c user.name=demo commit -q -m "shipway demo"
git -C "$work" push -f "$remote" main

url=$(shipway url -p demo -e main --pipe)
ca="$SHIPWAY_HOME/router/storage/pki/authorities/local/root.crt"
echo
echo "The app answers at: $url"
echo "(TLS by the router's own CA: curl --cacert $ca $url)"
curl -sS --cacert "$ca" "$url"

# The console: a user for the demo and a one-time sign-in link (it works once, for 10 minutes).
shipway user:get demo@example.com -p demo >/dev/null 2>&1 \
  || shipway user:add demo@example.com -p demo --role admin >/dev/null
echo
if login=$(shipway console:login --user demo@example.com 2>/dev/null); then
  echo "The console: ${login%%/login*}/ (CA: $SHIPWAY_HOME/api/ca.crt)"
  echo "Sign in once with: $login"
else
  echo "The console needs the HTTPS API: restart shipway serve with SHIPWAY_API_LISTEN=HOST:PORT"
fi
