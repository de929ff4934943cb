#!/usr/bin/env bash
# Rate limiting, in one run on one Redis (see bench/README.md, "Rate limiting"):
#
#   throttle   CL.THROTTLE through keywarden vs the same Redis function called directly
#              (FCALL keywarden_throttle_v1), c50 P1 and c50 P16: throughput, p50/p99, and
#              keywarden's CPU per call. Target: at least 1.0x of direct.
#   fallback   CL.THROTTLE through keywarden with its Redis stopped (answered from the local
#              fallback): calls per second and CPU per call.
#   protect    GET at c50 P16 through two keywardens, one with a per-user protective limit high
#              enough never to refuse, one without: CPU per request. Target: at most +5%.
#
# Keys: rl:bench:<random 1..100000>, CL.THROTTLE <key> 1000000 1000000 1 (never limited, so
# every call writes). Targets are interleaved, REPS reps, medians reported.
#
# Environment: REPS (5), N (200000 calls per run at P1; x5 at P16), KW_WORKERS (0: one per CPU),
# KEYWARDEN_BIN (build/keywarden), PARTS ("throttle protect fallback").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

reps=${REPS:-5}
n1=${N:-200000}
workers=${KW_WORKERS:-0}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
read -r -a parts <<<"${PARTS:-throttle protect fallback}"
[[ -x "$kw_bin" ]] || { echo "ratelimit bench: $kw_bin missing (meson compile -C build)" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/ratelimit-$stamp
mkdir -p "$out" bench/results
declare -A port pid
kws=(plain limited)

cleanup() {
  for t in "${kws[@]}"; do kw_stop_pidfile "$out/$t.pid"; done
  kw_stop_pidfile "$out/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port=$(kw_free_port)
kw_start_redis "$out/redis" "$redis_port" || { echo "ratelimit bench: redis did not start" >&2; exit 1; }

# plain: no protective limit; limited: the default user limited far above what the run reaches.
for t in "${kws[@]}"; do
  port[$t]=$(kw_free_port)
  {
    printf '[server]\nworkers = %s\nlog_level = "warn"\n' "$workers"
    printf '[metrics]\nenabled = false\n'
    if [[ $t == limited ]]; then
      printf '[[users]]\nname = "default"\nnopass = true\nadmin = true\n'
      printf 'rate_limit = { rate = 1000000000, period_s = 1, burst = 1000000000 }\n'
    fi
  } >"$out/$t.toml"
  "$kw_bin" -c "$out/$t.toml" --upstream "127.0.0.1:$redis_port" --listen "127.0.0.1:${port[$t]}" \
    >"$out/$t.log" 2>&1 &
  pid[$t]=$!
  echo "${pid[$t]}" >"$out/$t.pid"
  kw_wait_pong "${port[$t]}" 10 "${pid[$t]}" || { echo "ratelimit bench: $t did not start" >&2; exit 1; }
done

# Loads the function (the first CL.THROTTLE does) and checks both paths answer alike.
throttle_args=(rl:bench:__rand_int__ 1000000 1000000 1)
redis-cli -p "${port[plain]}" CL.THROTTLE rl:bench:check 1000000 1000000 1 >/dev/null
redis-cli -p "$redis_port" FCALL keywarden_throttle_v1 1 rl:bench:check 1000000 1000000 1 >/dev/null

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
clk_tck=$(getconf CLK_TCK)
raw=$out/raw.csv
echo "part,workload,rep,target,rps,p50_ms,p99_ms,cpu_us_per_call" >"$raw"

# run PART WORKLOAD REP TARGET PORT PID PIPELINE N COMMAND...
run() {
  local part=$1 wl=$2 rep=$3 target=$4 p=$5 proc=$6 pipeline=$7 n=$8
  shift 8
  local before=0 after=0 cpu="" line
  [[ -n "$proc" ]] && before=$(cpu_ticks "$proc")
  line=$(redis-benchmark -h 127.0.0.1 -p "$p" -n "$n" -c 50 -P "$pipeline" -r 100000 --csv \
    "$@" 2>>"$out/err.txt" | tr -d '"' | awk -F, 'NR == 2 { print $2 "," $5 "," $7 }')
  if [[ -n "$proc" ]]; then
    after=$(cpu_ticks "$proc")
    cpu=$(awk -v d=$((after - before)) -v hz="$clk_tck" -v n="$n" \
      'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
  fi
  echo "$part,$wl,$rep,$target,$line,$cpu" >>"$raw"
  printf 'ratelimit: %-8s %-4s rep %d %-10s %s cpu %sus/call\n' "$part" "$wl" "$rep" "$target" \
    "$line" "${cpu:--}"
}

has_part() { [[ " ${parts[*]} " == *" $1 "* ]]; }

for wl in P1:1:$n1 P16:16:$((n1 * 5)); do
  IFS=: read -r wname pipeline n <<<"$wl"
  for ((rep = 1; rep <= reps; rep++)); do
    if has_part throttle; then
      if ((rep % 2)); then order=(keywarden direct); else order=(direct keywarden); fi
      for t in "${order[@]}"; do
        if [[ $t == keywarden ]]; then
          run throttle "$wname" "$rep" keywarden "${port[plain]}" "${pid[plain]}" "$pipeline" "$n" \
            CL.THROTTLE "${throttle_args[@]}"
        else
          run throttle "$wname" "$rep" direct "$redis_port" "" "$pipeline" "$n" \
            FCALL keywarden_throttle_v1 1 "${throttle_args[@]}"
        fi
      done
    fi
    if has_part protect && [[ $wname == P16 ]]; then
      if ((rep % 2)); then order=(plain limited); else order=(limited plain); fi
      for t in "${order[@]}"; do
        run protect "$wname" "$rep" "$t" "${port[$t]}" "${pid[$t]}" "$pipeline" "$n" \
          GET key:__rand_int__
      done
    fi
  done
done

if has_part fallback; then
  kw_stop_pidfile "$out/redis/redis.pid"
  sleep 0.5
  for wl in P1:1:$n1 P16:16:$((n1 * 5)); do
    IFS=: read -r wname pipeline n <<<"$wl"
    for ((rep = 1; rep <= reps; rep++)); do
      run fallback "$wname" "$rep" keywarden "${port[plain]}" "${pid[plain]}" "$pipeline" "$n" \
        CL.THROTTLE "${throttle_args[@]}"
    done
  done
  grep -q "answering from this process" "$out/plain.log" ||
    echo "ratelimit bench: WARNING: keywarden never logged the fallback" >&2
fi

{
  echo "# keywarden rate-limit benchmark"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), nproc $(nproc)"
  echo "- redis: $(redis-server --version | awk '{print $3}' | sed 's/^v=//'); keywarden: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), workers = $workers"
  echo "- reps: $reps; redis-benchmark -c 50 -r 100000; CL.THROTTLE ${throttle_args[*]}"
  echo
  python3 bench/ratelimit_report.py "$raw"
} | tee bench/results/ratelimit-latest.md
