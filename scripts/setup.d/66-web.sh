#!/usr/bin/env bash
# The web console (web/, Preact + Vite): builds web/dist, which Vigil serves at / (src/console/static.ts). Rebuilds
# only when a source under web/ (or the generated FlatBuffers code it imports) is newer than the build. Also
# installs Debian's chromium for the browser tests (test/browser/, driven by the playwright-core npm package,
# which 10-npm.sh installed from package.json).
set -euo pipefail
cd "${VIGIL_ROOT:-$(dirname "$0")/../..}"
if ! command -v chromium >/dev/null; then
  echo "installing: chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
else
  echo "chromium present ($(chromium --version 2>/dev/null | head -1))"
fi
stamp=web/dist/index.html
if [ -f "$stamp" ] && [ -z "$(find web/src web/index.html web/vite.config.ts web/public src/stream/generated -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "web console build up to date"; exit 0
fi
npx --no-install vite build web --logLevel warn
echo "built web/dist ($(gzip -c web/dist/assets/*.js | wc -c) bytes of JavaScript gzipped)"
