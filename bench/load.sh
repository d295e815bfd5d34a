#!/usr/bin/env bash
# Load benchmark: Check and Is over HTTP/1.1 and gRPC against `lictor run --demo`, with decision logging
# off and on, at a fixed concurrency for a bounded time, beside a static reply from nginx (one worker)
# driven by the same load generator with the check's request. Server and load generator share this
# machine. Rounds alternate logging off and on (the order flips each round) so that machine drift
# cancels out; the summary gives each figure's median over the rounds, the cost of logging, and the
# ratios the hot-path goals are stated in (against nginx, and Is against check).
#
#   bench/load.sh                      # 3 rounds, 10 s per run after 2 s of warm-up, 32 requests in flight
#   SECONDS_PER_RUN=3 ROUNDS=1 bench/load.sh    # a quick look
#   CONCURRENCY=16 bench/load.sh
#   BASELINE=none bench/load.sh        # without nginx
#   LOG_LEVEL=info WORKLOADS=check-http bench/load.sh  # with one log line per request (to a file)
#   LICTOR_BIN=/path/to/older/lictor bench/load.sh     # another build of the server, for a before/after
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
script=bench/load.sh
# shellcheck source=../scripts/lib/prerequisites.sh
. scripts/lib/prerequisites.sh

seconds="${SECONDS_PER_RUN:-10}"
concurrency="${CONCURRENCY:-32}"
baseline="${BASELINE:-nginx}"
rounds="${ROUNDS:-3}"
log_level="${LOG_LEVEL:-warn}"
workloads="${WORKLOADS:-check-http is-http check-grpc is-grpc}"
cargo build --release --locked -p lictor -p lictor-load
export LICTOR_BIN="${LICTOR_BIN:-$root/target/release/lictor}" RUST_LOG="$log_level"
work="$(mktemp -d)"
server_pid=""
nginx_pid=""
cleanup() {
  for pid in $server_pid $nginx_pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$baseline" = nginx ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "== installing nginx (the static-reply baseline)"
  apt_install nginx-light
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

# Runs the static workload against nginx (one worker, keep-alive, every request answered with one
# small JSON body), appending to $work/runs.
run_baseline() {
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mkdir -p "$work/nginx"
  cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / {
      default_type application/json;
      return 200 '{"check":false}';
    }
  }
}
NGINX
  "$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  nginx_pid=$!
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
  done
  target/release/lictor-load demo --address "127.0.0.1:$port" --workload static \
    --concurrency "$concurrency" --seconds "$seconds" --label nginx | tee -a "$work/runs"
  kill "$nginx_pid"
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=""
}

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
  # Every API port serves the whole API, Is included.
  start_demo_server "$work/lictor.yaml" "$work"
  for workload in $workloads; do
    target/release/lictor-load demo --address "$address" --workload "$workload" \
      --concurrency "$concurrency" --seconds "$seconds" --label "logging $logging" | tee -a "$work/runs"
  done
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  echo "log lines written: $(wc -l < "$work/stderr.log")"
  if [ "$logging" = on ]; then
    echo "decision records written: $(cat "$work"/decisions.jsonl* 2>/dev/null | wc -l)"
  fi
}

echo "log level $log_level; machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds"
  if [ $((round % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
  if [ "$baseline" = nginx ]; then run_baseline; fi
  for logging in $order; do run_all "$logging"; done
done

echo
echo "medians over $rounds round(s), concurrency $concurrency, $seconds s per run:"
# Lines read: `checkhttp   logging off  concurrency  32   60972 req/s  p50   229 µs  p99   652 µs  errors 0`
# and, for the baseline, `static      nginx        concurrency  32  170000 req/s  p50 ...`.
python3 - "$work/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    f = line.split()
    if f and f[0] == "static" and len(f) >= 11 and f[5] == "req/s":
        runs.setdefault(("static", "-"), []).append((float(f[4]), float(f[7]), float(f[10])))
    elif len(f) >= 12 and f[6] == "req/s":
        runs.setdefault((f[0], f[2]), []).append((float(f[5]), float(f[8]), float(f[11])))
median = {}
print(f"{'workload':<11} {'logging':<8} {'req/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'logging cost':>13}")
for workload in ["static", "checkhttp", "ishttp", "checkgrpc", "isgrpc"]:
    for logging in ["-", "off", "on"]:
        r = runs.get((workload, logging))
        if not r:
            continue
        rate, p50, p99 = (statistics.median(x[i] for x in r) for i in range(3))
        median[(workload, logging)] = (rate, p99)
        cost = ""
        if logging == "on" and runs.get((workload, "off")):
            off = statistics.median(x[0] for x in runs[(workload, "off")])
            cost = f"{(off - rate) / off * 100:.1f} %"
        label = "nginx" if workload == "static" else logging
        print(f"{workload:<11} {label:<8} {rate:>9,.0f} {p50:>8,.0f} {p99:>8,.0f} {cost:>13}")

print()
print("against the goals (logging off unless named):")
def ratio(name, top, bottom, goal, p99_goal_us=None):
    if top not in median or bottom not in median:
        return
    rate, p99 = median[top]
    value = rate / median[bottom][0]
    verdict = "met" if value >= goal and (p99_goal_us is None or p99 <= p99_goal_us) else "not met"
    tail = f", p99 {p99:,.0f} µs (goal <= {p99_goal_us:,} µs)" if p99_goal_us else ""
    print(f"  {name:<28} {value:5.2f}x (goal >= {goal}x){tail}: {verdict}")
static = ("static", "-")
ratio("check HTTP / nginx", ("checkhttp", "off"), static, 0.5, 1000)
ratio("check gRPC / nginx", ("checkgrpc", "off"), static, 0.4, 1000)
ratio("Is HTTP / check HTTP", ("ishttp", "off"), ("checkhttp", "off"), 0.5)
for workload in ["checkhttp", "ishttp", "checkgrpc", "isgrpc"]:
    if (workload, "off") in median and (workload, "on") in median:
        off, on = median[(workload, "off")][0], median[(workload, "on")][0]
        cost = (off - on) / off * 100
        verdict = "met" if cost <= 10 else "not met"
        print(f"  {'logging cost, ' + workload:<28} {cost:5.1f} % (goal <= 10 %): {verdict}")
PY
