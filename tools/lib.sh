# shellcheck shell=bash
# Shared shell helpers for tools/demo.sh and bench/run.sh. Source it; it defines functions only.

# Prints a TCP port nobody listens on right now on 127.0.0.1 (the kernel picks it).
kw_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# kw_wait_pong PORT SECONDS [PID]: waits until PING on PORT answers PONG. Gives up early when PID
# (the server being waited for) has died, so a crash is reported at once, not after the timeout.
kw_wait_pong() {
  local port=$1 secs=$2 pid=${3:-} i
  for ((i = 0; i < secs * 10; i++)); do
    if [[ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" == PONG ]]; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    sleep 0.1
  done
  return 1
}

# kw_port_busy PORT: true when something already accepts connections on 127.0.0.1:PORT.
kw_port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# kw_start_redis DIR PORT [redis-server options...]: daemonized throwaway redis-server without
# persistence, state in DIR.
kw_start_redis() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save '' --appendonly no "${@:3}" || return 1
  kw_wait_pong "$port" 10
}

# kw_stop_pidfile FILE: SIGTERM the process named in FILE, wait up to 10 s, then SIGKILL it.
kw_stop_pidfile() {
  local file=$1 pid i
  [[ -f "$file" ]] || return 0
  pid=$(<"$file")
  rm -f "$file"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

# PostgreSQL 15 (Debian's server binaries), a throwaway cluster of its own: never the system
# service. PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres
# system user (created by Debian's postgresql package).
kw_pg_bin=${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}

kw_as_pg() {
  if [[ $(id -u) == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# kw_start_pg DIR PORT: initdb in DIR/data (trust auth, superuser postgres), pg_ctl start on
# 127.0.0.1:PORT with pg_stat_statements preloaded; its socket and log in DIR.
kw_start_pg() {
  local dir=$1 port=$2
  rm -rf "$dir"
  mkdir -p "$dir"
  if [[ $(id -u) == 0 ]]; then chown postgres: "$dir"; fi
  kw_as_pg "$kw_pg_bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || return 1
  kw_as_pg "$kw_pg_bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements" \
    start >/dev/null
}

# kw_stop_pg DIR: fast shutdown of the cluster in DIR/data, if it runs.
kw_stop_pg() {
  local dir=$1
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  kw_as_pg "$kw_pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# kw_psql PORT DB ARGS...: psql as the superuser over loopback, stopping at the first error.
kw_psql() {
  local port=$1 db=$2
  shift 2
  psql -h 127.0.0.1 -p "$port" -U postgres -d "$db" -X -q -v ON_ERROR_STOP=1 "$@"
}
