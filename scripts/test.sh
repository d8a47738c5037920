#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need, builds, runs ava, prints "N passed, M failed".
# Extra arguments go to ava (e.g. a file glob: npm test -- 'dist/core/**/*.test.js').
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
npm run --silent build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
npm run --silent build:native || { echo "the native addons did not build (native, bench/native)"; echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
npx ava --tap "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
pass=$(awk '/^# pass /{print $3}' "$log" | tail -1)
fail=$(awk '/^# fail /{print $3}' "$log" | tail -1)
skip=$(awk '/^# skip /{print $3}' "$log" | tail -1)
rm -f "$log"
if [ -z "$pass$fail" ]; then pass=0; fail=1; fi
pass=${pass:-0}; fail=${fail:-0}
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
if [ -n "$skip" ] && [ "$skip" != 0 ]; then
  echo "$pass passed, $fail failed, $skip skipped"
else
  echo "$pass passed, $fail failed"
fi
exit "$status"
