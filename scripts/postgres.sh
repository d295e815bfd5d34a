#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the store and replica tests, with trust
# authentication for local TCP connections and a database `test`: installs Debian's postgresql package
# when its binaries are absent, and starts the cluster when it is not running.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
script="postgres.sh"
# shellcheck source=lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "== installing postgresql"
  apt_install postgresql postgresql-client
fi
if ! ready; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
    conf="/etc/postgresql/$version/main"
    if [ -f "$conf/pg_hba.conf" ] && ! grep -q "^host all all 127.0.0.1/32 trust" "$conf/pg_hba.conf"; then
      $sudo sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"
    fi
    $sudo pg_ctlcluster "$version" main start || true
  fi
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
if ! ready; then
  echo "$script: PostgreSQL does not answer on 127.0.0.1:5432" >&2
  exit 2
fi
if ! psql -h 127.0.0.1 -U postgres -d test -qc 'SELECT 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test' >/dev/null
fi
echo "== PostgreSQL ready on 127.0.0.1:5432"
