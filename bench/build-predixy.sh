#!/usr/bin/env bash
# Builds predixy (github.com/joyieldInc/predixy, a Redis Cluster proxy: the reference point for
# keywarden's cluster mode) under /tmp from a `git archive` of its default branch, and prints the
# path of the binary. Nothing of predixy is written into this repository.
#
#   bash bench/build-predixy.sh              # prints e.g. /tmp/kw-predixy/ca1630a/src/predixy
#
# Environment:
#   PREDIXY_GIT_DIR  a clone or bare mirror of predixy (default /work/.mirror/joyieldInc+predixy/repo)
#   PREDIXY_OUT      where to build (default /tmp/kw-predixy); one directory per commit, reused
#
# Debian packages: g++ and make (installed when missing; predixy needs nothing else: it links
# libstdc++ statically and uses epoll directly).
set -euo pipefail

git_dir=${PREDIXY_GIT_DIR:-/work/.mirror/joyieldInc+predixy/repo}
out_root=${PREDIXY_OUT:-/tmp/kw-predixy}

if ! git -C "$git_dir" rev-parse --git-dir >/dev/null 2>&1; then
  echo "build-predixy: no predixy repository at $git_dir (set PREDIXY_GIT_DIR to a clone of" \
    "github.com/joyieldInc/predixy)" >&2
  exit 1
fi

missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
if ((${#missing[@]} > 0)); then
  echo "build-predixy: installing ${missing[*]}" >&2
  ((EUID == 0)) || { echo "build-predixy: need root to install ${missing[*]}" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# The default branch: what HEAD names in the mirror (master for predixy).
branch=$(git -C "$git_dir" symbolic-ref --short HEAD 2>/dev/null || echo master)
commit=$(git -C "$git_dir" rev-parse --short "$branch")
dir=$out_root/$commit
bin=$dir/src/predixy

if [[ ! -x "$bin" ]]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  git -C "$git_dir" archive --format=tar "$branch" | tar -x -C "$dir"
  echo "build-predixy: building predixy $branch@$commit in $dir" >&2
  # Its Makefile builds with -g -O3 (LVL) and links libstdc++ statically. String.h uses
  # localtime_r/strftime without including <ctime>, which GCC 12's headers no longer pull in.
  if ! nice -n 10 make -C "$dir" -j"$(nproc)" LVL="-g -O3 -include ctime" >"$dir/build.log" 2>&1; then
    tail -n 30 "$dir/build.log" >&2
    echo "build-predixy: build failed (log: $dir/build.log)" >&2
    exit 1
  fi
fi
"$bin" --version >/dev/null 2>&1 || "$bin" -h >/dev/null 2>&1 || true
echo "$bin"
