#!/usr/bin/env bash
# Checks of what an operator deploys: the systemd unit (systemd-analyze verify), the configuration
# files keywarden installs (--check-config), and the Prometheus alert rules (promtool check rules,
# promtool test rules). Prints "# pass N" / "# fail M" like the other suites.
# Environment: KEYWARDEN_BIN (the binary --check-config runs and the unit's ExecStart points to).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
bin=$(realpath "${KEYWARDEN_BIN:-build-asan/keywarden}")
pass=0
fail=0

# check NAME COMMAND...: passes when COMMAND exits 0 and prints nothing on stderr (systemd-analyze
# verify exits 0 on unknown keys and unparsable values, and only says so there).
check() {
  local name=$1 out err rc
  shift
  err=$(mktemp)
  out=$("$@" 2>"$err")
  rc=$?
  if ((rc == 0)) && [[ ! -s "$err" ]]; then
    echo "ok: $name"
    pass=$((pass + 1))
  else
    echo "FAILED: $name (exit $rc)"
    [[ -n "$out" ]] && echo "$out"
    cat "$err"
    fail=$((fail + 1))
  fi
  rm -f "$err"
}

# The unit as meson writes it, with ExecStart on the binary under test (verify checks that the
# programs it names exist and are executable).
unit_dir=$(mktemp -d)
trap 'rm -rf "$unit_dir"' EXIT
sed -e "s|@bindir@|$(dirname "$bin")|g" -e "s|@sysconfdir@|/etc|g" \
  conf/systemd/keywarden.service.in >"$unit_dir/keywarden.service"
check "systemd-analyze verify keywarden.service" systemd-analyze verify "$unit_dir/keywarden.service"

for conf in conf/keywarden.system.toml conf/keywarden.toml conf/keywarden.production.toml \
  conf/keywarden.multitenant.toml; do
  check "keywarden --check-config -c $conf" "$bin" --check-config -c "$conf"
done

check "promtool check rules" promtool check rules conf/prometheus/keywarden-alerts.yml
check "promtool test rules" promtool test rules tests/prometheus/keywarden-alerts.test.yml

echo "# pass $pass"
echo "# fail $fail"
((fail == 0))
