#!/usr/bin/env bash
# Replays the Cerbos conformance corpus (../shared/conformance/cerbos: decisions taken from Cerbos's own
# test data) against `lictor run --cerbos-config conf.yaml` over Cerbos's REST API, one server per cases
# file with that file's flags from suites.json, each compared with `cerbos-diff.py --full`.
# Expects target/debug/lictor (or $LICTOR_BIN) to be built already. Without the corpus it skips, except
# under CI (CI=true), where the corpus is required.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

export LICTOR_BIN="${LICTOR_BIN:-$root/target/debug/lictor}"
if [ ! -x "$LICTOR_BIN" ]; then
  echo "cerbos-conformance: $LICTOR_BIN not found: build it first with 'cargo build -p lictor'" >&2
  exit 2
fi
corpus="$root/../shared/conformance/cerbos"
if [ ! -f "$corpus/suites.json" ]; then
  if [ "${CI:-}" = true ]; then
    echo "cerbos-conformance: corpus not found at $corpus: required under CI" >&2
    exit 2
  fi
  echo "cerbos-conformance: corpus not found at $corpus: skipped" >&2
  exit 0
fi

work="$(mktemp -d)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT

# A free port for each server: the kernel picks, then it is released for lictor to bind.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

status=0
summary=""
files="$(python3 -c 'import json, sys; print("\n".join(k for k in json.load(open(sys.argv[1])) if not k.startswith("_")))' "$corpus/suites.json")"
for cases in $files; do
  mapfile -t flags < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$corpus/suites.json" "$cases" | sed '/^$/d')
  port="$(free_port)"
  log="$work/$cases.log"
  # conf.yaml's paths are relative to the corpus folder, so the server runs there.
  (cd "$corpus" && exec "$LICTOR_BIN" run --cerbos-config conf.yaml "${flags[@]}" \
    --set="server.httpListenAddr=127.0.0.1:$port" --set=server.grpcListenAddr= >"$log" 2>&1) &
  server_pid=$!
  url="http://127.0.0.1:$port"
  ready=0
  for _ in $(seq 1 200); do
    if curl -fsS "$url/_cerbos/health" 2>/dev/null | grep -q SERVING; then
      ready=1
      break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "cerbos-conformance: lictor did not become healthy for $cases; its output:" >&2
    cat "$log" >&2
    stop_server
    status=1
    continue
  fi
  echo "== $cases ${flags[*]:-}"
  if ! result="$(python3 "$corpus/cerbos-diff.py" --full "$url" "$corpus/$cases")"; then
    status=1
  fi
  echo "$result"
  summary="$summary$cases: $(echo "$result" | tail -n 1)"$'\n'
  stop_server
done
echo "== Cerbos conformance"
printf '%s' "$summary"
exit "$status"
