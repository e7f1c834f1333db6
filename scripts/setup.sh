#!/usr/bin/env bash
# One set-up for a fresh Debian 12 + Node 20 machine, idempotent: every step checks before it works.
# Runs scripts/setup.d/*.sh in name order; each step owns one concern (system packages, npm + addon, media, models...).
set -euo pipefail
cd "$(dirname "$0")/.."
export VIGIL_ROOT="$PWD"
for step in scripts/setup.d/*.sh; do
  echo "[setup] ${step##*/}"
  bash "$step"
done
echo "[setup] done"
