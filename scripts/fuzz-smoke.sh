#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a short while (FUZZ_SECONDS, default 14) from its committed corpus
# and fails on any crash, panic, timeout or out-of-memory. Not part of the test command, which replays the
# committed corpora on stable instead (fuzz/tests/corpus.rs): the nightly build alone takes about 11
# minutes. Needs rustup: installs the nightly toolchain and cargo-fuzz when missing; skips, saying why,
# only when nightly cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-14}"
# A fixed seed makes the smoke run repeatable: a failure here is a regression, found again by the next
# run; long runs (docs/fuzzing.md) use random seeds to find new crashes. FUZZ_SEED=0 draws one.
seed="${FUZZ_SEED:-20261130}"
targets=(manifest import rest_body rego_input jwt cerbos_policy cerbos_check)

if ! command -v rustup >/dev/null 2>&1; then
  echo "fuzz smoke run skipped: rustup is not installed, and cargo fuzz needs a nightly toolchain" >&2
  exit 0
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  if ! rustup toolchain install nightly --profile minimal; then
    echo "fuzz smoke run skipped: the nightly toolchain could not be installed" >&2
    exit 0
  fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

# The nightly builds go to their own target directory, apart from the stable builds.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
started=$(date +%s)
echo "== building the fuzz targets (nightly)"
(cd fuzz && cargo +nightly fuzz build --sanitizer none --features libfuzzer)
built=$(date +%s)

# New inputs go to a scratch corpus, so the committed seeds stay as they are.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  echo "== fuzzing $target for ${seconds}s"
  mkdir -p "$scratch/corpus/$target" "$scratch/artifacts/$target"
  log="$scratch/$target.log"
  if ! (cd fuzz && cargo +nightly fuzz run --sanitizer none --features libfuzzer "$target" \
    "$scratch/corpus/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -seed="$seed" -timeout=30 -rss_limit_mb=2048 \
    -artifact_prefix="$scratch/artifacts/$target/" -print_final_stats=1) >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    for artifact in "$scratch/artifacts/$target"/*; do
      [ -e "$artifact" ] || continue
      mkdir -p fuzz/artifacts/"$target"
      cp "$artifact" fuzz/artifacts/"$target"/
      echo "failing input kept in fuzz/artifacts/$target/$(basename "$artifact")" >&2
    done
    echo "fuzz target $target failed" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/$target: /" || true
done
echo "fuzz smoke run passed: build $((built - started))s, total $(($(date +%s) - started))s"
