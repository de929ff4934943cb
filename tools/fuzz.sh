#!/usr/bin/env bash
# Runs libFuzzer targets (clang, ASan+UBSan) on a scratch copy of their seed corpus, so new inputs
# found during the run never land in the repository by accident.
#   tools/fuzz.sh [target] [seconds]
#     target   request_decoder, reply_scanner, ... (tests/fuzz/<target>_fuzz.cc), or "all" (default)
#     seconds  per target, default 60
# Crash inputs are written to $build/fuzz-artifacts/<target>/; to keep one as a regression test,
# copy it into tests/fuzz/corpus/<target>/. Environment: KW_FUZZ_BUILD_DIR (build-fuzz).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

target=${1:-all}
seconds=${2:-60}
build=${KW_FUZZ_BUILD_DIR:-build-fuzz}

if [[ ! "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [target|all] [seconds]" >&2
  exit 2
fi

targets=()
if [[ "$target" == all ]]; then
  for src in tests/fuzz/*_fuzz.cc; do
    name=$(basename "$src" _fuzz.cc)
    [[ -d tests/fuzz/corpus/$name ]] && targets+=("$name")
  done
else
  target=${target#fuzz_}
  if [[ ! -f tests/fuzz/${target}_fuzz.cc ]]; then
    echo "fuzz: no target tests/fuzz/${target}_fuzz.cc" >&2
    exit 2
  fi
  targets=("$target")
fi

if [[ ! -f "$build/build.ninja" ]]; then
  # fuzzer-no-link instruments the library code too; without it libFuzzer would only see
  # coverage of the small harness files.
  CC=clang CXX=clang++ meson setup "$build" -Dfuzz=true -Djemalloc=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
    -Dcpp_args=-fsanitize=fuzzer-no-link
fi
meson compile -C "$build" "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=()
for name in "${targets[@]}"; do
  work=$build/fuzz-work/$name
  artifacts=$(realpath -m "$build/fuzz-artifacts/$name")
  rm -rf "$work"
  mkdir -p "$work/corpus" "$artifacts"
  if [[ -d tests/fuzz/corpus/$name ]]; then
    cp -r "tests/fuzz/corpus/$name/." "$work/corpus/"
  fi
  echo "==== fuzz_$name for ${seconds}s"
  if "$build/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work/corpus"; then
    echo "==== fuzz_$name: no findings"
  else
    echo "==== fuzz_$name: FAILED, inputs in $artifacts/" >&2
    failed+=("$name")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) clean"
