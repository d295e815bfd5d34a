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
# Topaz's conformance data sits beside the repository. Without it the suites that read it skip themselves
# and everything else runs; under CI (CI=true) it is required and those suites fail without it.
if [ ! -d ../shared/conformance/topaz ]; then
  if [ "${CI:-}" = true ]; then
    echo "conformance data not found at ../shared/conformance/topaz (the shared folder sits beside the repository): required under CI" >&2
    exit 2
  fi
  echo "== conformance data not found at ../shared/conformance/topaz: skipping these suites, running everything else:" >&2
  echo "   lictor-model     tests::parses_every_conformance_manifest, tests::slack_block_scalar_positions" >&2
  echo "   lictor-store     jsonl::tests::the_topaz_conformance_files_read_completely" >&2
  echo "   lictor-store     tests/conformance.rs every_topaz_data_set_loads_and_passes_its_assertions" >&2
  echo "   lictor-policy    tests/conformance.rs every_topaz_decision_passes_through_rebac_check" >&2
  echo "   lictor-store     jsonl::tests::the_topaz_conformance_files_read_the_same_in_camel_case" >&2
  echo "   lictor (cli)     tests/server.rs topaz_assertions_decisions_and_authzen_evaluations_pass_over_rest" >&2
  echo "   lictor (cli)     tests/server.rs topaz_data_assertions_and_decisions_pass_in_camel_case_over_rest" >&2
  echo "   lictor (cli)     tests/server.rs every_topaz_data_file_imports_the_same_in_camel_case" >&2
fi

# Each stage prints the seconds spent so far, so a slow stage shows in the log.
started_at=$(date +%s)
stage() { echo "== $1 (at $(($(date +%s) - started_at)) s)"; }
trap 'echo "== test command finished after $(($(date +%s) - started_at)) s"' EXIT

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
stage "PostgreSQL for the store and replica tests"
./scripts/postgres.sh
stage "the OCI registry and skopeo for the policy image tests"
./scripts/registry-tools.sh
stage "OpenLDAP for the LDAP loader tests"
./scripts/ldap-tools.sh
stage "cargo test"
cargo test --workspace --locked
# Aserto's own Node and Python clients against the binary the tests just built.
stage "compatibility with Aserto's client libraries"
./scripts/compat.sh
stage "Cerbos conformance (Cerbos's REST API against decisions from Cerbos's own test data)"
./scripts/cerbos-conformance.sh
stage "Cerbos's own client libraries and the Cerbos Express example against lictor run --cerbos-config"
./scripts/cerbos-clients.sh lictor
stage "differential test against the real Cerbos PDP (generated stores and requests)"
./scripts/cerbos-diff.sh
stage "the REST API against its OpenAPI document (schemathesis)" && ./scripts/schemathesis.sh
stage "the web console in headless Chromium (Playwright, axe-core): plain HTTP, TLS, API keys"
./scripts/console-tests.sh
stage "SCIM 2.0 (scim2-tester, scim-sanity, a scim2-client provisioning run)"
./scripts/scim-tests.sh
stage "Node SDK (sdks/node) and the Express example"
./scripts/sdk-node.sh
stage "Python SDK (sdks/python) and the Flask example"
./scripts/sdk-python.sh
stage "side-by-side benchmarks, quick mode (harness and agreement with the peers)"
PEERS_BUILD=test bench/peers/run.sh --quick
