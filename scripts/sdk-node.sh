#!/usr/bin/env bash
# Builds and tests the Node SDK (sdks/node: npm ci, build and node --test against real
# `lictor run --demo` processes, typecheck), then smoke-tests the Express example (examples/todo-express) against
# a lictor of its own: one allowed and one denied route, a todo's owner written to the directory.
# Expects target/debug/lictor (or $LICTOR_BIN) to be built already; installs node, npm and curl from
# Debian's packages when missing (node 20 or later is needed).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

script=sdk-node
# shellcheck source=scripts/lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"
require_lictor
need_node
need_command curl
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "sdk-node: node $(node --version) is too old: @lictor/node needs Node.js 20 or later" >&2
  exit 2
fi

echo "== sdks/node: npm ci"
(cd sdks/node && npm ci --no-audit --no-fund --loglevel=error)
echo "== sdks/node: build (npm test's pretest) and node --test"
(cd sdks/node && npm test --silent)
# After the build: the CommonJS typings test resolves the package's own dist/.
echo "== sdks/node: typecheck"
(cd sdks/node && npm run --silent typecheck)

echo "== examples/todo-express: npm ci"
(cd examples/todo-express && npm ci --no-audit --no-fund --loglevel=error)

echo "== examples/todo-express: smoke test"
work="$(mktemp -d)"
lictor_pid=""
app_pid=""
cleanup() {
  for pid in "$app_pid" "$lictor_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits up to 30 s for a line matching $2 in file $1; prints the file and fails otherwise.
wait_for() {
  local file="$1" pattern="$2" i
  for ((i = 0; i < 300; i++)); do
    if grep -qE "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "sdk-node: no line matching '$pattern' in $file within 30 s:" >&2
  cat "$file" "${file%.out}.err" >&2 || true
  return 1
}

cat >"$work/lictor.yaml" <<EOF
data_dir: $work/data
listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0}
console: {port: 0}
EOF
"$LICTOR_BIN" run --demo --config "$work/lictor.yaml" >"$work/lictor.out" 2>"$work/lictor.err" &
lictor_pid=$!
wait_for "$work/lictor.out" '^ready$'
lictor_url="http://$(awk '$1 == "listening" && $2 == "authorizer-rest" { print $3 }' "$work/lictor.out")"

(cd examples/todo-express && LICTOR_URL="$lictor_url" PORT=0 exec node src/server.js) >"$work/app.out" 2>"$work/app.err" &
app_pid=$!
wait_for "$work/app.out" 'listening on http://'
app_url="$(grep -oE 'http://[0-9.]+:[0-9]+' "$work/app.out" | head -n 1)"

token() { (cd examples/todo-express && node src/token.js "$1"); }
rick="$(token rick@the-citadel.com)"
beth="$(token beth@the-smiths.com)"

# expect STATUS METHOD URL [TOKEN [JSON BODY]]: the response body is left in $work/body.
expect() {
  local status="$1" method="$2" url="$3" bearer="${4:-}" body="${5:-}" got
  local args=(-sS -o "$work/body" -w '%{http_code}' -X "$method")
  if [ -n "$bearer" ]; then args+=(-H "authorization: Bearer $bearer"); fi
  if [ -n "$body" ]; then args+=(-H 'content-type: application/json' --data "$body"); fi
  got="$(curl "${args[@]}" "$url")"
  if [ "$got" != "$status" ]; then
    echo "sdk-node: smoke: $method $url answered $got, expected $status: $(cat "$work/body")" >&2
    return 1
  fi
  echo "ok  $status $method ${url#"$app_url"}"
}

expect 200 GET "$app_url/todos" "$beth"
expect 403 POST "$app_url/todos" "$beth" '{"title":"denied"}'
expect 401 GET "$app_url/todos"
expect 201 POST "$app_url/todos" "$rick" '{"title":"smoke test"}'
id="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).id' "$work/body")"
# The new todo is resource:<id>, owned by its creator, in Lictor's directory.
expect 200 GET "$lictor_url/api/v3/directory/relation?object_type=resource&object_id=$id&relation=owner&subject_type=user&subject_id=rick@the-citadel.com"
expect 403 DELETE "$app_url/todos/$id" "$beth"
expect 200 DELETE "$app_url/todos/$id" "$rick"
echo "sdk-node: all passed"
