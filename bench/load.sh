#!/usr/bin/env bash
# Load benchmark: Check and Is over HTTP/1.1 and gRPC against `lictor run --demo`, with decision logging
# off and on, at a fixed concurrency for a bounded time. Server and load generator share this machine.
# Rounds alternate logging off and on (the order flips each round) so that machine drift cancels out;
# the summary gives each figure's median over the rounds and the cost of logging.
#
#   bench/load.sh                      # 3 rounds, 10 s per run after 2 s of warm-up, 16 requests in flight
#   SECONDS_PER_RUN=3 ROUNDS=1 bench/load.sh    # a quick look
#   CONCURRENCY=32 bench/load.sh
#   LOG_LEVEL=info WORKLOADS=check-http bench/load.sh  # with one log line per request (to a file)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SECONDS_PER_RUN:-10}"
concurrency="${CONCURRENCY:-16}"
rounds="${ROUNDS:-3}"
log_level="${LOG_LEVEL:-warn}"
workloads="${WORKLOADS:-check-http is-http check-grpc is-grpc}"
cargo build --release --locked -p lictor -p lictor-load
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Runs every workload against a fresh server with logging $1 (off|on), appending to $work/runs.
run_all() {
  local logging="$1" enabled=false
  if [ "$logging" = on ]; then enabled=true; fi
  rm -rf "$work/data" "$work/decisions.jsonl"*
  cat > "$work/lictor.yaml" <<YAML
data_dir: $work/data
listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0}
console: {enabled: false}
decision_logs:
  enabled: $enabled
  file: $work/decisions.jsonl
YAML
  RUST_LOG="$log_level" target/release/lictor run --demo --config "$work/lictor.yaml" > "$work/out" 2> "$work/err" &
  server_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^ready' "$work/out" && break
    sleep 0.1
  done
  local address
  address="$(awk '$1 == "listening" && $2 == "authorizer-rest" {print $3}' "$work/out")"
  if [ -z "$address" ]; then
    echo "the server did not start:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  for workload in $workloads; do
    target/release/lictor-load demo --address "$address" --workload "$workload" \
      --concurrency "$concurrency" --seconds "$seconds" --label "logging $logging" | tee -a "$work/runs"
  done
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  echo "log lines written: $(wc -l < "$work/err")"
  if [ "$logging" = on ]; then
    echo "decision records written: $(cat "$work"/decisions.jsonl* 2>/dev/null | wc -l)"
  fi
}

echo "log level $log_level; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds"
  if [ $((round % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
  for logging in $order; do run_all "$logging"; done
done

echo
echo "medians over $rounds round(s), concurrency $concurrency, $seconds s per run:"
# Lines read: `checkhttp   logging off  concurrency  16   60972 req/s  p50   229 µs  p99   652 µs  errors 0`
python3 - "$work/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = line.split()
    if len(f) < 12 or f[6] != "req/s":
        continue
    runs.setdefault((f[0], f[2]), []).append((float(f[5]), float(f[8]), float(f[11])))
print(f"{'workload':<11} {'logging':<8} {'req/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'logging cost':>13}")
for workload in ["checkhttp", "ishttp", "checkgrpc", "isgrpc"]:
    for logging in ["off", "on"]:
        r = runs.get((workload, logging))
        if not r:
            continue
        rate, p50, p99 = (statistics.median(x[i] for x in r) for i in range(3))
        cost = ""
        if logging == "on" and runs.get((workload, "off")):
            off = statistics.median(x[0] for x in runs[(workload, "off")])
            cost = f"{(off - rate) / off * 100:.1f} %"
        print(f"{workload:<11} {logging:<8} {rate:>9,.0f} {p50:>8,.0f} {p99:>8,.0f} {cost:>13}")
PY
