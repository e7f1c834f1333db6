#!/usr/bin/env bash
# npm packages and the addon (package.json's install script builds it with cmake-js).
set -euo pipefail
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
