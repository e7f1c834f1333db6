#!/usr/bin/env bash
# npm packages (from the lock file) and the addon. `npm ci` runs package.json's install script, which builds the
# addon with cmake-js; when the packages are already in place only the (incremental) addon build runs.
set -euo pipefail
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "npm packages present"
  npm run --silent build:addon
fi
