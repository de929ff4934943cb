#!/usr/bin/env bash
# Near cache and blacklist benchmark: the same run, interleaved, medians (see bench/README.md).
#   get-c50-P16 / get-c50-P1   GET of 1,000 hot keys: Redis directly, keywarden with the near
#                              cache, keywarden without it (redis-benchmark -t get -r 1000)
#   exists-bl-c50-P16          EXISTS on 1,000 blacklist keys (half revoked): Redis, keywarden
#   zipf                       zipf (s=0.99) 95% GET through the target / 5% SET directly in
#                              Redis over 100k keys (bench/zipf_load): throughput with and without
#                              the near cache, the cache's hit ratio, and the staleness p99 of the
#                              direct writes seen through the proxy
# Proxy CPU microseconds per request: utime+stime of keywarden around each run.
#
# Environment: REPS (5), KW_WORKERS (0: one per CPU), KEYWARDEN_BIN (build/keywarden),
# ZIPF_LOAD (build/zipf_load), N_P16 (1000000), N_P1 (200000), ZIPF_SECONDS (5), WARMUP_SECONDS (3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

reps=${REPS:-5}
workers=${KW_WORKERS:-0}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
zipf_bin=${ZIPF_LOAD:-build/zipf_load}
n_p16=${N_P16:-1000000}
n_p1=${N_P1:-200000}
zipf_seconds=${ZIPF_SECONDS:-5}
for b in "$kw_bin" "$zipf_bin"; do
  [[ -x "$b" ]] || { echo "bench: $b not found (meson setup build --buildtype=release && meson compile -C build)" >&2; exit 1; }
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/nearcache-$stamp
mkdir -p "$out" bench/results
raw=$out/raw.csv
echo "workload,rep,target,rps,p50_ms,p99_ms,proxy_cpu_us_per_req,hit_ratio,stale_p50_ms,stale_p99_ms" >"$raw"

