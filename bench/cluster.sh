#!/usr/bin/env bash
# Redis Cluster behind one address (issue 16): a real 3-master 3-replica cluster on loopback
# (tests/integration/cluster_up.js), and in the same run, interleaved (the order rotates each rep):
#   direct     redis-benchmark --cluster straight to the cluster (no proxy)
#   keywarden  keywarden in cluster mode (one worker unless KW_WORKERS)
#   predixy    predixy in cluster mode (one worker thread), built from its public source by
#              bench/build-predixy.sh (skipped with a warning when it cannot be built)
# Workloads (redis-benchmark, -r 100000 random keys, 64-byte values): SET/GET at c50 -P 1 and -P 16,
# and MGET of 10 random keys (slots on every master: split by the proxy; not possible direct, so
# direct has no MGET row). Per target: throughput, p99, proxy CPU microseconds per request
# (utime+stime of the proxy process around each run, /proc/PID/stat), medians over REPS.
# Targets: keywarden's CPU per request <= 0.8x predixy's; throughput >= 1.0x predixy's.
# Report: bench/results/cluster-latest.md.
#
# Environment: REPS (3), N_P1 (100000), N_P16 (500000), N_MGET (100000), KEYWARDEN_BIN
# (build/keywarden), KW_WORKERS (1), PREDIXY_BIN (built when unset).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

reps=${REPS:-3}
n_p1=${N_P1:-100000}
n_p16=${N_P16:-500000}
n_mget=${N_MGET:-100000}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
workers=${KW_WORKERS:-1}
[[ -x $kw_bin ]] || { echo "cluster: $kw_bin not found (meson compile -C build keywarden)" >&2; exit 1; }

load_at_start=$(cut -d" " -f1 /proc/loadavg)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/cluster-$stamp
mkdir -p "$out" bench/results
raw=$out/raw.csv
echo "workload,rep,target,test,rps,p99_ms,cpu_us_per_req" >"$raw"

