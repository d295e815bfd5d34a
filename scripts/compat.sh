#!/usr/bin/env bash
# Runs Aserto's own client libraries (Node: @aserto/aserto-node; Python: aserto, flask-aserto) against a
# real `lictor run --demo` process. Expects target/debug/lictor (or $LICTOR_BIN) to be built already;
# installs Node/npm and Python's venv module from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

script=compat
# shellcheck source=scripts/lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"
require_lictor
need_node
need_python_venv

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
