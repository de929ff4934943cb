#!/usr/bin/env bash
# Memory per idle client connection (issue 15): keywarden's, and Redis's own measured the same
# way in the same run. For every measurement a fresh server process (keywarden in front of one
# shared redis-server, or a redis-server of its own) is started, its RSS read (VmRSS), N idle
# connections opened by bench/idle_conns.cc, the RSS read again after SETTLE_SECONDS, the
# connections closed, and the RSS read once more:
#   bytes per idle connection = (RSS with N - RSS before) / N
# Modes: "idle" (connected, nothing sent) and "ping" (one PING answered on each first). For
# Redis, INFO memory's used_memory and CLIENT LIST's tot-mem are reported as well. Target:
# keywarden at most 1 KiB per idle connection. See bench/README.md, "Idle clients".
#
# Environment: N_CLIENTS (10000), REPS (3), MODES ("idle ping"), SETTLE_SECONDS (3),
# KEYWARDEN_BIN (build/keywarden), PREV_BIN (a previous build's keywarden, measured too when
# set), IDLE_CONNS (idle_conns next to KEYWARDEN_BIN), KW_WORKERS (0 = keywarden's default).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

n=${N_CLIENTS:-10000}
reps=${REPS:-3}
read -r -a modes <<<"${MODES:-idle ping}"
settle=${SETTLE_SECONDS:-3}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
prev_bin=${PREV_BIN:-}
ic_bin=${IDLE_CONNS:-$(dirname "$kw_bin")/idle_conns}
workers=${KW_WORKERS:-0}
for b in "$kw_bin" "$ic_bin"; do
  [[ -x "$b" ]] || { echo "idle: $b not found (meson compile -C build keywarden idle_conns)" >&2; exit 1; }
done
targets=(keywarden redis)
declare -A bin=([keywarden]=$kw_bin)
if [[ -n "$prev_bin" ]]; then
  [[ -x "$prev_bin" ]] || { echo "idle: PREV_BIN=$prev_bin is not an executable" >&2; exit 1; }
  targets=(keywarden keywarden-prev redis)
  bin[keywarden-prev]=$prev_bin
fi

# Both ends of N connections live on this machine: the holder and the server need N descriptors
# each (and keywarden some more for its upstream links).
need=$((n + 1024))
if (($(ulimit -n) < need)); then
  ulimit -Hn "$need" 2>/dev/null || true
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if (($(ulimit -n) < need)); then
  echo "idle: open-file limit $(ulimit -n) is below $need (N_CLIENTS + 1024); raise it (ulimit -n) or lower N_CLIENTS" >&2
  exit 1
fi

load_at_start=$(cut -d" " -f1 /proc/loadavg)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/idle-$stamp
mkdir -p "$out" bench/results
raw=$out/raw.csv
echo "rep,mode,target,clients,rss_before_kib,rss_with_kib,rss_after_close_kib,bytes_per_conn,retained_bytes_per_conn,used_memory_bytes_per_client,tot_mem_bytes_per_client" >"$raw"

