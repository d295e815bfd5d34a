#!/usr/bin/env bash
# Runs the todo example in one command: installs its Python environment, starts `lictor run --demo`
# (unless LICTOR_URL names a running Lictor), prints a bearer token per demo user, and serves the app
# on http://127.0.0.1:$PORT (default 3000) until Ctrl-C.
#
# Environment: PORT; LICTOR_URL (use that server instead of starting one); LICTOR_BIN (default
# target/debug/lictor); VENV (default examples/todo-flask/.venv); TODO_JWT_SECRET.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
port="${PORT:-3000}"

if [ ! -x "$venv/bin/python" ]; then
  echo "todo-flask: creating $venv"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation -e "$repo/sdks/python"

if [ -z "${LICTOR_URL:-}" ]; then
  bin="${LICTOR_BIN:-$repo/target/debug/lictor}"
  if [ ! -x "$bin" ]; then
    echo "todo-flask: $bin not found: build it with 'cargo build -p lictor', or set LICTOR_URL to a running Lictor" >&2
    exit 2
  fi
  work="$(mktemp -d)"
  # Ephemeral ports, so a Lictor already running on the default ones is no obstacle.
  cat >"$work/lictor.yaml" <<YAML
data_dir: $work/data
listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0}
console: {port: 0}
YAML
  "$bin" run --demo --config "$work/lictor.yaml" >"$work/stdout" 2>"$work/stderr" &
  lictor_pid=$!
  trap 'kill "$lictor_pid" 2>/dev/null || true; wait "$lictor_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 600); do
    if grep -qx ready "$work/stdout"; then break; fi
    if ! kill -0 "$lictor_pid" 2>/dev/null; then
      echo "todo-flask: lictor exited before it was ready:" >&2
      cat "$work/stderr" >&2
      exit 1
    fi
    sleep 0.1
  done
  if ! grep -qx ready "$work/stdout"; then
    echo "todo-flask: lictor was not ready within 60s" >&2
    exit 1
  fi
  LICTOR_URL="http://$(awk '$1 == "listening" && $2 == "authorizer-rest" { print $3 }' "$work/stdout")"
  export LICTOR_URL
fi

echo "todo-flask: Lictor at $LICTOR_URL"
echo "todo-flask: bearer tokens for the demo users:"
"$venv/bin/python" -m flask --app "$here/app.py" tokens | sed 's/^/  /'
echo "todo-flask: serving on http://127.0.0.1:$port"
"$venv/bin/python" -m flask --app "$here/app.py" run --host 127.0.0.1 --port "$port"
