#!/bin/sh
# meson install script: installs SOURCE as the configuration file TARGET (an absolute path)
# unless TARGET already exists, so re-installing never overwrites an administrator's edits.
# Honours `meson install --destdir`.
set -eu
source=$1
target=$2
destdir=${MESON_INSTALL_DESTDIR_PREFIX%"$MESON_INSTALL_PREFIX"}
if [ -e "$destdir$target" ]; then
  echo "Keeping existing $destdir$target"
  exit 0
fi
echo "Installing $source to $destdir$target"
install -D -m 0644 "$source" "$destdir$target"