declare -A port pid
cleanup() {
  kw_stop_pidfile "$out/kw-cache.pid"
  kw_stop_pidfile "$out/kw-nocache.pid"
  kw_stop_pidfile "$out/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port[redis]=$(kw_free_port)
kw_start_redis "$out/redis" "${port[redis]}" || { echo "bench: redis-server did not start" >&2; exit 1; }

# Two keywardens on the same Redis: one caching the benchmark's keys, one not.
start_kw() {  # name near_cache
  local name=$1 cache=$2
  port[$name]=$(kw_free_port)
  cat >"$out/$name.toml" <<TOML
[server]
workers = $workers
log_level = "warn"
listen = "127.0.0.1:${port[$name]}"

[upstream]
address = "127.0.0.1:${port[redis]}"

[metrics]
enabled = false

[[namespaces]]
name = "key"
pattern = "key:{id}"
near_cache = $cache

[[namespaces]]
name = "blacklist:access"
pattern = "blacklist:access:{jti}"
kind = "blacklist"
max_ttl_s = 2592000
ttl_required = true
TOML
  "$kw_bin" -c "$out/$name.toml" >"$out/$name.log" 2>&1 &
  pid[$name]=$!
  echo "${pid[$name]}" >"$out/$name.pid"
  kw_wait_pong "${port[$name]}" 10 "${pid[$name]}" || { tail -n 20 "$out/$name.log" >&2; exit 1; }
}
start_kw kw-cache true
start_kw kw-nocache false

# Data: 1,000 hot keys as redis-benchmark names them (key:%012d), the 100k keys of the zipf mix
# (the same names), and 500 of 1,000 blacklist keys revoked.
python3 - "$out/load.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    v = "x" * 64
    for i in range(100000):
        k = "key:%012d" % i
        f.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    for i in range(0, 1000, 2):
        k = "blacklist:access:%012d" % i
        f.write("*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n$2\r\nEX\r\n$5\r\n86400\r\n" % (len(k), k))
PY
redis-cli -p "${port[redis]}" --pipe <"$out/load.txt" >/dev/null
sleep 1  # the keywardens' blacklist replicas see the revocations

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
stat_field() { redis-cli -p "${port[kw-cache]}" KEYWARDEN CACHE STATS | awk -v k="$1" 'prev == k { print; exit } { prev = $0 }'; }

# run WORKLOAD REP TARGET N -- command...: one measured run; the command prints redis-benchmark
# CSV (or zipf_load's line).
record() {
  local w=$1 rep=$2 t=$3 n=$4 kind=$5
  shift 5
  local proxy_pid="" before=0 hits0=0 miss0=0
  [[ "$t" != redis ]] && proxy_pid=${pid[$t]}
  [[ -n "$proxy_pid" ]] && before=$(cpu_ticks "$proxy_pid")
  if [[ "$t" == kw-cache ]]; then hits0=$(stat_field hits); miss0=$(stat_field misses); fi
  local start_ns end_ns
  start_ns=$(date +%s%N)
  "$@" >"$out/$w-$rep-$t.out" 2>"$out/$w-$rep-$t.err" || { echo "bench: $w $t failed" >&2; return 1; }
  end_ns=$(date +%s%N)
  local cpu="" hr=""
  if [[ "$t" == kw-cache ]]; then
    local h m
    h=$(($(stat_field hits) - hits0)); m=$(($(stat_field misses) - miss0))
    (( h + m > 0 )) && hr=$(awk -v h=$h -v m=$m 'BEGIN { printf "%.4f", h / (h + m) }')
  fi
  local rps p50 p99 s50="" s99=""
  if [[ $kind == csv ]]; then
    read -r rps p50 p99 < <(tr -d '"' <"$out/$w-$rep-$t.out" | awk -F, 'NR == 2 { print $2, $5, $7 }')
  else
    rps=$(sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p' "$out/$w-$rep-$t.out")
    s50=$(sed -n 's/.*stale_p50_ms=\([0-9.]*\).*/\1/p' "$out/$w-$rep-$t.out")
    s99=$(sed -n 's/.*stale_p99_ms=\([0-9.]*\).*/\1/p' "$out/$w-$rep-$t.out")
    p50=""; p99=""
    n=$(awk -v r="$rps" -v a="$start_ns" -v b="$end_ns" 'BEGIN { printf "%d", r * (b - a) / 1e9 }')
  fi
  if [[ -n "$proxy_pid" ]]; then
    cpu=$(awk -v d=$(($(cpu_ticks "$proxy_pid") - before)) -v hz="$clk_tck" -v n="$n" \
      'BEGIN { if (n > 0) printf "%.3f", d * 1e6 / hz / n }')
  fi
  echo "$w,$rep,$t,$rps,$p50,$p99,$cpu,$hr,$s50,$s99" >>"$raw"
  printf 'bench: %-18s rep %d %-10s %10.0f/s %s%s%s\n' "$w" "$rep" "$t" "$rps" "${cpu:+cpu ${cpu}us/req }" \
    "${hr:+hit ratio $hr }" "${s99:+stale p99 ${s99}ms}"
}

rb() { redis-benchmark -h 127.0.0.1 -p "$1" --csv "${@:2}"; }

echo "bench: reps $reps, keywarden workers $workers, raw data $raw"
targets=(redis kw-cache kw-nocache)
# Warm-up (not recorded): the caches fill, the replicas load, connections exist.
for t in "${targets[@]}"; do
  "$zipf_bin" --read-port "${port[$t]}" --write-port "${port[redis]}" --clients 50 --pipeline 16 \
    --seconds "${WARMUP_SECONDS:-3}" --keys 100000 --probe 0 >/dev/null
done
for ((rep = 1; rep <= reps; rep++)); do
  order=("${targets[@]:rep % 3}" "${targets[@]:0:rep % 3}")
  for t in "${order[@]}"; do
    record get-c50-P16 "$rep" "$t" "$n_p16" csv rb "${port[$t]}" -t get -r 1000 -n "$n_p16" -c 50 -P 16
  done
  for t in "${order[@]}"; do
    record get-c50-P1 "$rep" "$t" "$n_p1" csv rb "${port[$t]}" -t get -r 1000 -n "$n_p1" -c 50 -P 1
  done
  for t in redis kw-cache; do
    record exists-bl-c50-P16 "$rep" "$t" "$n_p16" csv rb "${port[$t]}" -r 1000 -n "$n_p16" -c 50 -P 16 \
      EXISTS 'blacklist:access:__rand_int__'
  done
  for t in "${order[@]}"; do
    record zipf "$rep" "$t" 0 line "$zipf_bin" --read-port "${port[$t]}" --write-port "${port[redis]}" \
      --clients 50 --pipeline 16 --seconds "$zipf_seconds" --keys 100000 --s 0.99 --write-ratio 0.05
  done
done

{
  echo "# keywarden near cache benchmark"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), nproc $(nproc)"
  echo "- redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//'); keywarden commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), workers = $workers; reps $reps"
  echo "- command: bash bench/nearcache.sh (REPS=$reps N_P16=$n_p16 N_P1=$n_p1 ZIPF_SECONDS=$zipf_seconds)"
  echo
  python3 bench/nearcache_report.py "$raw"
} >bench/results/nearcache-latest.md
cp bench/results/nearcache-latest.md "$out/report.md"
cat bench/results/nearcache-latest.md
