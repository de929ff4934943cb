#!/usr/bin/env bash
# Starts a throwaway Redis, a throwaway PostgreSQL 15 cluster (read-through) and keywarden in
# front of them, for trying keywarden by hand.
#   tools/demo.sh         install deps, build (release), start everything
#   tools/demo.sh stop    stop everything this script started
# Environment: KW_BUILD_DIR (build), KW_DEMO_DIR (/tmp/keywarden-demo: data, pid files, logs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

build=${KW_BUILD_DIR:-build}
state=${KW_DEMO_DIR:-${TMPDIR:-/tmp}/keywarden-demo}
proxy_port=6380
metrics_url=http://127.0.0.1:9121/metrics

stop_all() {
  kw_stop_pidfile "$state/keywarden.pid"
  kw_stop_pg "$state/pg"
  kw_stop_pidfile "$state/redis/redis.pid"
}

case "${1:-start}" in
  stop)
    stop_all
    echo "demo: stopped (logs kept in $state)"
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 [start|stop]" >&2
    exit 2
    ;;
esac

bash tools/setup-deps.sh
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build" --buildtype=release
fi
# Only what the demo runs: the whole build (tests, fuzz replays, benchmarks) takes minutes more.
meson compile -C "$build" keywarden

# A previous demo would hold the ports; restarting is what someone rerunning the demo wants.
stop_all
if kw_port_busy "$proxy_port"; then
  echo "demo: port $proxy_port is already in use by another program; stop it first" >&2
  exit 1
fi
mkdir -p "$state"

redis_port=$(kw_free_port)
# As the platform runs it: a memory cap with LRU eviction (KEYWARDEN DOCTOR still notes that
# this throwaway Redis has no persistence).
if ! kw_start_redis "$state/redis" "$redis_port" --maxmemory 256mb --maxmemory-policy allkeys-lru; then
  echo "demo: redis-server did not start; see $state/redis/redis.log" >&2
  exit 1
fi

pg_port=$(kw_free_port)
if ! kw_start_pg "$state/pg" "$pg_port" ||
  ! kw_psql "$pg_port" postgres -c 'CREATE DATABASE apidb' ||
  ! kw_psql "$pg_port" apidb -f conf/sql/profiles.sql >/dev/null; then
  echo "demo: PostgreSQL did not start; see $state/pg/" >&2
  stop_all
  exit 1
fi
# conf/keywarden.toml names PostgreSQL's usual port; the demo's cluster runs on a free one.
sed "s/port=5432 dbname=apidb/port=$pg_port dbname=apidb/" conf/keywarden.toml >"$state/keywarden.toml"

nohup "$build/keywarden" -c "$state/keywarden.toml" --upstream "127.0.0.1:$redis_port" \
  >"$state/keywarden.log" 2>&1 </dev/null &
kw_pid=$!
echo "$kw_pid" >"$state/keywarden.pid"
if ! kw_wait_pong "$proxy_port" 15 "$kw_pid"; then
  echo "demo: keywarden did not answer PING on port $proxy_port; last log lines:" >&2
  tail -n 20 "$state/keywarden.log" >&2
  stop_all
  exit 1
fi

cat <<MSG

keywarden is running (pid $kw_pid) in front of redis-server on 127.0.0.1:$redis_port,
reading through from PostgreSQL on 127.0.0.1:$pg_port (database apidb, table profiles).

  connect:  redis-cli -p $proxy_port
  read:     redis-cli -p $proxy_port GET profile:11111111-2222-3333-4444-555555555555
  change:   psql -h 127.0.0.1 -p $pg_port -U postgres apidb \\
              -c "UPDATE profiles SET first_name = 'Augusta' WHERE user_id = '11111111-2222-3333-4444-555555555555'"
  metrics:  $metrics_url
  logs:     $state/keywarden.log, $state/redis/redis.log
  stop:     tools/demo.sh stop
MSG
