#!/usr/bin/env bash
# Soak benchmark: a mixed load against one `lictor run --demo` for a bounded time, sampling the server's
# memory (VmRSS) and open file descriptors, to show that neither grows while the load is steady.
#
# At once, for SOAK_SECONDS:
#   * checks over REST and gRPC, Is over REST and gRPC (lictor-load demo, low concurrency each);
#   * ad-hoc queries within the bounds (lictor-load http on /api/v2/authz/query);
#   * directory writes over REST in cycles: SOAK_WRITE_BATCH users and their relations are set, then
#     all deleted again, so the store grows and shrinks;
#   * queries past the evaluation bounds, one at a time: a range over the collection cap (expected
#     429 RESOURCE_EXHAUSTED) and a quadratic comprehension (expected 504 DEADLINE_EXCEEDED).
# Server and load share this machine. Exits non-zero if the server died, if any answer other than
# the expected limit answers was not 2xx, or if RSS grew by more than SOAK_RSS_BOUND_MB over the last
# half of the run (from a least-squares line through the samples).
#
#   bench/soak.sh                                  # 30 minutes
#   SOAK_SECONDS=600 bench/soak.sh                 # 10 minutes
#   SOAK_SECONDS=60 SOAK_SAMPLE_SECONDS=5 bench/soak.sh   # a quick look
#   SOAK_CSV=soak.csv bench/soak.sh                # keep the samples
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${SOAK_SECONDS:-1800}"
sample_every="${SOAK_SAMPLE_SECONDS:-10}"
write_batch="${SOAK_WRITE_BATCH:-500}"
rss_bound_mb="${SOAK_RSS_BOUND_MB:-16}"
cargo build --release --locked -p lictor -p lictor-load
work="$(mktemp -d)"
csv="${SOAK_CSV:-$work/samples.csv}"
server_pid=""
load_pids=()
cleanup() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/lictor.yaml" <<YAML
data_dir: $work/data
listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0}
console: {enabled: false}
YAML
RUST_LOG=warn target/release/lictor run --demo --config "$work/lictor.yaml" > "$work/out" 2> "$work/err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^ready' "$work/out" && break
  sleep 0.1
done
address() { awk -v name="$1" '$1 == "listening" && $2 == name {print $3}' "$work/out"; }
rest="$(address authorizer-rest)"
grpc="$(address authorizer-grpc)"
directory="$(address directory-rest)"
if [ -z "$rest" ] || [ -z "$grpc" ] || [ -z "$directory" ]; then
  echo "the server did not start:" >&2
  cat "$work/err" >&2
  exit 1
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "server pid $server_pid, REST $rest, gRPC $grpc, directory REST $directory; $duration s, sample every $sample_every s"

# Queries that stay within the bounds; every answer must be 200.
cat > "$work/queries.jsonl" <<'JSONL'
{"query": "x := count(numbers.range(1, 1000))"}
{"query": "x := data.todoApp.POST.todos.allowed", "input": "{\"user\": {\"id\": \"rick@the-citadel.com\"}}"}
{"query": "x := [y | y := numbers.range(1, 50)[_]; y % 7 == 0]"}
{"query": "x := sum([n | n := numbers.range(1, 2000)[_]])"}
JSONL

for workload in check-http is-http; do
  target/release/lictor-load demo --address "$rest" --workload "$workload" --concurrency 2 \
    --seconds "$duration" --warmup 0 --label soak > "$work/load-$workload" 2>&1 &
  load_pids+=($!)
done
for workload in check-grpc is-grpc; do
  target/release/lictor-load demo --address "$grpc" --workload "$workload" --concurrency 2 \
    --seconds "$duration" --warmup 0 --label soak > "$work/load-$workload" 2>&1 &
  load_pids+=($!)
done
target/release/lictor-load http --url "http://$rest/api/v2/authz/query" --bodies "$work/queries.jsonl" \
  --concurrency 1 --seconds "$duration" --warmup 0 --label query > "$work/load-query" 2>&1 &
load_pids+=($!)

stop_at=$(($(date +%s) + duration))

# One request with curl; appends `workload status expected|unexpected` to $work/answers and keeps the
# first unexpected answer. $1 workload, $2 expected status, $3 expected text in the body or "", then
# curl's arguments.
request() {
  local workload="$1" expected="$2" text="$3" status verdict=expected
  shift 3
  status="$(curl -s -o "$work/body-$workload" -w '%{http_code}' --max-time 10 "$@" || true)"
  if [ "$status" != "$expected" ] || { [ -n "$text" ] && ! grep -q "$text" "$work/body-$workload"; }; then
    verdict=unexpected
    if [ ! -s "$work/unexpected-$workload" ]; then
      echo "$* -> $status $(head -c 300 "$work/body-$workload")" > "$work/unexpected-$workload"
    fi
  fi
  echo "$workload $status $verdict" >> "$work/answers"
}

# Directory writes in cycles: set a batch of users, each a member of group:soak, then delete them all.
writes() {
  request write 200 "" -X POST "http://$directory/api/v3/directory/object" \
    -H 'content-type: application/json' -d '{"object": {"type": "group", "id": "soak"}}'
  while [ "$(date +%s)" -lt "$stop_at" ]; do
    for i in $(seq 1 "$write_batch"); do
      request write 200 "" -X POST "http://$directory/api/v3/directory/object" -H 'content-type: application/json' \
        -d "{\"object\": {\"type\": \"user\", \"id\": \"soak-$i\", \"properties\": {\"email\": \"soak-$i@example.com\", \"n\": $i}}}"
      request write 200 "" -X POST "http://$directory/api/v3/directory/relation" -H 'content-type: application/json' \
        -d "{\"relation\": {\"object_type\": \"group\", \"object_id\": \"soak\", \"relation\": \"member\", \"subject_type\": \"user\", \"subject_id\": \"soak-$i\"}}"
      [ "$(date +%s)" -lt "$stop_at" ] || return 0
    done
    for i in $(seq 1 "$write_batch"); do
      request write 200 "" -X DELETE \
        "http://$directory/api/v3/directory/relation?object_type=group&object_id=soak&relation=member&subject_type=user&subject_id=soak-$i"
      request write 200 "" -X DELETE "http://$directory/api/v3/directory/object/user/soak-$i?with_relations=true"
      [ "$(date +%s)" -lt "$stop_at" ] || return 0
    done
  done
}

