#!/usr/bin/env bash
# Builds the Debian 12 package keywarden_<version>_<arch>.deb with debhelper from the working tree
# (committed or not; what .gitignore ignores is left out) and packaging/debian/:
#
#   bash tools/package-deb.sh [OUTPUT_DIR]     # default OUTPUT_DIR: build-deb/
#
# Installs what the build needs from Debian first (dpkg-dev, debhelper, the Build-Depends of
# packaging/debian/control), as root or through sudo. DEB_BUILD_OPTIONS is passed on (nocheck
# skips the unit tests); parallel= defaults to the number of CPUs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(realpath -m "${1:-build-deb}")
work=$root/build-deb/src  # inside the tree, so ccache's base_dir applies to the compiler runs

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || { echo "package-deb: need root (or sudo) to install build dependencies" >&2; exit 1; }
  sudo=(sudo)
fi
apt_install() {
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
  echo "package-deb: installing dpkg-dev debhelper"
  "${sudo[@]}" apt-get update -q
  apt_install dpkg-dev debhelper
fi

version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
src=$work/keywarden-$version
echo "package-deb: staging the tree in $src"
rm -rf "$work"
mkdir -p "$src"
# Tracked and new files, not ignored ones (build directories, node_modules); deleted ones skipped.
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$src"
rm -rf "$src/debian"
cp -a packaging/debian "$src/debian"

cd "$src"
if ! dpkg-checkbuilddeps 2>/dev/null; then
  echo "package-deb: installing the Build-Depends"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q "$src"
fi

options=${DEB_BUILD_OPTIONS:-}
[[ "$options" == *parallel=* ]] || options="${options:+$options }parallel=$(nproc)"
export DEB_BUILD_OPTIONS=$options
start=$(date +%s)
# -b: binary only (no source package); -us -uc: unsigned.
nice -n 10 dpkg-buildpackage -b -us -uc
elapsed=$(($(date +%s) - start))

mkdir -p "$out"
shopt -s nullglob
artifacts=("$work"/keywarden*_"$version"_*.deb "$work"/keywarden_"$version"_*.buildinfo
  "$work"/keywarden_"$version"_*.changes)
mv -f "${artifacts[@]}" "$out"/
deb=$(ls "$out"/keywarden_"$version"_*.deb)
echo
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"
echo "package-deb: $deb (built in ${elapsed} s)"
