#!/usr/bin/env bash
# Boots a fresh Debian 12 root under a real systemd (systemd-nspawn, private network) with the
# keywarden .deb and a redis-server installed, and checks keywarden.service there: READY=1
# (active, its status line), clients served from inside the sandbox, `systemctl reload` (a good
# file is applied by SIGHUP; a broken one fails the reload and changes nothing), the watchdog (a
# stopped process is restarted), and `systemctl stop` (exit 0).
#
#   bash tools/check-deb-boot.sh build-deb/keywarden_0.1.0_amd64.deb [CHROOT_DIR]
#
# CHROOT_DIR as for tools/check-deb-install.sh (debootstrap'd when missing, copied per run).
# Needs root, systemd-nspawn (systemd-container) and the Debian mirror; on a host without a
# running systemd the container is neither registered nor given a scope of its own.
set -uo pipefail

deb=$(realpath "${1:?usage: check-deb-boot.sh DEB [CHROOT_DIR]}")
base=${2:-/tmp/kw-deb-chroot}
mirror=${KW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
((EUID == 0)) || { echo "check-deb-boot: run as root" >&2; exit 1; }
command -v systemd-nspawn >/dev/null ||
  apt-get install -y -q --no-install-recommends systemd-container >/dev/null || exit 1
if [[ ! -x "$base/bin/sh" ]]; then
  command -v debootstrap >/dev/null || apt-get install -y -q --no-install-recommends debootstrap
  debootstrap --variant=minbase bookworm "$base" "$mirror" >/dev/null || exit 1
fi
root=$(mktemp -d /tmp/kw-deb-boot.XXXXXX)
cp -a "$base/." "$root/"
cleanup() {
  umount "$root/proc" 2>/dev/null
  rm -rf "$root"
}
trap cleanup EXIT

cp "$deb" "$root/tmp/keywarden.deb"
mount --bind /proc "$root/proc"
echo "check-deb-boot: installing systemd, redis-server and the package in $root"
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c \
  'apt-get update -q && apt-get install -y -q --no-install-recommends systemd systemd-sysv \
     redis-server redis-tools curl /tmp/keywarden.deb' >"$root/tmp/apt.log" 2>&1 ||
  { tail -20 "$root/tmp/apt.log"; exit 1; }
umount "$root/proc"

# Runs once at boot, after keywarden and Redis; writes its checks to /kwtest.out, powers off.
cat >"$root/usr/local/sbin/kwtest" <<'EOF'
#!/bin/sh
exec >/kwtest.out 2>&1
pass=0
fail=0
check() {
  name=$1
  shift
  if "$@"; then echo "ok: $name"; pass=$((pass + 1)); else echo "FAILED: $name"; fail=$((fail + 1)); fi
}
prop() { systemctl show keywarden -p "$1" --value; }
running() {
  for _ in $(seq 100); do
    [ "$(prop ActiveState)/$(prop SubState)" = active/running ] && return 0
    sleep 0.2
  done
  return 1
}
status_matches() { prop StatusText | grep -q "$1"; }
conf=/etc/keywarden/keywarden.toml

check "keywarden.service is active at boot (READY=1)" running
check "Type=notify, WatchdogSec=30s" test "$(prop Type)/$(prop WatchdogUSec)" = notify/30s
check "status: $(prop StatusText)" status_matches '^serving on 127.0.0.1:6380 with [0-9]* workers, upstream 127.0.0.1:6379$'
pid=$(prop MainPID)
check "runs as user keywarden" test "$(stat -c %U /proc/"$pid")" = keywarden
check "PING through keywarden" test "$(redis-cli -p 6380 PING)" = PONG
check "SET and GET through keywarden" test "$(redis-cli -p 6380 SET kw:boot v)/$(redis-cli -p 6380 GET kw:boot)" = OK/v
check "/metrics: keywarden_upstream_up 1" sh -c 'curl -s http://127.0.0.1:9121/metrics | grep -qx "keywarden_upstream_up 1"'

check "systemctl reload (good file)" systemctl reload keywarden
check "reloaded in place: same process" test "$(prop MainPID)" = "$pid"
check "status: configuration reloaded" status_matches '; configuration reloaded$'
cp "$conf" /tmp/good.toml
echo 'bogus_key = 1' >>"$conf"
check "systemctl reload (broken file) fails" sh -c '! systemctl reload keywarden 2>/dev/null'
check "and keywarden keeps running, same process" sh -c "[ \"\$(systemctl show keywarden -p MainPID --value)\" = $pid ]"
check "journal names the broken line" sh -c "journalctl -u keywarden | grep -q 'keywarden.toml:[0-9]*: .*bogus_key'"
cp /tmp/good.toml "$conf"

mkdir -p /run/systemd/system/keywarden.service.d
printf '[Service]\nWatchdogSec=3s\n' >/run/systemd/system/keywarden.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart keywarden
running
pid=$(prop MainPID)
kill -STOP "$pid"
restarted=1
for _ in $(seq 150); do
  if [ "$(prop NRestarts)" = 1 ] && [ "$(prop MainPID)" != "$pid" ] && running; then restarted=0; break; fi
  sleep 0.2
done
check "watchdog: a stopped process is restarted" test $restarted = 0
check "journal: Watchdog timeout" sh -c 'journalctl -u keywarden | grep -q "Watchdog timeout"'
rm -r /run/systemd/system/keywarden.service.d
systemctl daemon-reload
systemctl restart keywarden
running

check "systemctl stop" systemctl stop keywarden
check "stopped cleanly (exit 0)" test "$(prop ActiveState)/$(prop Result)/$(prop ExecMainStatus)" = inactive/success/0
echo "$(systemd-analyze security keywarden --no-pager | tail -n 1)"
echo "# pass $pass"
echo "# fail $fail"
systemctl poweroff
EOF
chmod +x "$root/usr/local/sbin/kwtest"
cat >"$root/etc/systemd/system/kwtest.service" <<'EOF'
[Unit]
Description=keywarden package test
After=keywarden.service redis-server.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kwtest
[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/kwtest.service "$root/etc/systemd/system/multi-user.target.wants/"

echo "check-deb-boot: booting (systemd-nspawn)"
timeout 300 systemd-nspawn -q -D "$root" --private-network --register=no --keep-unit -b \
  >"$root/tmp/boot.log" 2>&1
if [[ ! -s "$root/kwtest.out" ]]; then
  echo "check-deb-boot: the test never ran; boot log:"
  tail -40 "$root/tmp/boot.log"
  exit 1
fi
cat "$root/kwtest.out"
grep -qx '# fail 0' "$root/kwtest.out"
