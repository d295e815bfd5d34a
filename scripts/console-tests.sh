#!/usr/bin/env bash
# Browser tests of the web console (console/test): headless Chromium against a `lictor run --demo` server,
# three times: over plain HTTP, over HTTPS, and with an API key required.
#
#   LICTOR_BIN             server binary (default target/debug/lictor; build it first)
#   LICTOR_CONSOLE_ASSETS  a directory to serve the console from instead of the copy built into the
#                          binary (default: the built-in copy, what users get; `console` tests the
#                          working tree's files without rebuilding)
#   SCREENSHOT_DIR         where each run writes its screenshots (default target/console-screenshots)
#   CHROMIUM               the browser (default /usr/bin/chromium, installed with apt-get when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bin=${LICTOR_BIN:-target/debug/lictor}
assets=${LICTOR_CONSOLE_ASSETS:-}
shots=${SCREENSHOT_DIR:-target/console-screenshots}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
started_at=$(date +%s)

if [ ! -x "$bin" ]; then
  echo "server binary not found at $bin: build it (cargo build -p lictor) or set LICTOR_BIN" >&2
  exit 2
fi
case "$bin" in /*) ;; *) bin=$root/$bin ;; esac
if [ -n "$assets" ]; then
  case "$assets" in /*) ;; *) assets=$root/$assets ;; esac
fi
case "$shots" in /*) ;; *) shots=$root/$shots ;; esac

if [ ! -x "$CHROMIUM" ]; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
for tool in node npm curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found" >&2; exit 2; }
done

echo "== npm ci (console/test)"
(cd console/test && npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

# Seven free loopback ports.
free_ports() {
  node -e '
    const net = require("net");
    Promise.all(Array.from({ length: 7 }, () => new Promise((ok) => {
      const s = net.createServer();
      s.listen(0, "127.0.0.1", () => ok(s));
    }))).then((ss) => {
      console.log(ss.map((s) => s.address().port).join(" "));
      ss.forEach((s) => s.close());
    });'
}

failed=()
run() {
  local name=$1 scheme=$2 key=$3
  local dir=$work/$name
  mkdir -p "$dir/data"
  read -r p1 p2 p3 p4 p5 p6 p7 <<<"$(free_ports)"
  {
    echo "listen:"
    echo "  address: 127.0.0.1"
    echo "  authorizer_grpc: $p1"
    echo "  authorizer_rest: $p2"
    echo "  directory_grpc: $p3"
    echo "  directory_rest: $p4"
    echo "  health: $p5"
    echo "  metrics: $p6"
    echo "console:"
    echo "  enabled: true"
    echo "  port: $p7"
    if [ -n "$assets" ]; then echo "  assets_dir: \"$assets\""; fi
    echo "tenants:"
    echo "  - id: acme"
    if [ -n "$key" ]; then
      echo "api_keys:"
      echo "  - key: \"$key\""
      echo "    scopes: [read, write, admin]"
    fi
  } >"$dir/lictor.yaml"

  echo "== $name: lictor on console port $p7 ($scheme) (at $(($(date +%s) - started_at)) s)"
  "$bin" run --demo --data-dir "$dir/data" --config "$dir/lictor.yaml" >"$dir/server.log" 2>&1 &
  server_pid=$!
  local url="$scheme://127.0.0.1:$p7/ui/"
  local up=
  for _ in $(seq 1 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    if curl -fsk -o /dev/null --max-time 2 "$url"; then
      up=1
      break
    fi
    sleep 0.2
  done
  if [ -z "$up" ]; then
    echo "lictor did not answer on $url; its log:" >&2
    tail -n 40 "$dir/server.log" >&2 || true
    stop_server
    failed+=("$name (server did not start)")
    failures=$((failures + 1))
    return
  fi

  mkdir -p "$shots/$name"
  rm -f "$shots/$name"/*.png
  if (cd console/test && LICTOR_CONSOLE_URL=$url LICTOR_API_KEY=$key SCREENSHOT_DIR="$shots/$name" \
    node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$dir/results.tap" console.test.mjs); then
    echo "== $name: passed"
  else
    echo "== $name: FAILED; the server's log ends with:" >&2
    tail -n 20 "$dir/server.log" >&2 || true
    failed+=("$name")
  fi
  stop_server
  count() { sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$dir/results.tap" 2>/dev/null | tail -n 1; }
  passed=$((passed + $(count pass || true) + 0))
  failures=$((failures + $(count fail || true) + 0))
  skipped=$((skipped + $(count skipped || true) + 0))
}

passed=0
failures=0
skipped=0
run http http ""
run https https ""
run apikey http "console-test-key-$RANDOM$RANDOM$RANDOM"

echo "== console tests finished after $(($(date +%s) - started_at)) s; screenshots in $shots"
echo "console: $passed passed, $failures failed, $skipped skipped"
if [ ${#failed[@]} -gt 0 ]; then
  echo "console tests failed: ${failed[*]}" >&2
  exit 1
fi
echo "console tests: all three runs passed"
