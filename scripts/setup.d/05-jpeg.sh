#!/usr/bin/env bash
# libjpeg-turbo headers for the addon: decodeJpeg (native/jpeg_decode.cc) calls libjpeg directly, with scan and
# time limits, instead of a GStreamer jpegdec pipeline (issue 17). Before 10-npm.sh, which builds the addon.
set -euo pipefail
pkgs=(libjpeg62-turbo-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "libjpeg-turbo headers present"; exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