cleanup() {
  kw_stop_pidfile "$out/holder.pid"
  kw_stop_pidfile "$out/server.pid"
  kw_stop_pidfile "$out/server-redis/redis.pid"
  kw_stop_pidfile "$out/upstream/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

upstream_port=$(kw_free_port)
kw_start_redis "$out/upstream" "$upstream_port" || { echo "idle: redis-server did not start" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
info_field() {  # PORT SECTION FIELD
  redis-cli -h 127.0.0.1 -p "$1" INFO "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'
}
# wait_clients PORT COUNT SECONDS: until INFO clients says COUNT connected (ours included).
wait_clients() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    [[ "$(info_field "$1" clients connected_clients)" == "$2" ]] && return 0
    sleep 0.1
  done
  return 1
}

# start_server TARGET: a fresh process; sets server_pid and server_port.
start_server() {
  local t=$1
  server_port=$(kw_free_port)
  if [[ $t == redis ]]; then
    rm -rf "$out/server-redis"
    kw_start_redis "$out/server-redis" "$server_port" --maxclients $((n + 100)) || return 1
    server_pid=$(<"$out/server-redis/redis.pid")
    return 0
  fi
  cat >"$out/$t.toml" <<TOML
[server]
workers = $workers
log_level = "warn"

[limits]
max_clients = $((n + 100))

[metrics]
enabled = true
listen = "127.0.0.1:$(kw_free_port)"
TOML
  "${bin[$t]}" -c "$out/$t.toml" --upstream "127.0.0.1:$upstream_port" \
    --listen "127.0.0.1:$server_port" >>"$out/$t.log" 2>&1 &
  server_pid=$!
  echo "$server_pid" >"$out/server.pid"
  kw_wait_pong "$server_port" 10 "$server_pid"
}
stop_server() {
  kw_stop_pidfile "$out/server.pid"
  kw_stop_pidfile "$out/server-redis/redis.pid"
}

failures=0
measure() {  # REP MODE TARGET
  local rep=$1 mode=$2 t=$3 ping=0
  [[ $mode == ping ]] && ping=1
  if ! start_server "$t"; then
    echo "idle: $t did not start" >&2
    failures=$((failures + 1))
    stop_server
    return 0
  fi
  # Settled and warm: a first client came and went (keywarden's upstream links are up).
  redis-cli -h 127.0.0.1 -p "$server_port" PING >/dev/null
  sleep 1
  local um0="" rss0 rss1 rss2 um1="" totmem=""
  [[ $t == redis ]] && um0=$(info_field "$server_port" memory used_memory)
  rss0=$(rss_kib "$server_pid")
  # A file of its own: the shell may look before the new holder has truncated a reused one.
  local holder_out=$out/holder-$rep-$mode-$t.out
  "$ic_bin" --port "$server_port" --count "$n" --ping "$ping" >"$holder_out" 2>&1 &
  local holder=$! i holder_state=running t0=$SECONDS
  echo "$holder" >"$out/holder.pid"
  for ((i = 0; i < 1200; i++)); do
    grep -q '^ready' "$holder_out" 2>/dev/null && break
    if ! kill -0 "$holder" 2>/dev/null; then
      holder_state="exited ($(wait "$holder" 2>/dev/null; echo "status $?"))"
      break
    fi
    sleep 0.1
  done
  # The server must hold all N, plus the INFO client asking.
  if ! grep -q '^ready' "$holder_out" || ! wait_clients "$server_port" $((n + 1)) 30; then
    echo "idle: $t ($mode): $n connections not held after $((SECONDS - t0)) s (holder $holder_state: $(tail -n 1 "$holder_out"); connected_clients: $(info_field "$server_port" clients connected_clients))" >&2
    failures=$((failures + 1))
    kw_stop_pidfile "$out/holder.pid"
    stop_server
    return 0
  fi
  sleep "$settle"
  rss1=$(rss_kib "$server_pid")
  if [[ $t == redis ]]; then
    um1=$(info_field "$server_port" memory used_memory)
    # tot-mem of the held connections (every client but the one running CLIENT LIST).
    totmem=$(redis-cli -h 127.0.0.1 -p "$server_port" CLIENT LIST |
      awk '$0 !~ /cmd=client\|list/ { for (i = 1; i <= NF; i++) if ($i ~ /^tot-mem=/) { s += substr($i, 9); c++ } }
           END { if (c) printf "%.0f", s / c }')
  fi
  kw_stop_pidfile "$out/holder.pid"
  wait_clients "$server_port" 1 30 || echo "idle: $t ($mode): connections still counted after close" >&2
  sleep "$settle"
  rss2=$(rss_kib "$server_pid")
  stop_server
  local per retained per_um=""
  per=$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
  retained=$(awk -v a="$rss0" -v b="$rss2" -v n="$n" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
  [[ -n "$um0" ]] && per_um=$(awk -v a="$um0" -v b="$um1" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')
  echo "$rep,$mode,$t,$n,$rss0,$rss1,$rss2,$per,$retained,$per_um,$totmem" >>"$raw"
  printf 'idle: rep %d %-4s %-14s RSS %7d -> %7d KiB (%5d B/conn), after close %7d KiB%s\n' \
    "$rep" "$mode" "$t" "$rss0" "$rss1" "$per" "$rss2" \
    "${per_um:+; used_memory $per_um B/client, tot-mem $totmem B/client}"
}

echo "idle: $n connections; targets ${targets[*]}; modes ${modes[*]}; reps $reps; raw data $raw"
for ((rep = 1; rep <= reps; rep++)); do
  for mode in "${modes[@]}"; do
    order=("${targets[@]:rep % ${#targets[@]}}" "${targets[@]:0:rep % ${#targets[@]}}")
    for t in "${order[@]}"; do
      measure "$rep" "$mode" "$t"
    done
  done
done

{
  echo "# Memory per idle client connection"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- redis: $(redis-server --version | awk '{print $3}' | sed 's/^v=//'); keywarden: $kw_bin, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')${prev_bin:+; keywarden-prev: $prev_bin}"
  echo "- $n connections from bench/idle_conns.cc on loopback; a fresh server process per measurement; RSS read $settle s after the last connection was established; medians of $reps reps"
  echo "- idle: connected only; ping: one PING answered on each connection first"
  # Before the run only other work counts; at the end this run's own 2-3 busy processes do too.
  awk -v n="$(nproc)" -v s="$load_at_start" '{ if (s > n / 2 || $1 > n + 3) printf "- **WARNING: load average %s at the start, %s at the end, on %d CPUs: other work shared the machine; these figures are noise, not results**\n", s, $1, n }' /proc/loadavg
  echo "- bytes/conn = (RSS with N - RSS before) / N; after close = (RSS after the N closed - RSS before) / N (memory kept by the allocator)"
  echo
  python3 - "$raw" <<'PY'
import csv, statistics, sys
from collections import defaultdict
rows = defaultdict(lambda: defaultdict(list))
modes, targets = [], []
with open(sys.argv[1], newline="") as f:
    for r in csv.DictReader(f):
        if r["mode"] not in modes:
            modes.append(r["mode"])
        if r["target"] not in targets:
            targets.append(r["target"])
        for k, v in r.items():
            if k not in ("rep", "mode", "target") and v != "":
                rows[(r["mode"], r["target"])][k].append(float(v))
order = [t for t in ("keywarden", "keywarden-prev", "redis") if t in targets]
def med(d, k):
    return statistics.median(d[k]) if d.get(k) else None
def f(v, spec):
    return "-" if v is None else format(v, spec)
print("| mode | target | reps | RSS before MiB | RSS with N MiB | bytes per idle conn | after close, bytes per conn | Redis used_memory B/client | Redis tot-mem B/client | target |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for m in modes:
    for t in order:
        d = rows[(m, t)]
        if not d:
            continue
        per = med(d, "bytes_per_conn")
        check = "-"
        if t == "keywarden" and per is not None:
            check = ("PASS" if per <= 1024 else "FAIL") + " (<= 1024 B)"
        print(f"| {m} | {t} | {len(d['bytes_per_conn'])} | {f(med(d, 'rss_before_kib') and med(d, 'rss_before_kib') / 1024, '.1f')} "
              f"| {f(med(d, 'rss_with_kib') and med(d, 'rss_with_kib') / 1024, '.1f')} | {f(per, ',.0f')} "
              f"| {f(med(d, 'retained_bytes_per_conn'), ',.0f')} | {f(med(d, 'used_memory_bytes_per_client'), ',.0f')} "
              f"| {f(med(d, 'tot_mem_bytes_per_client'), ',.0f')} | {check} |")
PY
} >"$out/report.md"
cp "$out/report.md" bench/results/idle-latest.md
cat bench/results/idle-latest.md
if ((failures > 0)); then
  echo "idle: $failures measurement(s) failed; see $out" >&2
  exit 1
fi
