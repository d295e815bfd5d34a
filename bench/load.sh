#!/usr/bin/env bash
# Load benchmark: Check and Is over HTTP/1.1 and gRPC against `lictor run --demo`, with decision logging
# off and on, at a fixed concurrency for a bounded time. Server and load generator share this machine.
#
#   bench/load.sh                      # 10 s per run after 2 s of warm-up, 32 requests in flight
#   SECONDS_PER_RUN=3 bench/load.sh    # a quick look
#   CONCURRENCY=64 bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SECONDS_PER_RUN:-10}"
concurrency="${CONCURRENCY:-32}"
cargo build --release --locked -p lictor -p lictor-load
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for logging in off on; do
  rm -rf "$work/data" "$work/decisions.jsonl"*
  enabled=false
  if [ "$logging" = on ]; then enabled=true; fi
  cat > "$work/lictor.yaml" <<YAML
data_dir: $work/data
listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0}
decision_logs:
  enabled: $enabled
  file: $work/decisions.jsonl
YAML
  RUST_LOG=warn target/release/lictor run --demo --config "$work/lictor.yaml" > "$work/out" 2> "$work/err" &
  server_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^ready' "$work/out" && break
    sleep 0.1
  done
  address="$(awk '$1 == "listening" && $2 == "authorizer-rest" {print $3}' "$work/out")"
  if [ -z "$address" ]; then
    echo "the server did not start:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  for workload in check-http is-http check-grpc is-grpc; do
    target/release/lictor-load demo --address "$address" --workload "$workload" \
      --concurrency "$concurrency" --seconds "$seconds" --label "logging $logging"
  done
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if [ "$logging" = on ]; then
    echo "decision records written: $(cat "$work"/decisions.jsonl* 2>/dev/null | wc -l)"
  fi
done
