#!/usr/bin/env bash
# Runs Cerbos's own client libraries (Node: @cerbos/grpc, @cerbos/http; Python: PyPI cerbos over HTTP and gRPC,
# sync and async) and the Express example (examples/cerbos-express) against a Cerbos PDP:
#   scripts/cerbos-clients.sh cerbos   the real Cerbos PDP 0.51 (npm `cerbos`), the reference the tests were written on
#   scripts/cerbos-clients.sh lictor   `lictor run --cerbos-config` ($LICTOR_BIN, default target/debug/lictor)
# Each suite gets a PDP of its own on free ports, over its own policies; the script stops them at the end.
# Installs what it needs: npm ci (committed lockfiles), a virtualenv from tests/cerbos-clients/python/requirements.txt,
# and Node/npm or Python's venv module from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

target="${1:-}"
case "$target" in
  cerbos | lictor) ;;
  *)
    echo "usage: scripts/cerbos-clients.sh cerbos|lictor" >&2
    exit 2
    ;;
esac

script=cerbos-clients
# shellcheck source=scripts/lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"
if [ "$target" = lictor ]; then
  require_lictor
fi
need_node
need_command curl
need_python_venv
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "cerbos-clients: node $(node --version) is too old: @cerbos/grpc and @cerbos/http need Node.js 20 or later" >&2
  exit 2
fi

npm_ci() {
  echo "== npm ci ($1)"
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}
if [ "$target" = cerbos ]; then
  npm_ci tests/cerbos-pdp
fi
npm_ci tests/cerbos-clients/node/grpc
npm_ci tests/cerbos-clients/node/http
npm_ci examples/cerbos-express

venv=tests/cerbos-clients/python/.venv
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  python3 -m venv "$venv"
fi
echo "== pip install -r tests/cerbos-clients/python/requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/cerbos-clients/python/requirements.txt

work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_pdp NAME DIR: starts the PDP on DIR/conf.yaml (run from DIR, whose policies/ it serves) on two free ports,
# and waits until its health endpoint answers SERVING; sets http_port and grpc_port.
start_pdp() {
  local name="$1" dir="$2" i
  http_port="$(free_port)"
  grpc_port="$(free_port)"
  while [ "$grpc_port" = "$http_port" ]; do grpc_port="$(free_port)"; done
  local overrides=(
    "--set=server.httpListenAddr=127.0.0.1:$http_port"
    "--set=server.grpcListenAddr=127.0.0.1:$grpc_port"
  )
  local log="$work/$name.log"
  if [ "$target" = cerbos ]; then
    local cerbos_bin
    cerbos_bin="$(cd tests/cerbos-pdp && node -p 'require.resolve("@cerbos/cerbos-" + process.platform + "-" + process.arch)')"
    (cd "$dir" && CERBOS_NO_TELEMETRY=1 exec "$cerbos_bin" server --config=conf.yaml "${overrides[@]}") >"$log" 2>&1 &
  else
    (cd "$dir" && exec "$LICTOR_BIN" run --cerbos-config conf.yaml "${overrides[@]}") >"$log" 2>&1 &
  fi
  pids+=("$!")
  for ((i = 0; i < 300; i++)); do
    if curl -fsS "http://127.0.0.1:$http_port/_cerbos/health" 2>/dev/null | grep -q SERVING; then
      echo "== $target PDP for $name: HTTP 127.0.0.1:$http_port, gRPC 127.0.0.1:$grpc_port"
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "cerbos-clients: the $target PDP for $name did not become healthy within 30 s:" >&2
  cat "$log" >&2
  return 1
}

status=0
run_suite() {
  local title="$1"
  shift
  echo "== $title"
  if ! "$@"; then
    echo "cerbos-clients: FAILED: $title" >&2
    status=1
  fi
}

start_pdp clients tests/cerbos-clients
export CERBOS_HTTP="http://127.0.0.1:$http_port" CERBOS_GRPC="127.0.0.1:$grpc_port"
run_suite "node --test: @cerbos/grpc" bash -c 'cd tests/cerbos-clients/node/grpc && node --test test/*.test.js'
# The HTTP listener answers gRPC as well.
run_suite "node --test: @cerbos/grpc on the HTTP port" \
  env CERBOS_GRPC="127.0.0.1:$http_port" bash -c 'cd tests/cerbos-clients/node/grpc && node --test test/*.test.js'
run_suite "node --test: @cerbos/http" bash -c 'cd tests/cerbos-clients/node/http && node --test test/*.test.js'
run_suite "pytest: PyPI cerbos (HTTP and gRPC, sync and async)" \
  bash -c "cd tests/cerbos-clients/python && '$root/$venv/bin/python' -m pytest -q"

start_pdp express examples/cerbos-express
run_suite "node --test: examples/cerbos-express" \
  env CERBOS_GRPC="127.0.0.1:$grpc_port" bash -c 'cd examples/cerbos-express && node --test test/*.test.js'

if [ "$status" != 0 ]; then
  echo "cerbos-clients: FAILED against $target" >&2
else
  echo "cerbos-clients: all passed against $target"
fi
exit "$status"
