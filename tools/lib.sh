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

# kw_start_redis DIR PORT: daemonized throwaway redis-server without persistence, state in DIR.
kw_start_redis() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save '' --appendonly no || return 1
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