# Queries past the bounds, one at a time with a pause, so that they do not take all of a core.
limits() {
  while [ "$(date +%s)" -lt "$stop_at" ]; do
    request limit-memory 429 '"code":8' -X POST "http://$rest/api/v2/authz/query" -H 'content-type: application/json' \
      -d '{"query": "x := count(numbers.range(1, 200000000))"}'
    request limit-time 504 '"code":4' -X POST "http://$rest/api/v2/authz/query" -H 'content-type: application/json' \
      -d '{"query": "r := numbers.range(1, 12000); x := count({1 | r[_]; r[_]})"}'
    sleep 2
  done
}

writes &
load_pids+=($!)
limits &
load_pids+=($!)

# Samples: seconds since start, VmRSS in KiB, open file descriptors, threads.
echo "seconds,rss_kib,fds,threads" > "$csv"
started=$(date +%s)
alive=yes
while [ "$(date +%s)" -lt "$stop_at" ]; do
  if ! kill -0 "$server_pid" 2>/dev/null; then alive=no; break; fi
  rss="$(awk '$1 == "VmRSS:" {print $2}' "/proc/$server_pid/status")"
  threads="$(awk '$1 == "Threads:" {print $2}' "/proc/$server_pid/status")"
  fds="$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  echo "$(($(date +%s) - started)),$rss,$fds,$threads" >> "$csv"
  sleep "$sample_every"
done

for pid in "${load_pids[@]}"; do wait "$pid" || true; done
load_pids=()
if ! kill -0 "$server_pid" 2>/dev/null; then alive=no; fi
if [ "$alive" = yes ]; then
  rss="$(awk '$1 == "VmRSS:" {print $2}' "/proc/$server_pid/status")"
  threads="$(awk '$1 == "Threads:" {print $2}' "/proc/$server_pid/status")"
  fds="$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  echo "$(($(date +%s) - started)),$rss,$fds,$threads" >> "$csv"
fi

echo
echo "samples (every minute):"
python3 - "$csv" "$sample_every" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
step = max(1, round(60 / float(sys.argv[2])))
print(f"{'min':>5} {'RSS MiB':>8} {'fds':>5} {'threads':>8}")
for i, r in enumerate(rows):
    if i % step == 0 or i == len(rows) - 1:
        print(f"{int(r['seconds']) / 60:>5.1f} {int(r['rss_kib']) / 1024:>8.1f} {r['fds']:>5} {r['threads']:>8}")
PY

echo
echo "load generators:"
for workload in check-http is-http check-grpc is-grpc query; do
  echo "  $(cat "$work/load-$workload")"
done
echo "curl workloads (status, verdict):"
sort "$work/answers" | uniq -c | sed 's/^/  /'
failed=no
for file in "$work"/unexpected-*; do
  [ -e "$file" ] || continue
  echo "first unexpected answer of ${file##*/unexpected-}: $(cat "$file")"
  failed=yes
done
if grep -q ' unexpected$' "$work/answers"; then failed=yes; fi
for workload in check-http is-http check-grpc is-grpc; do
  if ! grep -q 'errors 0$' "$work/load-$workload"; then
    echo "$workload: errors or no result"
    failed=yes
  fi
done
if ! grep -q '"errors":0,' "$work/load-query"; then
  echo "query: errors or no result"
  failed=yes
fi
if [ "$alive" = no ]; then
  echo "the server died:"
  tail -20 "$work/err"
  failed=yes
fi

echo
python3 - "$csv" "$rss_bound_mb" <<'PY' || failed=yes
import csv, sys
rows = [(float(r["seconds"]), float(r["rss_kib"]) / 1024, int(r["fds"])) for r in csv.DictReader(open(sys.argv[1], encoding="utf-8"))]
bound = float(sys.argv[2])
if len(rows) < 4:
    print("too few samples for a slope")
    sys.exit(1)
rss = [r[1] for r in rows]
print(f"RSS MiB: start {rss[0]:.1f}, peak {max(rss):.1f}, end {rss[-1]:.1f}")
fds = [r[2] for r in rows]
print(f"open fds: start {fds[0]}, peak {max(fds)}, end {fds[-1]}")
half = rows[len(rows) // 2:]
n = len(half)
mean_t = sum(r[0] for r in half) / n
mean_m = sum(r[1] for r in half) / n
slope = sum((r[0] - mean_t) * (r[1] - mean_m) for r in half) / sum((r[0] - mean_t) ** 2 for r in half)
growth = slope * (half[-1][0] - half[0][0])
print(f"last half ({half[0][0] / 60:.1f} to {half[-1][0] / 60:.1f} min): slope {slope * 60:+.3f} MiB/min, "
      f"fitted growth {growth:+.1f} MiB (bound {bound:.0f} MiB)")
sys.exit(1 if growth > bound else 0)
PY
if [ "$failed" = yes ]; then
  echo "soak: FAILED"
  exit 1
fi
echo "soak: passed"
