#!/usr/bin/env bash
# Runs the keywarden integration suite with node's test runner.
#   KW_TARGET=redis   run against redis-server alone (proxy-only tests skip)
#   KEYWARDEN_BIN     binary under test (default: <repo>/build-asan/keywarden)
#   KW_TEST_FILES     space-separated subset of *.test.js to run
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi

out="$(mktemp -t kw-it-out.XXXXXX)"
trap 'rm -f "$out"' EXIT

# shellcheck disable=SC2206
files=(${KW_TEST_FILES:-*.test.js})

# --test-force-exit: a server or socket a failed test left open must not keep
# the run alive. (It also drops the tap reporter's summary, hence the spec
# summary is parsed below.)
set +e
node --test --test-concurrency=1 --test-force-exit --test-timeout=150000 \
  --test-reporter=spec "${files[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

count() { sed -n "s/^ℹ $1 \([0-9]*\)$/\1/p" "$out" | tail -n1; }
pass="$(count pass)"; fail="$(count fail)"; skipped="$(count skipped)"
cancelled="$(count cancelled)"; todo="$(count todo)"
# A test cancelled because its server did not start is a failure too.
failed=$(( ${fail:-0} + ${cancelled:-0} ))
echo "# tests $(count tests)"
echo "# pass ${pass:-0}"
echo "# fail ${failed}"
echo "# skipped ${skipped:-0}"
echo "# todo ${todo:-0}"
echo "integration: ${pass:-0} passed, ${failed} failed, ${skipped:-0} skipped"
if [ "$rc" -eq 0 ] && [ "$failed" -ne 0 ]; then rc=1; fi
if [ "$rc" -eq 0 ] && [ -z "$pass" ]; then echo "no test summary found" >&2; rc=1; fi
exit "$rc"
