#!/usr/bin/env bash
# The same addon sources built with node-gyp (binding.gyp), into .cache/build-gyp, so both build files stay in
# step; test/native/addon-gyp.test.ts loads this build and runs the tensor checks against it.
set -euo pipefail
out="$PWD/.cache/build-gyp"
mkdir -p "$out"
cp -r binding.gyp native "$out/"
ln -sfn "$PWD/node_modules" "$out/node_modules"
(cd "$out" && npx --no-install node-gyp rebuild --nodedir=/usr -j 2 >/dev/null)
ls -la "$out/build/Release/vigil.node"
