#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, and the whole test suite.
# Needs a Rust toolchain; installs the missing rustfmt/clippy components, and Node/Python packages
# for the client compatibility tests, itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from rustup first" >&2
  exit 2
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
if [ ! -d ../shared/conformance/topaz ]; then
  echo "conformance data not found at ../shared/conformance/topaz (the shared folder sits beside the repository)" >&2
  exit 2
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
# Aserto's own Node and Python clients against the binary the tests just built.
echo "== compatibility with Aserto's client libraries"
./scripts/compat.sh
echo "== Node SDK (sdks/node) and the Express example"
./scripts/sdk-node.sh
echo "== Python SDK (sdks/python) and the Flask example"
./scripts/sdk-python.sh
./scripts/fuzz-smoke.sh
echo "== side-by-side benchmarks, quick mode (harness and agreement with the peers)"
PEERS_BUILD=test bench/peers/run.sh --quick