declare -A port pid
cluster_pid=""
cleanup() {
  for t in keywarden predixy; do
    [[ -n ${pid[$t]:-} ]] && kill "${pid[$t]}" 2>/dev/null || true
  done
  [[ -n $cluster_pid ]] && kill "$cluster_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The cluster: cluster_up.js prints its seeds on the first line and keeps it up until killed.
(cd tests/integration && exec node cluster_up.js 3 1 7200) >"$out/cluster.log" 2>&1 &
cluster_pid=$!
for _ in $(seq 1 120); do
  grep -q 'cluster up' "$out/cluster.log" 2>/dev/null && break
  kill -0 "$cluster_pid" 2>/dev/null || { echo "cluster: the cluster did not start:" >&2; cat "$out/cluster.log" >&2; exit 1; }
  sleep 1
done
grep -q 'cluster up' "$out/cluster.log" || { echo "cluster: the cluster did not come up in 120 s" >&2; exit 1; }
read -r -a nodes <<<"$(head -n 1 "$out/cluster.log")"
masters=("${nodes[@]:0:3}")
seed_port=${masters[0]##*:}
port[direct]=$seed_port

targets=(direct keywarden)
port[keywarden]=$(kw_free_port)
seeds_toml=$(printf '"%s", ' "${masters[@]}")
cat >"$out/keywarden.toml" <<TOML
[server]
listen = "127.0.0.1:${port[keywarden]}"
workers = $workers
log_level = "warn"

[upstream]
mode = "cluster"
seeds = [${seeds_toml%, }]

[metrics]
enabled = false
TOML
"$kw_bin" -c "$out/keywarden.toml" >"$out/keywarden.log" 2>&1 &
pid[keywarden]=$!
kw_wait_pong "${port[keywarden]}" 10 "${pid[keywarden]}" || { echo "cluster: keywarden did not start:" >&2; tail -n 20 "$out/keywarden.log" >&2; exit 1; }

predixy_bin=${PREDIXY_BIN:-}
if [[ -z $predixy_bin ]]; then
  predixy_bin=$(bash bench/build-predixy.sh 2>"$out/predixy-build.log") || predixy_bin=""
fi
if [[ -n $predixy_bin && -x $predixy_bin ]]; then
  port[predixy]=$(kw_free_port)
  bash bench/predixy-cluster-conf.sh "127.0.0.1:${port[predixy]}" "${masters[@]}" >"$out/predixy.conf"
  "$predixy_bin" "$out/predixy.conf" >"$out/predixy.log" 2>&1 &
  pid[predixy]=$!
  kw_wait_pong "${port[predixy]}" 10 "${pid[predixy]}" || { echo "cluster: predixy did not start:" >&2; tail -n 20 "$out/predixy.log" >&2; exit 1; }
  targets+=(predixy)
else
  echo "cluster: WARNING: predixy could not be built (see $out/predixy-build.log); no predixy rows" >&2
fi

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
failures=0

# run TARGET WORKLOAD REP N ARGS...: one redis-benchmark invocation, every test's row recorded.
run() {
  local t=$1 w=$2 rep=$3 n=$4
  shift 4
  local csv=$out/$w-$rep-$t.csv before=0 extra=()
  [[ $t == direct ]] && extra=(--cluster)
  [[ $t != direct ]] && before=$(cpu_ticks "${pid[$t]}")
  if ! redis-benchmark -h 127.0.0.1 -p "${port[$t]}" "${extra[@]}" -n "$n" -r 100000 -d 64 -c 50 --csv "$@" \
    >"$csv" 2>"$out/$w-$rep-$t.err"; then
    echo "cluster: $w rep $rep $t: redis-benchmark failed ($(tail -n 1 "$out/$w-$rep-$t.err"))" >&2
    failures=$((failures + 1))
    return 0
  fi
  local cpu="-"
  if [[ $t != direct ]]; then
    local ticks=$(($(cpu_ticks "${pid[$t]}") - before))
    local tests
    tests=$(grep -c '^"[A-Z]' "$csv" || true)
    cpu=$(awk -v d="$ticks" -v hz="$clk_tck" -v n="$n" -v k="$tests" 'BEGIN { printf "%.2f", d * 1e6 / hz / (n * (k > 0 ? k : 1)) }')
  fi
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  while IFS=, read -r test rps _ _ _ _ p99 _; do
    test=${test//\"/}
    rps=${rps//\"/}
    [[ $rps =~ ^[0-9.]+$ ]] || continue  # --cluster prints its node list into the CSV too
    [[ $w == MGET10 ]] && test=MGET10
    echo "$w,$rep,$t,$test,${rps//\"/},${p99//\"/},$cpu" >>"$raw"
    printf 'cluster: %-10s rep %d %-10s %-6s %10s req/s p99 %8s ms cpu %s us/req\n' "$w" "$rep" "$t" "$test" "${rps//\"/}" "${p99//\"/}" "$cpu"
  done <"$csv"
}

mget_args=(MGET)
for i in $(seq 1 10); do mget_args+=("k$i:__rand_int__"); done

for rep in $(seq 1 "$reps"); do
  order=("${targets[@]:$(( (rep - 1) % ${#targets[@]} ))}" "${targets[@]:0:$(( (rep - 1) % ${#targets[@]} ))}")
  for t in "${order[@]}"; do run "$t" P1 "$rep" "$n_p1" -t set,get -P 1; done
  for t in "${order[@]}"; do run "$t" P16 "$rep" "$n_p16" -t set,get -P 16; done
  for t in "${order[@]}"; do
    [[ $t == direct ]] && continue
    run "$t" MGET10 "$rep" "$n_mget" -P 1 "${mget_args[@]}"
  done
done

load_at_end=$(cut -d" " -f1 /proc/loadavg)
python3 - "$raw" "$load_at_start" "$load_at_end" "$(nproc)" "$kw_bin" "${targets[*]}" >"$out/report.md" <<'PY'
import csv, statistics, sys
raw, load0, load1, ncpu, kw_bin, targets = sys.argv[1:7]
rows = list(csv.DictReader(open(raw)))
targets = targets.split()
med = lambda xs: statistics.median(xs) if xs else None
def cell(w, t, test, key):
    xs = [float(r[key]) for r in rows if r["workload"] == w and r["target"] == t and r["test"] == test and r[key] not in ("-", "")]
    return med(xs)
print("# Redis Cluster: keywarden against redis-benchmark --cluster and predixy\n")
print(f"- 3 masters + 3 replicas on loopback; {ncpu} CPUs; load average {load0} at the start, {load1} at the end")
print(f"- keywarden: {kw_bin}; redis-benchmark -c 50 -r 100000 -d 64; medians of the reps (raw: {raw})")
if max(float(load0), float(load1)) > 0.5 * float(ncpu):
    print(f"- **WARNING: load average {max(float(load0), float(load1))} on {ncpu} CPUs: other work shared the machine; these figures are noise, not results**")
print()
for w in ("P1", "P16", "MGET10"):
    tests = sorted({r["test"] for r in rows if r["workload"] == w})
    for test in tests:
        print(f"## {w} {test}\n")
        print("| target | req/s | p99 ms | proxy CPU us/req | vs predixy req/s | vs predixy CPU | check |")
        print("|---|---:|---:|---:|---:|---:|---|")
        p_rps, p_cpu = cell(w, "predixy", test, "rps"), cell(w, "predixy", test, "cpu_us_per_req")
        for t in targets:
            rps, p99, cpu = cell(w, t, test, "rps"), cell(w, t, test, "p99_ms"), cell(w, t, test, "cpu_us_per_req")
            if rps is None:
                continue
            vs_r = f"{rps / p_rps:.2f}" if p_rps and t != "predixy" else "-"
            vs_c = f"{cpu / p_cpu:.2f}" if p_cpu and cpu is not None and t != "predixy" else "-"
            check = "-"
            if t == "keywarden" and p_rps and p_cpu and cpu is not None:
                ok = rps / p_rps >= 1.0 and cpu / p_cpu <= 0.8
                check = ("PASS" if ok else "FAIL") + " (req/s >= 1.0x, CPU <= 0.8x predixy)"
            print(f"| {t} | {rps:,.0f} | {p99:.3f} | {cpu if cpu is not None else '-'} | {vs_r} | {vs_c} | {check} |")
        print()
PY
cp "$out/report.md" bench/results/cluster-latest.md
cat "$out/report.md"
((failures == 0)) || { echo "cluster: $failures runs failed" >&2; exit 1; }
