#!/usr/bin/env bash
# libavcodec headers for the addon: vigildec (native/analysis_decoder.cc) decodes H.264/H.265 for analysis with
# libavcodec directly, so that it can skip the in-loop deblocking filter (`decodeDeblock: false`), which
# GStreamer's avdec_h264 does not expose (issue 16). Before 10-npm.sh, which builds the addon.
set -euo pipefail
pkgs=(libavcodec-dev libavutil-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "libavcodec headers present"; exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
