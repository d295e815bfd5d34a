#!/usr/bin/env bash
# Differential test of Lictor's Cerbos API against the real Cerbos PDP 0.51 (tests/cerbos-diff): generated policy
# stores and requests, the same CheckResources sent to both, PlanResources checked against CheckResources.
#   scripts/cerbos-diff.sh [--seeds N] [--first-seed S] [--requests R] [--plans P] [--against lictor|cerbos] [--notes]
# --against cerbos runs a second Cerbos as the candidate, which checks the test itself (must report 0 failed).
# The quick default, 10 seeds x 30 requests, runs in well under 2 minutes. Expects target/debug/lictor (or
# $LICTOR_BIN) to be built for --against lictor; installs the Cerbos PDP with npm ci (tests/cerbos-pdp), and
# Node/npm or Python from Debian's packages when missing. The generator and the driver use Python's standard
# library only.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

against=lictor
pass_through=()
while [ $# -gt 0 ]; do
  case "$1" in
    --against)
      against="${2:-}"
      shift 2
      ;;
    --against=*)
      against="${1#--against=}"
      shift
      ;;
    --seeds | --first-seed | --requests | --plans | --shown)
      pass_through+=("$1" "${2:-}")
      shift 2
      ;;
    --notes)
      pass_through+=("$1")
      shift
      ;;
    *)
      echo "usage: scripts/cerbos-diff.sh [--seeds N] [--first-seed S] [--requests R] [--plans P] [--against lictor|cerbos] [--notes]" >&2
      exit 2
      ;;
  esac
done
case "$against" in
  lictor | cerbos) ;;
  *)
    echo "cerbos-diff: --against takes lictor or cerbos, not '$against'" >&2
    exit 2
    ;;
esac

script=cerbos-diff
# shellcheck source=scripts/lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"
if [ "$against" = lictor ]; then
  require_lictor
fi
need_node
need_command python3

echo "== npm ci (tests/cerbos-pdp)"
(cd tests/cerbos-pdp && npm ci --no-audit --no-fund --loglevel=error)
cerbos_bin="$(cd tests/cerbos-pdp && node -p 'require.resolve("@cerbos/cerbos-" + process.platform + "-" + process.arch)')"

candidate=()
if [ "$against" = lictor ]; then
  candidate=(--lictor "$LICTOR_BIN")
fi
echo "== tests/cerbos-diff: Cerbos against $against"
exec python3 tests/cerbos-diff/diff.py --cerbos "$cerbos_bin" "${candidate[@]}" "${pass_through[@]}"
