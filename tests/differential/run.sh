#!/usr/bin/env bash
# Runs the differential test (keywarden vs a plain redis-server) with node's test runner.
#   KEYWARDEN_BIN    binary under test (default: <repo>/build-asan/keywarden)
#   DIFF_*           see README.md (DIFF_SEED, DIFF_SECONDS, DIFF_CLIENTS, DIFF_TARGET=redis, ...)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# A relative binary path means relative to where the command was typed.
if [ -n "${KEYWARDEN_BIN:-}" ]; then KEYWARDEN_BIN="$(realpath -m "$KEYWARDEN_BIN")"; export KEYWARDEN_BIN; fi
cd "$here"

out="$(mktemp -t kw-diff-out.XXXXXX)"
trap 'rm -f "$out"' EXIT

set +e
node --test --test-concurrency=1 --test-force-exit --test-timeout=600000 \
  --test-reporter=spec differential.test.js 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

count() { sed -n "s/^ℹ $1 \([0-9]*\)$/\1/p" "$out" | tail -n1; }
pass="$(count pass)"; fail="$(count fail)"; cancelled="$(count cancelled)"
failed=$(( ${fail:-0} + ${cancelled:-0} ))
echo "# pass ${pass:-0}"
echo "# fail ${failed}"
echo "differential: ${pass:-0} passed, ${failed} failed"
if [ "$rc" -eq 0 ] && [ "$failed" -ne 0 ]; then rc=1; fi
if [ "$rc" -eq 0 ] && [ -z "$pass" ]; then echo "no test summary found" >&2; rc=1; fi
exit "$rc"
