#!/usr/bin/env bash
# OpenLDAP server and client tools for the LDAP login test (test/integration/ldap-*.test.ts starts its own slapd on
# loopback with a temporary tree; nothing here configures or starts the system service).
set -euo pipefail
pkgs=(slapd ldap-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "slapd and ldap-utils present"; exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
# slapd's debconf questions get their defaults; the system service is not used by Vigil's tests
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
