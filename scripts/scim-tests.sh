#!/usr/bin/env bash
# Tests the SCIM 2.0 service provider (/scim/v2 on the directory REST port) of `lictor run --demo`,
# started on free 127.0.0.1 ports with a temporary data directory:
#   1. tests/scim/conformance.py: scim2-tester (discovery, CRUD, attribute selection and PATCH
#      add/remove/replace of every published attribute) and, when it installs, the scim-sanity probe.
#      Fails on any failed check that tests/scim/known-failures.txt does not list.
#   2. tests/scim/provision.py: an identity provider's provisioning run through scim2-client, checking
#      the directory through Lictor's REST API after each step, an Is with a JWT naming a SCIM user,
#      and that relations the application wrote itself survive the SCIM user's changes and deletion.
#
#   LICTOR_BIN  server binary (default target/debug/lictor; build it first)
#   SCIM_VENV   a virtualenv to reuse (created and filled when missing); default: a temporary one
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

script=scim-tests
# shellcheck source=scripts/lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"
require_lictor
case "$LICTOR_BIN" in /*) ;; *) LICTOR_BIN="$root/$LICTOR_BIN" ;; esac
need_python_venv

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

venv="${SCIM_VENV:-$work/venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
echo "== $("$py" --version): pip install -r tests/scim/requirements.txt"
"$py" -m pip install --quiet --disable-pip-version-check -r tests/scim/requirements.txt
sanity=(--scim-sanity)
if ! "$py" -m pip install --quiet --disable-pip-version-check -r tests/scim/requirements-sanity.txt; then
  echo "== scim-sanity did not install: running without it"
  sanity=()
fi

scim_token=scim-token-0123456789abcdef
admin_key=admin-key-0123456789abcdef
jwt_issuer=https://idp.example/
jwt_secret=scim-tests-hs256-secret-0123456789abcdef

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
tls:
  enabled: false
api_keys:
  - key: $scim_token
    scopes: [scim]
  - key: $admin_key
    scopes: [read, write, admin]
jwt:
  issuers:
    - issuer: $jwt_issuer
      keys:
        - algorithm: HS256
          secret: $jwt_secret
EOF
echo "== starting $LICTOR_BIN run --demo"
start_demo_server "$work/lictor.yaml" "$work"
base="http://$address/scim/v2"

failed=()
echo "== conformance checkers against $base"
if ! "$py" tests/scim/conformance.py --base-url "$base" --token "$scim_token" \
  --known-failures tests/scim/known-failures.txt "${sanity[@]}"; then
  failed+=("conformance checkers (scim2-tester, scim-sanity)")
fi
echo "== provisioning scenario against $base"
if ! "$py" tests/scim/provision.py --address "$address" --scim-token "$scim_token" --admin-key "$admin_key" \
  --jwt-issuer "$jwt_issuer" --jwt-secret "$jwt_secret"; then
  failed+=("provisioning scenario (tests/scim/provision.py)")
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
  failed+=("lictor exited during the run")
fi
if [ "${#failed[@]}" -gt 0 ]; then
  for what in "${failed[@]}"; do
    echo "$script: FAILED: $what" >&2
  done
  echo "$script: the server's last log lines:" >&2
  tail -n 40 "$work/stderr.log" >&2
  exit 1
fi
echo "$script: all SCIM checks passed"
