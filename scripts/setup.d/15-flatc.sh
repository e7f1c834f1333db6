#!/usr/bin/env bash
# Generates the TypeScript for the event stream's FlatBuffers schema (schemas/flatbuffers/*.fbs) with Debian's flatc
# into src/stream/generated/ (git-ignored; generated code is never edited). Re-generates only when a schema is newer
# than the generated output. flatc 2.0.8 writes extensionless relative imports, which Node's ESM resolution refuses;
# a package.json {"type":"commonjs"} in the output folder makes that folder CommonJS, where they resolve as written.
set -euo pipefail
cd "${VIGIL_ROOT:-$(dirname "$0")/../..}"
command -v flatc >/dev/null || { echo "flatc missing: install the Debian package flatbuffers-compiler (scripts/setup.d/00-apt.sh)" >&2; exit 1; }
out=src/stream/generated
stamp="$out/.stamp"
if [ -f "$stamp" ] && [ -z "$(find schemas/flatbuffers -name '*.fbs' -newer "$stamp")" ]; then
  echo "flatbuffers TypeScript up to date"; exit 0
fi
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
flatc --ts --gen-all -o "$out.tmp" schemas/flatbuffers/message.fbs
printf '{\n  "type": "commonjs"\n}\n' > "$out.tmp/package.json"
touch "$out.tmp/.stamp"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "generated $(find "$out" -name '*.ts' | wc -l) TypeScript files into $out ($(flatc --version))"
