#!/usr/bin/env bash
# Scale-out benchmark (bench/scale_out.py): replicas on one PostgreSQL database, against an embedded
# server: import rate, start-up load, single writes, write-to-visible latency with and without a
# consistency token, and check throughput. Not part of the test command (a 1M-relation run takes minutes).
#
#   bench/scale-out.sh                              # release build, 1M relations
#   BUILD=test bench/scale-out.sh --relations 100000  # the test suite's binaries, a quick look
#
# Needs PostgreSQL (scripts/postgres.sh starts or installs it) and psql; LICTOR_BENCH_POSTGRES names an
# admin connection (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/postgres.sh >/dev/null
if [ "${BUILD:-release}" = test ]; then
  # The binaries the test suite builds.
  cargo test --workspace --locked --quiet --no-run
  out=debug
else
  cargo build --release --locked --quiet -p lictor -p lictor-load
  out=release
fi
export LICTOR_BIN="$PWD/target/$out/lictor" LOAD_BIN="$PWD/target/$out/lictor-load"
exec python3 bench/scale_out.py "$@"
