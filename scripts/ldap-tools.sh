#!/usr/bin/env bash
# Makes sure the tools the LDAP loader tests drive are installed: Debian's `slapd` (OpenLDAP, which the
# tests start on a loopback port with a configuration of their own) and `ldap-utils` (ldapmodify).
# Installs the missing ones with apt-get.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
script="ldap-tools.sh"
# shellcheck source=lib/prerequisites.sh
. "$root/scripts/lib/prerequisites.sh"

missing=()
[ -x /usr/sbin/slapd ] || missing+=(slapd)
command -v ldapmodify >/dev/null 2>&1 || missing+=(ldap-utils)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt_install "${missing[@]}"
fi
echo "== $(/usr/sbin/slapd -VV 2>&1 | head -1 | sed 's/^@(#) \$//')"
