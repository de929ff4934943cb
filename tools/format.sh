#!/usr/bin/env bash
# Formats every C++ file under src/, tests/, bench/ and tools/ with the repo's .clang-format.
#   tools/format.sh          rewrite files in place
#   tools/format.sh --check  change nothing; list unformatted files and exit 1 if there are any
set -euo pipefail
cd "$(dirname "$0")/.."

mode=fix
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

mapfile -d '' files < <(find src tests bench tools -name node_modules -prune -o \
  -type f \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)
if ((${#files[@]} == 0)); then
  echo "format: no C++ files found"
  exit 0
fi

if [[ "$mode" == fix ]]; then
  clang-format -i "${files[@]}"
  echo "format: formatted ${#files[@]} files"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]} > 0)); then
  printf 'format: needs clang-format: %s\n' "${bad[@]}"
  echo "format: run tools/format.sh to fix ${#bad[@]} file(s)"
  exit 1
fi
echo "format: ${#files[@]} files OK"
