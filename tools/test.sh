#!/usr/bin/env bash
# The whole test suite under ASan+UBSan: doctest unit tests, fuzz corpus replays, the deployment
# files (systemd unit, configurations, alert rules), the node integration suite and the
# differential test (keywarden vs plain Redis). Ends with one line
# "N passed, M failed"; exits non-zero unless M is 0.
# A stage that cannot run (build failure, missing binary or corpus) counts as failed.
# Environment: KW_ASAN_BUILD_DIR (build-asan).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

build=${KW_ASAN_BUILD_DIR:-build-asan}
logs=$(realpath -m "$build/test-logs")
passed=0
failed=0
summary=()

# note STAGE PASSED FAILED
note() {
  passed=$((passed + $2))
  failed=$((failed + $3))
  summary+=("$(printf '%-40s %4d passed, %d failed' "$1" "$2" "$3")")
}

finish() {
  echo
  echo "==== summary"
  printf '%s\n' "${summary[@]}"
  echo "$passed passed, $failed failed"
  if ((failed == 0)); then exit 0; fi
  exit 1
}

# Sanitizer reports must fail the run, never scroll by: UBSan findings are fatal like ASan's.
# ASan/LSan reports go to files because a keywarden started by the integration suite may have its
# stderr swallowed by the test harness; every stage is checked for new report files afterwards.
# (GCC's UBSan ignores log_path and prints to stderr, but halt_on_error still kills the process.)
sanitizer_dir=$logs/sanitizer
asan_opts=detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1
asan_opts+=:check_initialization_order=1:strict_init_order=1
export ASAN_OPTIONS=$asan_opts:log_path=$sanitizer_dir/asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$sanitizer_dir/ubsan

