#!/usr/bin/env bash
# Deployment and Frigate-style MQTT (issue 15): the deploy tests run Debian's nginx (as the test user, on loopback,
# with a config made from deploy/nginx/vigil.conf) in front of `vigil serve`, and check the systemd unit with
# systemd-analyze; the Frigate MQTT test uses Mosquitto (a running broker on 127.0.0.1:1883, or one it starts).
# The packages' own services are not started here: policy-rc.d refuses service starts during the install when
# none is in place already.
set -euo pipefail
pkgs=(nginx mosquitto systemd openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "deploy: system packages present"; exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  made_policy=1
fi
cleanup() { if [ "$made_policy" -eq 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
