#!/usr/bin/env bash
# The native test suite under AddressSanitizer + LeakSanitizer (issue 17; a script, not CI). Builds the addon with
# -fsanitize=address (g++, the addon's own compiler) into .cache/build-asan, then runs test/native (or the test
# files given) with that build (VIGIL_ADDON_PATH) and libasan preloaded into node, since node itself is not
# instrumented. Every process writes its report to .cache/asan/log.<pid>; at the end the script lists the memory
# errors and the leaks whose allocation stack passes through the addon (node, V8 and GStreamer keep memory until
# exit by design and are not counted). Exit status 1 when the addon has an error or a leak.
#
#   bash scripts/asan.sh                      build, run test/native/*.test.ts, summarise
#   bash scripts/asan.sh test/native/x.test.ts
#   ASAN_SKIP_BUILD=1 bash scripts/asan.sh    reuse the build
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD="$ROOT/.cache/build-asan"
LOGS="$ROOT/.cache/asan"
if [ "${ASAN_SKIP_BUILD:-0}" != "1" ]; then
  echo "[asan] building the addon into $BUILD"
  nice -n 19 npx --no-install cmake-js compile --out "$BUILD" \
    --CDCMAKE_CXX_FLAGS="-fsanitize=address -fno-omit-frame-pointer -g" \
    --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address" >"$ROOT/.cache/asan-build.log" 2>&1 ||
    { tail -30 "$ROOT/.cache/asan-build.log"; exit 2; }
fi
ADDON="$BUILD/Release/vigil.node"
[ -f "$ADDON" ] || { echo "[asan] no $ADDON" >&2; exit 2; }
LIBASAN="$(gcc -print-file-name=libasan.so)"
rm -rf "$LOGS" && mkdir -p "$LOGS"
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(ls test/native/*.test.ts); fi
echo "[asan] running ${#files[@]} test files with $LIBASAN preloaded"
set +e
# alloc_dealloc_mismatch=0: V8 and node mix allocators in ways ASan flags without it being a defect of Vigil.
# fast_unwind_on_malloc=0: full allocation stacks, so leaks through GLib are attributed to the addon's call.
LD_PRELOAD="$LIBASAN" VIGIL_ADDON_PATH="$ADDON" \
  ASAN_OPTIONS="detect_leaks=1:log_path=$LOGS/log:alloc_dealloc_mismatch=0:detect_odr_violation=0:fast_unwind_on_malloc=0:malloc_context_size=40" \
  nice -n 19 node --import tsx --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec "${files[@]}" \
  >"$LOGS/tests.out" 2>&1
status=$?
set -e
grep -E "^ℹ (tests|pass|fail)" "$LOGS/tests.out" || true
echo "[asan] test run exit status $status (log: $LOGS/tests.out)"
# Summary: memory errors anywhere in a process that loaded the addon, and leak records whose stack names the addon.
node - "$LOGS" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
let errors = 0, leaks = 0, leakBytes = 0, otherLeaks = 0, processes = 0;
for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('log.'))) {
  processes++;
  const text = fs.readFileSync(`${dir}/${f}`, 'utf8');
  for (const m of text.matchAll(/^==\d+==ERROR: AddressSanitizer: (.*)$/gm)) {
    errors++;
    console.log(`[asan] ${f}: ${m[1]}`);
    console.log(text.slice(m.index, m.index + 3000));
  }
  for (const rec of text.split(/\n(?=(?:Direct|Indirect) leak of )/).slice(1)) {
    const m = /^(Direct|Indirect) leak of (\d+) byte/.exec(rec);
    if (!m) continue;
    const stack = rec.split('\n\n')[0];
    // A V8 garbage collection that happens to run inside an addon call allocates V8's own page metadata (kept
    // until the isolate is torn down, which node does not do at exit): V8's memory, not the addon's.
    if (/vigil\.node|native\/[a-z_]+\.(cc|h):/.test(stack) && !/v8::internal::(Heap|MemoryAllocator)::/.test(stack)) {
      leaks++;
      leakBytes += Number(m[2]);
      console.log(`[asan] ${f}: addon leak\n${stack}\n`);
    } else otherLeaks++;
  }
}
console.log(`[asan] ${processes} process reports: ${errors} memory errors, ${leaks} addon leak records (${leakBytes} bytes), ${otherLeaks} leak records outside the addon (node/V8/GLib, not counted)`);
process.exitCode = errors + leaks > 0 ? 1 : 0;
JS
