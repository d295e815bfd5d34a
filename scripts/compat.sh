#!/usr/bin/env bash
# Runs Aserto's own client libraries (Node: @aserto/aserto-node; Python: aserto, flask-aserto) against a
# real `lictor run --demo` process. Expects target/debug/lictor (or $LICTOR_BIN) to be built already;
# installs Node/npm and Python's venv module from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

export LICTOR_BIN="${LICTOR_BIN:-$root/target/debug/lictor}"
if [ ! -x "$LICTOR_BIN" ]; then
  echo "compat: $LICTOR_BIN not found: build it first with 'cargo build -p lictor'" >&2
  exit 2
fi

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "compat: missing $*, and no apt-get to install it with" >&2
    exit 2
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  if [ "$apt_updated" = 0 ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "== installing nodejs and npm"
  apt_install nodejs npm
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "== installing python3"
  apt_install python3 python3-venv
fi
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  echo "== installing python3-venv"
  apt_install python3-venv
fi

status=0

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "compat: warning: node $(node --version) is older than 20, which @connectrpc/connect-node (under @aserto/aserto-node) requires" >&2
fi
echo "== node $(node --version): npm ci"
(cd compat/node && npm ci --no-audit --no-fund --loglevel=error)
echo "== node --test (compat/node)"
if ! (cd compat/node && node --test test/*.test.js); then
  status=1
fi

venv=compat/python/.venv
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  python3 -m venv "$venv"
fi
echo "== pip install -r compat/python/requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r compat/python/requirements.txt
echo "== pytest (compat/python)"
if ! (cd compat/python && .venv/bin/python -m pytest -q); then
  status=1
fi

if [ "$status" != 0 ]; then
  echo "compat: FAILED" >&2
fi
exit "$status"
