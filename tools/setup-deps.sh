#!/usr/bin/env bash
# Installs every Debian 12 package keywarden needs to build, test, run the demo and benchmark.
# Idempotent: when everything is already installed it touches neither the network nor apt.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config
  clang libclang-rt-14-dev
  libuv1-dev libhiredis-dev libjemalloc-dev libxxhash-dev prometheus-cpp-dev libpq-dev
  doctest-dev libtomlplusplus-dev libsodium-dev libssl-dev
  redis-server redis-tools postgresql prometheus nutcracker
  systemd
  clang-format
  openssl
)
# node 20 may come from outside Debian (NodeSource); Debian's nodejs/npm would conflict with it.
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || { echo "setup-deps: need root (or sudo) to install" >&2; exit 1; }
  sudo=(sudo)
fi

# Without systemd, the postinst scripts of redis-server and postgresql would try to start their
# services through invoke-rc.d and fail the install; a policy-rc.d answering 101 forbids that.
policy=/usr/sbin/policy-rc.d
if [[ ! -e "$policy" ]]; then
  "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
echo "setup-deps: done"
