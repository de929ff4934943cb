#!/usr/bin/env bash
# Throughput/latency/CPU comparison: redis-benchmark against Redis directly, through keywarden
# and through twemproxy (nutcracker), all on loopback. See bench/README.md.
#
# Environment: REPS (5), KW_WORKERS (0 = keywarden's default), KEYWARDEN_BIN (build/keywarden), N_P1 (100000),
# N_P16 (500000), N_C200 (100000), TARGETS ("redis keywarden twemproxy").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

reps=${REPS:-5}
workers=${KW_WORKERS:-0}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
read -r -a targets <<<"${TARGETS:-redis keywarden twemproxy}"
# name:clients:pipeline:requests-per-test; each redis-benchmark run (SET then GET) lasts a few
# seconds through a proxy, long enough that 10 ms CPU ticks and warm-up do not dominate.
workloads=("c50-P1:50:1:${N_P1:-100000}" "c50-P16:50:16:${N_P16:-500000}"
           "c200-P1:200:1:${N_C200:-100000}")

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/$stamp
mkdir -p "$out" bench/results
raw=$out/raw.csv
echo "workload,rep,target,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,proxy_cpu_us_per_req" >"$raw"

declare -A port pid
cleanup() {
  for f in "$out"/keywarden*.pid; do kw_stop_pidfile "$f"; done
  kw_stop_pidfile "$out/nutcracker.pid"
  kw_stop_pidfile "$out/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port[redis]=$(kw_free_port)
kw_start_redis "$out/redis" "${port[redis]}" || { echo "bench: redis-server did not start" >&2; exit 1; }
pid[redis]=$(<"$out/redis/redis.pid")

has_target() { [[ " ${targets[*]} " == *" $1 "* ]]; }

# keywarden targets: "keywarden" (KW_WORKERS workers, 0 = the default) and "keywarden-wN" (N
# workers), so worker counts are compared in the same interleaved run.
kw_targets=()
for t in "${targets[@]}"; do
  [[ "$t" =~ ^keywarden(-w([0-9]+))?$ ]] && kw_targets+=("$t")
done
if ((${#kw_targets[@]} > 0)) && [[ ! -x "$kw_bin" ]]; then
  echo "bench: WARNING: $kw_bin not found (build it: meson compile -C build); skipping keywarden" >&2
  kept=()
  for t in "${targets[@]}"; do
    [[ "$t" =~ ^keywarden ]] || kept+=("$t")
  done
  targets=("${kept[@]}")
  kw_targets=()
fi
for t in "${kw_targets[@]}"; do
  [[ "$t" =~ ^keywarden-w([0-9]+)$ ]] && tw=${BASH_REMATCH[1]} || tw=$workers
  port[$t]=$(kw_free_port)
  metrics_port=$(kw_free_port)
  cat >"$out/$t.toml" <<TOML
[server]
workers = $tw
log_level = "warn"

[metrics]
enabled = true
listen = "127.0.0.1:$metrics_port"
TOML
  "$kw_bin" -c "$out/$t.toml" --upstream "127.0.0.1:${port[redis]}" \
    --listen "127.0.0.1:${port[$t]}" >"$out/$t.log" 2>&1 &
  pid[$t]=$!
  echo "${pid[$t]}" >"$out/$t.pid"
  if ! kw_wait_pong "${port[$t]}" 10 "${pid[$t]}"; then
    echo "bench: $t did not answer PING; log:" >&2
    tail -n 20 "$out/$t.log" >&2
    exit 1
  fi
done

if has_target twemproxy; then
  port[twemproxy]=$(kw_free_port)
  cat >"$out/nutcracker.yml" <<YAML
bench:
  listen: 127.0.0.1:${port[twemproxy]}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  server_connections: 1
  servers:
   - 127.0.0.1:${port[redis]}:1
YAML
  nutcracker -c "$out/nutcracker.yml" -o "$out/nutcracker.log" -s "$(kw_free_port)" -a 127.0.0.1 &
  pid[twemproxy]=$!
  echo "${pid[twemproxy]}" >"$out/nutcracker.pid"
  if ! kw_wait_pong "${port[twemproxy]}" 10 "${pid[twemproxy]}"; then
    echo "bench: nutcracker did not answer PING; log:" >&2
    tail -n 20 "$out/nutcracker.log" >&2
    exit 1
  fi
fi

clk_tck=$(getconf CLK_TCK)
# utime + stime of every thread, in clock ticks. The command name (field 2) may contain spaces,
# so fields are counted after its closing parenthesis: utime/stime become the 12th/13th.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

echo "bench: targets: ${targets[*]}; reps: $reps; keywarden workers: $workers; raw data: $raw"
failures=0
for w in "${workloads[@]}"; do
  IFS=: read -r wname clients pipeline n <<<"$w"
  for ((rep = 1; rep <= reps; rep++)); do
    # Rotating the order each rep keeps a slow drift (thermal, page cache) from favouring one target.
    order=("${targets[@]:rep % ${#targets[@]}}" "${targets[@]:0:rep % ${#targets[@]}}")
    for t in "${order[@]}"; do
      proxy_pid=""
      [[ "$t" != redis ]] && proxy_pid=${pid[$t]}
      if [[ -n "$proxy_pid" ]] && ! kill -0 "$proxy_pid" 2>/dev/null; then
        echo "bench: $t (pid $proxy_pid) is gone; see $out/$t.log" >&2
        failures=$((failures + 1))
        continue
      fi
      before=0
      [[ -n "$proxy_pid" ]] && before=$(cpu_ticks "$proxy_pid")
      csv=$out/$wname-$rep-$t.csv
      if ! redis-benchmark -h 127.0.0.1 -p "${port[$t]}" -t get,set -d 64 -r 100000 -n "$n" \
        -c "$clients" -P "$pipeline" --csv >"$csv" 2>"$out/$wname-$rep-$t.err"; then
        echo "bench: redis-benchmark failed against $t ($wname rep $rep)" >&2
        failures=$((failures + 1))
        continue
      fi
      cpu=""
      if [[ -n "$proxy_pid" ]]; then
        after=$(cpu_ticks "$proxy_pid")
        cpu=$(awk -v d=$((after - before)) -v hz="$clk_tck" -v n="$n" \
          'BEGIN { printf "%.3f", d * 1e6 / hz / (2 * n) }')
      fi
      # redis-benchmark --csv: "test","rps","avg","min","p50","p95","p99","max" (ms)
      tr -d '"' <"$csv" | awk -F, -v pre="$wname,$rep,$t" -v cpu="$cpu" \
        '$1 == "GET" || $1 == "SET" { print pre "," $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," $7 "," $8 "," cpu }' \
        >>"$raw"
      printf 'bench: %-8s rep %d %-9s %s\n' "$wname" "$rep" "$t" \
        "$(tr -d '"' <"$csv" | awk -F, '$1 == "GET" || $1 == "SET" { printf "%s %.0f/s  ", $1, $2 }')${cpu:+cpu ${cpu}us/req}"
    done
  done
done

describe() {
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), nproc $(nproc)"
  echo "- kernel: $(uname -sr)"
  echo "- redis: $(redis-server --version | awk '{print $3}' | sed 's/^v=//')"
  echo "- twemproxy: $(nutcracker -V 2>&1 | sed -n 's/^This is nutcracker-//p')"
  if ((${#kw_targets[@]} > 0)); then
    echo "- keywarden: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'); targets ${kw_targets[*]} (keywarden = workers $workers, 0 = the default; keywarden-wN = N workers)"
  else
    echo "- keywarden: not run ($kw_bin missing)"
  fi
  echo "- reps: $reps; redis-benchmark -t get,set -d 64 -r 100000; all on loopback, one machine"
}
{
  echo "# keywarden benchmark"
  echo
  describe
  echo
  python3 bench/report.py "$raw"
} >bench/results/latest.md
cp bench/results/latest.md "$out/report.md"
cat bench/results/latest.md
if ((failures > 0)); then
  echo "bench: $failures run(s) failed; see $out" >&2
  exit 1
fi
