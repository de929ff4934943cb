#!/usr/bin/env bash
# What the policy chain and the metrics cost, in proxy CPU microseconds per request, measured in
# the same run on the same Redis with three keywarden processes:
#   plain    no namespaces, no users (implicit full-access default user), metrics on
#   policy   the production policy (conf/keywarden.production.toml: namespaces, users, AUTH as
#            auth-service, TTL rules: every SET below is rewritten to SET ... EX 2592000)
#   nometrics  as plain, with [metrics] enabled = false, collect = false (no recording at all)
# Keys are in the session namespace (session:11111111-2222-3333-4444-<12 digits>:s1), so the
# policy run resolves, checks and rewrites every request. Targets are interleaved, REPS reps,
# medians reported. CPU = utime+stime of the proxy process (all threads) around each run.
#
# Environment: REPS (5), N (100000 per command at P1; x5 at P16), KW_WORKERS (1),
# KEYWARDEN_BIN (build/keywarden).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

reps=${REPS:-5}
n1=${N:-100000}
workers=${KW_WORKERS:-1}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
[[ -x "$kw_bin" ]] || { echo "overhead: $kw_bin missing (meson compile -C build)" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/overhead-$stamp
mkdir -p "$out" bench/results
targets=(plain policy nometrics)
declare -A port pid

cleanup() {
  for t in "${targets[@]}"; do kw_stop_pidfile "$out/$t.pid"; done
  kw_stop_pidfile "$out/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port=$(kw_free_port)
kw_start_redis "$out/redis" "$redis_port" || { echo "overhead: redis did not start" >&2; exit 1; }

policy_blocks=$(sed -n '/^\[\[namespaces\]\]/,$p' conf/keywarden.production.toml)
for t in "${targets[@]}"; do
  port[$t]=$(kw_free_port)
  metrics=true
  [[ $t == nometrics ]] && metrics=false
  {
    printf '[server]\nworkers = %s\nlog_level = "warn"\n' "$workers"
    printf '[metrics]\nenabled = %s\ncollect = %s\nlisten = "127.0.0.1:%s"\n' "$metrics" "$metrics" \
      "$(kw_free_port)"
    if [[ $t == policy ]]; then
      printf '[policy]\noutside_namespaces = "refuse"\ndefault_user = ""\n%s\n' "$policy_blocks"
    fi
  } >"$out/$t.toml"
  "$kw_bin" -c "$out/$t.toml" --upstream "127.0.0.1:$redis_port" --listen "127.0.0.1:${port[$t]}" \
    >"$out/$t.log" 2>&1 &
  pid[$t]=$!
  echo "${pid[$t]}" >"$out/$t.pid"
  # PING is allowed before AUTH, so this works for the policy target too.
  kw_wait_pong "${port[$t]}" 10 "${pid[$t]}" || { echo "overhead: $t did not start" >&2; exit 1; }
done

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
clk_tck=$(getconf CLK_TCK)
value=$(printf 'v%.0s' {1..64})
key='session:11111111-2222-3333-4444-__rand_int__:s1'
raw=$out/raw.csv
echo "workload,rep,target,command,rps,cpu_us_per_req" >"$raw"

for wl in P1:1:$n1 P16:16:$((n1 * 5)); do
  IFS=: read -r wname pipeline n <<<"$wl"
  for ((rep = 1; rep <= reps; rep++)); do
    order=("${targets[@]:rep % 3}" "${targets[@]:0:rep % 3}")
    for t in "${order[@]}"; do
      auth=()
      [[ $t == policy ]] && auth=(--user auth-service -a auth-service-secret)
      for cmd in SET GET; do
        args=("$cmd" "$key")
        [[ $cmd == SET ]] && args+=("$value")
        before=$(cpu_ticks "${pid[$t]}")
        rps=$(redis-benchmark -h 127.0.0.1 -p "${port[$t]}" "${auth[@]}" -n "$n" -c 50 \
          -P "$pipeline" -r 100000 --csv "${args[@]}" 2>"$out/err.txt" |
          tr -d '"' | awk -F, 'NR == 2 { print $2 }')
        after=$(cpu_ticks "${pid[$t]}")
        cpu=$(awk -v d=$((after - before)) -v hz="$clk_tck" -v n="$n" \
          'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
        echo "$wname,$rep,$t,$cmd,$rps,$cpu" >>"$raw"
        printf 'overhead: %-3s rep %d %-9s %s %8.0f/s cpu %sus/req\n' "$wname" "$rep" "$t" "$cmd" \
          "${rps:-0}" "$cpu"
      done
    done
  done
done

# Errors would make the numbers meaningless (a refused request is cheap): check the policy run
# really wrote keys with the namespace TTL.
key1=$(redis-cli -p "$redis_port" --scan --pattern 'session:*' 2>/dev/null | head -1 || true)
ttl=$(redis-cli -p "$redis_port" ttl "$key1" 2>/dev/null || true)

python3 bench/overhead_report.py "$raw" "$workers" "$ttl" | tee bench/results/overhead-latest.md
