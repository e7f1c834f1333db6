#!/usr/bin/env bash
# Integrations (issue 6): the VMS tests make a throw-away self-signed certificate with the openssl CLI.
# The brokers the queue tests use (Redis, RabbitMQ, Mosquitto) are started by the machine itself; Kafka, MinIO and
# the VMS products are simulated in the tests. Installs only what is missing.
set -euo pipefail
pkgs=(openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "integrations: system packages present"; exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
