#!/usr/bin/env bash
# Installs, checks, removes and purges a keywarden .deb in a fresh Debian 12 root, as on a new
# machine without a running systemd (a container or chroot):
#
#   bash tools/check-deb-install.sh build-deb/keywarden_0.1.0_amd64.deb [CHROOT_DIR]
#
# CHROOT_DIR (default /tmp/kw-deb-chroot) is made with `debootstrap --variant=minbase bookworm`
# when it does not exist yet, and copied for each run so the base stays fresh. Needs root,
# debootstrap and the Debian mirror. Prints "ok: ..." per check and "# pass N" / "# fail M".
set -uo pipefail

deb=$(realpath "${1:?usage: check-deb-install.sh DEB [CHROOT_DIR]}")
base=${2:-/tmp/kw-deb-chroot}
mirror=${KW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
((EUID == 0)) || { echo "check-deb-install: run as root (chroot, debootstrap)" >&2; exit 1; }

if [[ ! -x "$base/bin/sh" ]]; then
  command -v debootstrap >/dev/null || apt-get install -y -q --no-install-recommends debootstrap
  echo "check-deb-install: debootstrap bookworm into $base"
  debootstrap --variant=minbase bookworm "$base" "$mirror" >/dev/null || exit 1
fi
root=$(mktemp -d /tmp/kw-deb-root.XXXXXX)
cp -a "$base/." "$root/"
mount --bind /proc "$root/proc"
cleanup() {
  umount "$root/proc" 2>/dev/null
  rm -rf "$root"
}
trap cleanup EXIT
cp "$deb" "$root/tmp/keywarden.deb"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

pass=0
fail=0
check() {  # check NAME COMMAND...: COMMAND must succeed
  local name=$1
  shift
  if "$@"; then
    echo "ok: $name"
    pass=$((pass + 1))
  else
    echo "FAILED: $name"
    fail=$((fail + 1))
  fi
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The package's dependencies from Debian, then the package itself with plain dpkg.
depends=$(dpkg-deb -f "$deb" Depends | sed -E 's/\([^)]*\)//g; s/,/ /g')
# shellcheck disable=SC2086 # one word per package
check "apt-get install the dependencies ($depends)" \
  in_root sh -c "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $depends >/dev/null"
check "dpkg -i keywarden.deb" in_root dpkg -i /tmp/keywarden.deb
# shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
check "dpkg says installed" test "$(in_root dpkg-query -W -f='${db:Status-Status}' keywarden)" = installed
for f in /usr/bin/keywarden /usr/bin/keywarden-hash-password /etc/keywarden/keywarden.toml \
  /lib/systemd/system/keywarden.service /usr/share/doc/keywarden/README.md \
  /usr/share/doc/keywarden/examples/keywarden.production.toml \
  /usr/share/keywarden/prometheus/keywarden-alerts.yml; do
  check "installed $f" test -e "$root$f"
done
check "keywarden --version" in_root /usr/bin/keywarden --version
# What systemd will exec must exist in this root (systemd-analyze verify checks the same, but
# a minimal root has no systemd): ExecReload's /bin/kill comes from procps, not from minbase.
while read -r prog; do
  check "the unit's $prog is executable" test -x "$root$prog"
done < <(sed -nE 's/^Exec[A-Za-z]*=[-@:+!]*([^ ]+).*/\1/p' "$root/lib/systemd/system/keywarden.service" | sort -u)
check "system user keywarden" in_root getent passwd keywarden
check "the conffile is root:keywarden 0640" \
  test "$(in_root stat -c '%U:%G %a' /etc/keywarden/keywarden.toml)" = "root:keywarden 640"
check "the conffile is registered" in_root sh -c "dpkg-query -W -f='\${Conffiles}' keywarden | grep -q /etc/keywarden/keywarden.toml"
check "the unit is enabled (deb-systemd-helper)" \
  test -L "$root/etc/systemd/system/multi-user.target.wants/keywarden.service"
# As the unit runs it: user keywarden, the installed configuration (other ports than the
# configured ones, which may be in use on this machine). No Redis: it starts and retries.
port=$(free_port)
metrics=$(free_port)
# chroot, env and setpriv exec each other: $! is keywarden's pid.
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  setpriv --reuid=keywarden --regid=keywarden --init-groups \
  /usr/bin/keywarden -c /etc/keywarden/keywarden.toml \
  --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics" >"$root/tmp/kw.log" 2>&1 &
kw=$!
up=1
for _ in $(seq 50); do
  if curl -sf -o /dev/null "http://127.0.0.1:$metrics/metrics"; then up=0; break; fi
  sleep 0.2
done
check "keywarden runs as keywarden with the installed configuration (/metrics answers)" test $up = 0
uid=$(in_root getent passwd keywarden | cut -d: -f3)
check "as user keywarden (uid $uid)" test "$(ps -o uid= -p "$kw" | tr -d ' ')" = "$uid"
kill -TERM "$kw" 2>/dev/null
wait "$kw"
check "and exits 0 on SIGTERM" test $? = 0

echo "# edited by the administrator" >>"$root/etc/keywarden/keywarden.toml"
check "dpkg -r keywarden" in_root dpkg -r keywarden
check "removed: no /usr/bin/keywarden" test ! -e "$root/usr/bin/keywarden"
check "removed: no unit" test ! -e "$root/lib/systemd/system/keywarden.service"
check "removed: the edited conffile stays" grep -q "edited by the administrator" "$root/etc/keywarden/keywarden.toml"
check "dpkg -P keywarden" in_root dpkg -P keywarden
check "purged: no /etc/keywarden" test ! -e "$root/etc/keywarden"
check "purged: no user keywarden" sh -c "! chroot '$root' getent passwd keywarden"
check "purged: no group keywarden" sh -c "! chroot '$root' getent group keywarden"
check "purged: no enablement symlink" test ! -e "$root/etc/systemd/system/multi-user.target.wants/keywarden.service"
check "purged: dpkg forgot it" sh -c "! chroot '$root' dpkg-query -W keywarden >/dev/null 2>&1"
leftovers=$(cd "$root" && find . -xdev -path ./proc -prune -o -path ./tmp -prune -o -name '*keywarden*' -print)
check "purged: no file named *keywarden* left${leftovers:+ ($leftovers)}" test -z "$leftovers"

echo "# pass $pass"
echo "# fail $fail"
((fail == 0))
