#!/usr/bin/env bash
# Fuzzing tools, used only by scripts/fuzz.sh (libFuzzer targets in native/fuzz/, built apart from the addon; the
# addon itself keeps building with g++): Debian's clang 14 with its compiler-rt (libFuzzer, ASan and UBSan
# runtimes, FuzzedDataProvider.h). The JS property tests need nothing here (fast-check is an npm dev dependency).
# Skip with VIGIL_SETUP_FUZZ=0. Installs only what is missing.
set -euo pipefail
if [ "${VIGIL_SETUP_FUZZ:-1}" = "0" ]; then echo "fuzz tools skipped (VIGIL_SETUP_FUZZ=0)"; exit 0; fi
pkgs=(clang-14 libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "fuzz tools present"; exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
