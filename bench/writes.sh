#!/usr/bin/env bash
# Write benchmark: single-relation writes (`POST /api/v3/directory/relation`, each a new relation) from
# concurrent clients against `lictor run --demo` on the embedded store, every write durable before it is
# acknowledged. Prints writes per second, latency percentiles, how many revisions the writes took
# (fewer than writes when concurrent commits are grouped) and the server's resident memory per
# relation written, beside the same figure after a bulk import of as many relations.
#
#   bench/writes.sh                         # 8 clients for 10 s
#   CONCURRENCY=32 SECONDS_PER_RUN=5 bench/writes.sh
#   LICTOR_BIN=/path/to/older/lictor bench/writes.sh   # another build of the server, for a before/after
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SECONDS_PER_RUN:-10}"
concurrency="${CONCURRENCY:-8}"
lines="${BODIES:-400000}"
cargo build --release --locked -p lictor -p lictor-load
lictor="${LICTOR_BIN:-target/release/lictor}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

start_server() {
  cat > "$work/lictor.yaml" <<YAML
data_dir: $work/data
listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0, max_body_bytes: 1073741824}
console: {enabled: false}
decision_logs: {enabled: false}
YAML
  "$lictor" run --demo --config "$work/lictor.yaml" > "$work/out" 2> "$work/err" &
  server_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^ready' "$work/out" && break
    sleep 0.1
  done
  address="$(awk '$1 == "listening" && $2 == "directory-rest" {print $3}' "$work/out")"
  if [ -z "$address" ]; then
    echo "the server did not start:" >&2
    cat "$work/err" >&2
    exit 1
  fi
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
revision() {
  curl -s -o /dev/null -D - "http://$address/api/v3/directory/relation" \
    -H 'content-type: application/json' \
    -d '{"relation":{"object_type":"group","object_id":"bench-probe","relation":"member","subject_type":"user","subject_id":"probe"}}' \
    | awk 'tolower($1) == "x-lictor-revision:" {print $2+0}'
}

# Each line a relation no other line writes: every request is a real write.
python3 - "$lines" > "$work/bodies.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"relation": {"object_type": "group", "object_id": f"bench-{i % 1000}",
                                   "relation": "member", "subject_type": "user", "subject_id": f"writer-{i}"}}))
PY

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
start_server
rss_before=$(rss_kib)
rev_before=$(revision)
result=$(target/release/lictor-load http --url "http://$address/api/v3/directory/relation" \
  --bodies "$work/bodies.jsonl" --concurrency "$concurrency" --seconds "$seconds" --warmup 0 \
  --pid "$server_pid" --label "writes")
rev_after=$(revision)
sleep 1
rss_after=$(rss_kib)
stop_server
echo "$result"

# The same number of relations, bulk-imported into a fresh server, for the memory baseline.
python3 - "$result" > "$work/import.jsonl" <<'PY'
import json, sys
count = json.loads(sys.argv[1])["requests"]
for i in range(count):
    print(json.dumps({"relation": {"object_type": "group", "object_id": f"bench-{i % 1000}", "relation": "member",
                                   "subject_type": "user", "subject_id": f"writer-{i}"}}))
PY
rm -rf "$work/data"
start_server
import_before=$(rss_kib)
curl -sf "http://$address/api/v3/lictor/import" -H 'content-type: application/x-ndjson' \
  --data-binary @"$work/import.jsonl" > /dev/null
sleep 1
import_after=$(rss_kib)
imported=$(wc -l < "$work/import.jsonl")
stop_server

python3 - "$result" "$rss_before" "$rss_after" "$rev_before" "$rev_after" "$import_before" "$import_after" "$imported" "$concurrency" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
rss_before, rss_after, rev_before, rev_after, imp_before, imp_after, imported, concurrency = map(int, sys.argv[2:])
writes = r["requests"]
print(f"concurrency {concurrency}: {r['rps']:,.0f} writes/s  p50 {r['p50_us']} µs  p99 {r['p99_us']} µs  errors {r['errors']}")
total = max(rev_after - rev_before - 1, 1)
print(f"revisions: {total:,} for {writes + r['errors']:,} writes")
print(f"resident memory per relation written: {(rss_after - rss_before) * 1024 / max(writes, 1):,.0f} bytes")
print(f"resident memory per relation after a bulk import of {imported:,}: {(imp_after - imp_before) * 1024 / imported:,.0f} bytes")
PY
