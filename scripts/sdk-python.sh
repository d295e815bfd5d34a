#!/usr/bin/env bash
# Tests the Python SDK (sdks/python) against a real `lictor run --demo`: type-checks it with mypy, runs
# its pytest suite (clients, Flask and FastAPI guards), and smoke-tests the Flask example
# (examples/todo-flask) as a running process. Expects target/debug/lictor (or $LICTOR_BIN) to be built
# already; creates the virtualenv sdks/python/.venv when missing, installing Python's venv module from
# Debian's packages if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

script=sdk-python
# shellcheck source=scripts/lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"
require_lictor
need_python_venv

venv=sdks/python/.venv
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  python3 -m venv "$venv"
fi
py="$root/$venv/bin/python"
echo "== $("$py" --version): pip install -r sdks/python/requirements-test.txt, -e sdks/python"
"$py" -m pip install --quiet --disable-pip-version-check -r sdks/python/requirements-test.txt
"$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation -e sdks/python

status=0

echo "== mypy --strict (sdks/python: the package and its tests)"
if ! (cd sdks/python && "$py" -m mypy); then
  status=1
fi

echo "== pytest (sdks/python)"
if ! (cd sdks/python && "$py" -m pytest -q); then
  status=1
fi

echo "== smoke test (examples/todo-flask)"
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"
# Its own session, so that stopping it stops its lictor and Flask too.
VENV="$root/$venv" PORT="$port" setsid examples/todo-flask/run.sh >"$log" 2>&1 &
example_pid=$!
stop_example() {
  kill -TERM -- "-$example_pid" 2>/dev/null || true
  wait "$example_pid" 2>/dev/null || true
}
trap 'stop_example; rm -f "$log"' EXIT
if ! (cd examples/todo-flask && "$py" smoke_test.py "http://127.0.0.1:$port"); then
  echo "sdk-python: the example app's output:" >&2
  cat "$log" >&2
  status=1
fi

if [ "$status" != 0 ]; then
  echo "sdk-python: FAILED" >&2
fi
exit "$status"
