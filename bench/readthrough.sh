#!/usr/bin/env bash
# PostgreSQL read-through benchmarks (issue 10), all on loopback, in one run:
#   miss path  GETs of distinct uncached keys through keywarden vs the application's own
#              cache-aside (GET Redis, SELECT PostgreSQL, SET EX Redis): p50/p99, throughput.
#              Target: keywarden's miss p50 <= 0.7x the application's.
#   stampede   CONNS x PER concurrent GETs of one uncached key: queries made (target 1), p99.
#   hit path   redis-benchmark GETs of filled keys of the read-through namespace vs GETs of a
#              plain namespace, keywarden's CPU per request (target: at most 5% more).
# Writes bench/results/readthrough-latest.md. Environment: KEYS (20000), THREADS (50),
# CONNS (50), PER (20), HIT_N (300000), HIT_KEYS (10000), KW_WORKERS (0), BUILD (build).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

build=${BUILD:-build}
keys=${KEYS:-20000}
threads=${THREADS:-50}
conns=${CONNS:-50}
per=${PER:-20}
hit_n=${HIT_N:-1000000}
hit_keys=${HIT_KEYS:-10000}
workers=${KW_WORKERS:-0}
for bin in keywarden readthrough_bench; do
  [[ -x "$build/$bin" ]] || { echo "bench: $build/$bin missing (meson compile -C $build)" >&2; exit 1; }
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/readthrough-$stamp
mkdir -p "$out" bench/results
chmod 755 "$out"
cleanup() {
  kw_stop_pidfile "$out/keywarden.pid"
  kw_stop_pg "$out/pg"
  kw_stop_pidfile "$out/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port=$(kw_free_port)
kw_start_redis "$out/redis" "$redis_port" || { echo "bench: redis-server did not start" >&2; exit 1; }
pg_port=$(kw_free_port)
kw_start_pg "$out/pg" "$pg_port" || { echo "bench: PostgreSQL did not start; see $out/pg" >&2; exit 1; }
kw_psql "$pg_port" postgres -c 'CREATE DATABASE apidb'
kw_psql "$pg_port" apidb -f conf/sql/profiles.sql >/dev/null
rows=$((2 * keys + 100 + 4 * (keys / 10 + 1)))  # measured, warm-up, 1-thread ids
kw_psql "$pg_port" apidb -c "CREATE EXTENSION pg_stat_statements;
  INSERT INTO profiles (user_id, first_name, last_name, email)
  SELECT ('bbbbbbbb-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid, 'F' || g, 'L' || g,
         'u' || g || '@example.com' FROM generate_series(1, $rows) g;"
conninfo="host=127.0.0.1 port=$pg_port dbname=apidb user=postgres"

kw_port=$(kw_free_port)
cat >"$out/keywarden.toml" <<TOML
[server]
listen = "127.0.0.1:$kw_port"
workers = $workers
log_level = "warn"
[upstream]
address = "127.0.0.1:$redis_port"
[metrics]
enabled = false
[[postgres]]
name = "apidb"
conninfo = "$conninfo"
connections = 4
[[namespaces]]
name = "profile"
pattern = "profile:{user_id:uuid}"
default_ttl_s = 300
read_through = { source = "apidb", query = "SELECT row_to_json(p)::text FROM profiles p WHERE user_id = \$1", params = ["user_id"], notify_channel = "profile_changed" }
[[namespaces]]
name = "plain"
pattern = "plain:{user_id:uuid}"
default_ttl_s = 300
TOML
nohup "$build/keywarden" -c "$out/keywarden.toml" >"$out/keywarden.log" 2>&1 </dev/null &
kw_pid=$!
echo "$kw_pid" >"$out/keywarden.pid"
kw_wait_pong "$kw_port" 15 "$kw_pid" || { echo "bench: keywarden did not start" >&2; exit 1; }
sleep 1  # pools connected

echo "== miss path ($keys keys, $threads threads)"
# Warm-up (connections, prepared statements), not measured: ids past the measured ones.
"$build/readthrough_bench" miss "$kw_port" "$redis_port" "$conninfo" "$((keys / 10 + 1))" "$threads" \
  "$((2 * keys + 100))" >/dev/null
"$build/readthrough_bench" miss "$kw_port" "$redis_port" "$conninfo" "$keys" "$threads" 1 | tee "$out/miss.txt"
# One client at a time: the round trips saved, without the CPU queueing of 50 threads on this box.
echo "== miss path, 1 thread ($((keys / 10)) keys)"
"$build/readthrough_bench" miss "$kw_port" "$redis_port" "$conninfo" "$((keys / 10))" 1 \
  "$((2 * keys + 100 + 2 * (keys / 10 + 1)))" | sed 's/^miss /miss-1-thread /' | tee -a "$out/miss.txt"

echo "== stampede ($conns x $per GETs of one key)"
stampede_id=$(printf 'bbbbbbbb-0000-0000-0000-%012x' $((2 * keys + 5)))
kw_psql "$pg_port" apidb -c 'SELECT pg_stat_statements_reset()' >/dev/null
"$build/readthrough_bench" stampede "$kw_port" "$conninfo" "$stampede_id" "$conns" "$per" | tee "$out/stampede.txt"

echo "== hit path ($hit_keys filled keys, $hit_n GETs each)"
# Both namespaces hold the same values in Redis; redis-benchmark's __rand_int__ is 12 digits,
# which makes the last group of a uuid.
value='{"user_id":"x","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"}'
# (RESP, not inline commands: the value's quotes would not survive Redis's inline parsing)
python3 - "$hit_keys" "$value" <<'PY' | redis-cli -p "$redis_port" --pipe >/dev/null
import sys
n, value = int(sys.argv[1]), sys.argv[2]
def cmd(*args):
    return "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)
out = []
for i in range(n):
    uid = "00000000-0000-0000-0000-%012d" % i
    out.append(cmd("SET", "profile:" + uid, value, "EX", "3000"))
    out.append(cmd("SET", "plain:" + uid, value, "EX", "3000"))
sys.stdout.write("".join(out))
PY
cpu_ticks() { awk '{print $14 + $15}' "/proc/$kw_pid/stat"; }
hz=$(getconf CLK_TCK)
# Interleaved, HIT_REPS reps each, pipelined (-P 16: the proxy's own work per request shows,
# not the kernel's per-syscall cost); the median CPU per request of each namespace is compared.
declare -A cpu_runs
for ((rep = 1; rep <= ${HIT_REPS:-5}; rep++)); do
  for ns in plain profile; do
    t0=$(cpu_ticks)
    redis-benchmark -p "$kw_port" -c 50 -P 16 -n "$hit_n" -r "$hit_keys" -q \
      GET "$ns:00000000-0000-0000-0000-__rand_int__" >"$out/hit-$ns.raw" 2>&1
    tr '\r' '\n' <"$out/hit-$ns.raw" | grep 'requests per second' | tail -n 1 | tee -a "$out/hit.txt"
    t1=$(cpu_ticks)
    us=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$hit_n" 'BEGIN { printf "%.3f", d / hz * 1e6 / n }')
    cpu_runs[$ns]+="$us "
    echo "$ns rep $rep: keywarden CPU $us us/request" | tee -a "$out/hit.txt"
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
plain_med=$(median <<<"${cpu_runs[plain]}")
profile_med=$(median <<<"${cpu_runs[profile]}")
ratio=$(awk -v a="$profile_med" -v b="$plain_med" 'BEGIN { printf "%.3f", a / b }')
echo "hit path CPU medians: plain $plain_med, read-through $profile_med us/request; ratio $ratio (target <= 1.05)" | tee -a "$out/hit.txt"

{
  echo "# Read-through benchmark, $stamp"
  echo
  echo "2-core VM, loopback; keywarden workers=$workers; release build. Raw output in $out."
  echo
  echo '```'
  cat "$out/miss.txt" "$out/stampede.txt" "$out/hit.txt"
  echo '```'
} >bench/results/readthrough-latest.md
echo "bench: wrote bench/results/readthrough-latest.md"
