#!/usr/bin/env bash
# Runs every test file under test/ (or the files given) with node:test, TypeScript loaded through tsx.
# Node 20's --test does not expand globs or find .ts files by itself, so the list is built here.
set -euo pipefail
# A test that hangs fails after 5 minutes instead of holding the whole run.
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec "${files[@]}"
