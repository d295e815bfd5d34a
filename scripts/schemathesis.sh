#!/usr/bin/env bash
# Tests the REST API against its own OpenAPI document: starts `lictor run --demo` on free 127.0.0.1
# ports with a temporary data directory, and runs schemathesis (every check: server errors, status
# codes, content types, response schemas, acceptance of valid and rejection of invalid input,
# unsupported methods) on every documented operation. Fails on any failure.
# Expects target/debug/lictor (or target/release/lictor, or $LICTOR_BIN) to be built already; creates
# the virtualenv target/schemathesis-venv when missing, installing Python's venv module from Debian's
# packages if needed. SCHEMATHESIS_MAX_EXAMPLES (cases per operation and phase) and
# SCHEMATHESIS_SEED bound and vary the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

if [ -z "${LICTOR_BIN:-}" ]; then
  LICTOR_BIN="$root/target/debug/lictor"
  if [ ! -x "$LICTOR_BIN" ] && [ -x "$root/target/release/lictor" ]; then
    LICTOR_BIN="$root/target/release/lictor"
  fi
fi
script=schemathesis
# shellcheck source=scripts/lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"
require_lictor
need_python_venv

venv="$root/target/schemathesis-venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  python3 -m venv "$venv"
fi
echo "== $("$venv/bin/python" --version): pip install -r scripts/schemathesis-requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/schemathesis-requirements.txt

work="$(mktemp -d)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT

# Every port on 0: the server picks free ones and announces them ("listening NAME ADDRESS").
cat >"$work/lictor.yaml" <<EOF
data_dir: $work/data
listen:
  address: 127.0.0.1
  authorizer_grpc: 0
  authorizer_rest: 0
  directory_grpc: 0
  directory_rest: 0
  health: 0
  metrics: 0
console:
  port: 0
EOF
start_demo_server "$work/lictor.yaml" "$work"

base="http://$address"
echo "== schemathesis against $base/openapi.json (lictor run --demo)"
status=0
# From the temporary directory, where schemathesis keeps its cache of failures.
(cd "$work" && "$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" run "$base/openapi.json" \
  --url "$base" \
  --checks all \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
  --seed "${SCHEMATHESIS_SEED:-20261130}" \
  --workers 1 \
  --request-timeout 10 \
  --generation-database none \
  --report junit --report-junit-path "$work/junit.xml") || status=$?
if [ -f "$work/junit.xml" ]; then
  "$venv/bin/python" - "$work/junit.xml" <<'EOF'
import sys
import xml.etree.ElementTree as tree

root = tree.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
cases = sum(int(suite.get("tests", 0)) for suite in suites)
failed = sum(int(suite.get("failures", 0)) + int(suite.get("errors", 0)) for suite in suites)
print(f"schemathesis: {cases} operations tested, {failed} with failures")
EOF
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "schemathesis: lictor exited during the run; its errors:" >&2
  cat "$work/stderr.log" >&2
  status=1
fi
if [ "$status" != 0 ]; then
  echo "schemathesis: FAILED" >&2
fi
exit "$status"
