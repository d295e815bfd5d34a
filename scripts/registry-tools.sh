#!/usr/bin/env bash
# Makes sure the tools the policy image tests drive are installed: Debian's `docker-registry` (the CNCF
# distribution registry, which the tests start on loopback ports) and `skopeo` (an independent OCI
# client). Installs the missing ones with apt-get.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
script="registry-tools.sh"
# shellcheck source=lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt_install "${missing[@]}"
fi
# The package's service is not what the tests use: they start their own registries.
echo "== $(docker-registry --version 2>/dev/null | head -1), $(skopeo --version)"
