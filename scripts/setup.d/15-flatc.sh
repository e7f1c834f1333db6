#!/usr/bin/env bash
# Generates the TypeScript for the event stream's FlatBuffers schema (schemas/flatbuffers/*.fbs) with Debian's flatc
# into src/stream/generated/message_generated.ts (git-ignored; generated code is never edited). Re-generates only
# when a schema is newer than the output. --ts-flat-files gives one self-contained ES module (flatc 2.0.8's
# multi-file output uses extensionless relative imports, which Node's ESM resolution refuses); its names carry the
# schema namespace: vigil_wire_Message, vigil_wire_DetectionBatch, ...
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
flatc --ts --ts-flat-files --gen-all -o "$out.tmp" schemas/flatbuffers/message.fbs
touch "$out.tmp/.stamp"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "generated $(find "$out" -name '*.ts' | wc -l) TypeScript files into $out ($(flatc --version))"
