#!/usr/bin/env bash
# Coverage-guided fuzzing of the addon's native inputs with libFuzzer (issue 17). Not part of CI or of the addon
# build: the targets in native/fuzz/*.cc are built with clang (scripts/setup.d/70-fuzz.sh installs it) into
# .cache/fuzz, with ASan + UBSan, against the addon's own sources (addon.cc, the module registration, left out;
# N-API entry points are stubs that abort, since no target calls them).
#
#   scripts/fuzz.sh build                      build every target
#   scripts/fuzz.sh run TARGET [SECONDS] [-- libFuzzer args]   fuzz one target (default 60 s) from its seeds
#   scripts/fuzz.sh all [SECONDS]              every target in turn (default 60 s each)
#   scripts/fuzz.sh long TARGET [RUNS]         the long run: RUNS inputs (default 1000000, -runs=) at nice 5, log in
#                                              .cache/fuzz/logs/TARGET-RUNS.log (its last lines: the count and stats)
#   scripts/fuzz.sh seeds                      replay the committed seeds only (a quick regression check)
#   scripts/fuzz.sh js [RUNS] [FILES...]       the JS property tests (test/fuzz/*.test.ts) with RUNS inputs per
#                                              target (default 1000000) instead of CI's few thousand, at nice 19 (FUZZ_NICE=N to change;
#                                              FUZZ_PATTERN=REGEX runs only the tests whose names match)
#
# Seeds: native/fuzz/corpus/<target>/ (committed, small). New corpus entries go to .cache/fuzz/corpus/<target>/,
# crashes to .cache/fuzz/crashes/<target>/. Runs at nice 19: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/.cache/fuzz"
CXX="${FUZZ_CXX:-clang++-14}"
TARGETS=(fuzz_decoders fuzz_preprocess fuzz_motion fuzz_jpeg fuzz_snapshot)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# Full malloc stacks (GLib is built without frame pointers): the LSan suppression of load-time allocations matches
# only on the whole stack.
export ASAN_OPTIONS="${ASAN_OPTIONS:-fast_unwind_on_malloc=0:malloc_context_size=30}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/native/fuzz/lsan.supp}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

need_clang() {
  command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found; run bash scripts/setup.d/70-fuzz.sh" >&2; exit 2; }
}

build() {
  need_clang
  mkdir -p "$OUT/obj"
  local napi gst flags
  napi="$(node -p "require('node-addon-api').include_dir")"
  gst="$(pkg-config --cflags gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 libjpeg libavcodec libavutil)"
  flags="-std=c++17 -g -O1 $SAN -I/usr/include/node -I$ROOT/$napi $gst -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED"
  local objs=()
  for src in native/*.cc; do
    local name; name="$(basename "$src" .cc)"
    [ "$name" = addon ] && continue
    local obj="$OUT/obj/$name.o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ native/"$name".h -nt "$obj" ]; then
      echo "[fuzz] cc $src"
      nice -n 19 "$CXX" $flags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    objs+=("$obj")
  done
  # The N-API functions the sources reference, as stubs: the targets call the pure C++ code only.
  nm -u "${objs[@]}" | awk '$1 == "U" && ($2 ~ /^napi_/ || $2 ~ /^node_api_/) {print $2}' | sort -u |
    sed 's/.*/extern "C" void &() { abort(); }/' | (echo '#include <cstdlib>'; cat) > "$OUT/napi_stubs.cc"
  nice -n 19 "$CXX" -O1 -c "$OUT/napi_stubs.cc" -o "$OUT/obj/napi_stubs.o"
  local libs; libs="$(pkg-config --libs gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 libjpeg libavcodec libavutil)"
  for t in "${TARGETS[@]}"; do
    local link=()
    for o in "${objs[@]}"; do
      # Targets that #include a source (to reach its file-local helpers, e.g. snapshot.cc's MakeBuffer) must not
      # link its object again.
      if grep -q "#include \"../$(basename "$o" .o).cc\"" "native/fuzz/$t.cc"; then continue; fi
      link+=("$o")
    done
    echo "[fuzz] link $t"
    nice -n 19 "$CXX" $flags -fsanitize=fuzzer "native/fuzz/$t.cc" "${link[@]}" "$OUT/obj/napi_stubs.o" $libs -o "$OUT/$t"
  done
}

run() {
  local t="$1" secs="${2:-60}"; shift 2 || shift $#
  [ "${1:-}" = "--" ] && shift
  [ -x "$OUT/$t" ] || build
  mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "native/fuzz/corpus/$t"
  echo "[fuzz] $t for ${secs}s"
  # ASan's leak check at exit stays on: a leak in a target's one run is reported like a crash.
  (cd "$OUT/crashes/$t" && nice -n 19 "$OUT/$t" -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 "$@" "$OUT/corpus/$t" "$ROOT/native/fuzz/corpus/$t")
}

# -runs= counts the inputs executed (seeds included); no time limit. Runs below the machine's interactive work but
# above nice 19 background builds.
long() {
  local t="$1" runs="${2:-1000000}"
  [ -x "$OUT/$t" ] || build
  mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "$OUT/logs" "native/fuzz/corpus/$t"
  local log="$OUT/logs/$t-$runs.log"
  echo "[fuzz] $t: $runs inputs, log $log"
  (cd "$OUT/crashes/$t" && nice -n 5 "$OUT/$t" -runs="$runs" -timeout=20 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 "$OUT/corpus/$t" "$ROOT/native/fuzz/corpus/$t") > "$log" 2>&1
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  long) shift; long "$@" ;;
  all) build; for t in "${TARGETS[@]}"; do run "$t" "${2:-60}"; done ;;
  js)
    shift
    runs="${1:-1000000}"; shift || true
    if [ "$#" -gt 0 ]; then files=("$@"); else files=(test/fuzz/control.test.ts test/fuzz/wire.test.ts test/fuzz/query.test.ts test/fuzz/rules.test.ts test/fuzz/config.test.ts test/fuzz/api.test.ts test/fuzz/rest-inprocess.test.ts); fi
    VIGIL_FUZZ_RUNS="$runs" nice -n "${FUZZ_NICE:-19}" node --import tsx --test --test-concurrency=1 --test-timeout=0 --test-reporter=spec \
      ${FUZZ_PATTERN:+"--test-name-pattern=$FUZZ_PATTERN"} "${files[@]}" ;;
  seeds) build; for t in "${TARGETS[@]}"; do (cd "$OUT" && "$OUT/$t" -runs=0 "$ROOT/native/fuzz/corpus/$t"); done ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