# check_sanitizer_reports STAGE STAGE_FAILED: prints reports written during STAGE; one more
# failure unless the stage already failed (the report is then usually its cause).
check_sanitizer_reports() {
  local reports r
  mapfile -t reports < <(find "$sanitizer_dir" -maxdepth 1 -type f | sort)
  ((${#reports[@]} == 0)) && return
  echo "---- sanitizer reports during $1:"
  for r in "${reports[@]}"; do
    echo "-- $r"
    cat "$r"
    mv "$r" "$sanitizer_dir.seen/"
  done
  if (($2 == 0)); then note "sanitizer reports during $1" 0 1; fi
}

echo "==== dependencies"
if ! bash tools/setup-deps.sh; then
  note "setup-deps" 0 1
  finish
fi

echo "==== build ($build: ASan+UBSan, debugoptimized, no jemalloc)"
# shellcheck disable=SC2054 # the comma is part of the meson value
sanitize_opts=(-Db_sanitize=address,undefined -Djemalloc=disabled -Dbuildtype=debugoptimized)
if [[ -f "$build/build.ninja" ]]; then
  setup=(meson configure "$build" "${sanitize_opts[@]}")
else
  setup=(meson setup "$build" "${sanitize_opts[@]}")
fi
if ! "${setup[@]}" || ! meson compile -C "$build"; then
  note "build" 0 1
  finish
fi
rm -rf "$logs"
mkdir -p "$logs" "$sanitizer_dir" "$sanitizer_dir.seen"

echo "==== unit tests"
if [[ ! -x "$build/unit_tests" ]]; then
  echo "missing $build/unit_tests"
  note "unit tests (not built)" 0 1
else
  # From the build dir, like `meson test`: tests may open files relative to it.
  (cd "$build" && ./unit_tests --no-colors) 2>&1 | tee "$logs/unit.log"
  rc=${PIPESTATUS[0]}
  # doctest: "[doctest] test cases: 12 | 11 passed | 1 failed | 0 skipped"
  line=$(grep -E '^\[doctest\] test cases:' "$logs/unit.log" | tail -n 1)
  p=$(sed -nE 's/.*\| *([0-9]+) passed.*/\1/p' <<<"$line")
  f=$(sed -nE 's/.*\| *([0-9]+) failed.*/\1/p' <<<"$line")
  if [[ -z "$p" || -z "$f" ]]; then
    echo "unit_tests printed no doctest summary (exit $rc)"
    note "unit tests (crashed)" 0 1
  else
    # A clean summary with a non-zero exit is a sanitizer report (e.g. a leak) after the tests.
    ((rc != 0 && f == 0)) && f=1
    note "unit tests" "$p" "$f"
  fi
  check_sanitizer_reports "unit tests" "${f:-1}"
fi

echo "==== fuzz corpus replay"
mapfile -t replays < <(find "$build" -maxdepth 1 -type f -name 'fuzz_*_replay' | sort)
if ((${#replays[@]} == 0)); then
  echo "no $build/fuzz_*_replay binaries"
  note "fuzz replay (none built)" 0 1
fi
declare -A replayed
for bin in "${replays[@]}"; do
  target=$(basename "$bin")
  target=${target#fuzz_}
  target=${target%_replay}
  replayed[$target]=1
  corpus=tests/fuzz/corpus/$target
  inputs=$(find "$corpus" -type f 2>/dev/null | wc -l)
  if ((inputs == 0)); then
    echo "fuzz_${target}_replay: corpus $corpus is missing or empty"
    note "fuzz replay $target (no corpus)" 0 1
    continue
  fi
  if "$bin" "$corpus/" >"$logs/fuzz_$target.log" 2>&1; then
    echo "fuzz_${target}_replay: ok ($inputs inputs)"
    note "fuzz replay $target" 1 0
    check_sanitizer_reports "fuzz replay $target" 0
  else
    echo "fuzz_${target}_replay: FAILED; last lines of $logs/fuzz_$target.log:"
    tail -n 30 "$logs/fuzz_$target.log"
    note "fuzz replay $target" 0 1
    check_sanitizer_reports "fuzz replay $target" 1
  fi
done
for corpus in tests/fuzz/corpus/*/; do
  target=$(basename "$corpus")
  if [[ -z "${replayed[$target]:-}" ]]; then
    echo "corpus $corpus has no $build/fuzz_${target}_replay binary"
    note "fuzz replay $target (not built)" 0 1
  fi
done

echo "==== deployment files"
# The systemd unit (systemd-analyze verify), the installed configurations (--check-config) and
# the Prometheus alert rules with their unit tests (tests/deploy/run.sh).
if [[ ! -x "$build/keywarden" ]]; then
  echo "missing $build/keywarden"
  note "deployment files (no keywarden)" 0 1
else
  KEYWARDEN_BIN=$(realpath "$build/keywarden") bash tests/deploy/run.sh </dev/null 2>&1 |
    tee "$logs/deploy.log"
  p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$logs/deploy.log" | tail -n 1)
  f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$logs/deploy.log" | tail -n 1)
  if [[ -z "$p" || -z "$f" ]]; then
    echo "deployment checks printed no '# pass'/'# fail' totals"
    note "deployment files (did not run)" 0 1
  else
    note "deployment files" "$p" "$f"
  fi
  check_sanitizer_reports "deployment files" "${f:-1}"
fi

echo "==== integration tests"
if [[ ! -f tests/integration/run.sh ]]; then
  echo "missing tests/integration/run.sh"
  note "integration (missing)" 0 1
elif [[ ! -x "$build/keywarden" ]]; then
  echo "missing $build/keywarden"
  note "integration (no keywarden)" 0 1
elif [[ -f tests/integration/package.json && ! -d tests/integration/node_modules ]] &&
  ! (cd tests/integration && npm ci --no-audit --no-fund </dev/null); then
  echo "npm ci in tests/integration failed"
  note "integration (npm ci failed)" 0 1
else
  KEYWARDEN_BIN=$(realpath "$build/keywarden") bash tests/integration/run.sh </dev/null 2>&1 |
    tee "$logs/integration.log"
  rc=${PIPESTATUS[0]}
  # node --test: "# pass 41" / "# fail 0"
  p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$logs/integration.log" | tail -n 1)
  f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$logs/integration.log" | tail -n 1)
  if [[ -z "$p" || -z "$f" ]]; then
    echo "integration suite printed no '# pass'/'# fail' totals (exit $rc)"
    note "integration (did not run)" 0 1
  else
    ((rc != 0 && f == 0)) && f=1
    note "integration" "$p" "$f"
  fi
  check_sanitizer_reports "integration tests" "${f:-1}"
fi

echo "==== differential test"
# Random command sequences from many concurrent clients, keywarden vs a plain redis-server
# (tests/differential/README.md). Bounded: DIFF_SECONDS per run (default 10), two runs.
if [[ ! -f tests/differential/run.sh ]]; then
  echo "missing tests/differential/run.sh"
  note "differential (missing)" 0 1
elif [[ ! -x "$build/keywarden" ]]; then
  echo "missing $build/keywarden"
  note "differential (no keywarden)" 0 1
else
  KEYWARDEN_BIN=$(realpath "$build/keywarden") bash tests/differential/run.sh </dev/null 2>&1 |
    tee "$logs/differential.log"
  rc=${PIPESTATUS[0]}
  p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$logs/differential.log" | tail -n 1)
  f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$logs/differential.log" | tail -n 1)
  if [[ -z "$p" || -z "$f" ]]; then
    echo "differential test printed no '# pass'/'# fail' totals (exit $rc)"
    note "differential (did not run)" 0 1
  else
    ((rc != 0 && f == 0)) && f=1
    note "differential" "$p" "$f"
  fi
  check_sanitizer_reports "differential test" "${f:-1}"
fi

finish
