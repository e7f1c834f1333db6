#!/usr/bin/env bash
# System packages: GStreamer 1.22 with headers, plugins and the RTSP server library; libavcodec headers for the
# addon's own decoder (vigildec, native/analysis_decoder.cc); x264 and ffmpeg for test media and the comparison
# benchmark; flatc; python3-onnx/numpy for the model converter; jemalloc, for the allocator statistics' test and
# allocation-site attribution of soak runs (bench/soak.ts --jemalloc-profile). Installs only what is missing.
set -euo pipefail
pkgs=(pkg-config cmake g++ make python3
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev libavcodec-dev libavutil-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp
  ffmpeg flatbuffers-compiler python3-onnx python3-numpy libjemalloc2
  ${VIGIL_EXTRA_APT:-})
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "system packages present"; exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
