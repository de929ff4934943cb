#!/usr/bin/env bash
# Memory budgets (issue 11), two parts, results in bench/results/budgets-latest.md:
#
#   cpu       SET at c50 P16 (64-byte values, -r 100000) into a budgeted namespace and into an
#             unbudgeted one, through one keywarden (the lease holder, so it tracks, measures and
#             evicts), interleaved, REPS reps, medians: proxy CPU and Redis CPU per request.
#             Two budgeted namespaces: `fits` (budget far above the data: tracking and measuring
#             only) and `over` (budget at a quarter of the data: evicting all the time).
#             Target: proxy CPU per request at most 10% above the unbudgeted namespace.
#   recovery  At 1k, 100k and 1M keys (SIZES): the namespace is preloaded to its budget
#             (DEBUG POPULATE), keywarden starts and learns it (time to a complete index, the
#             index's memory per key), then a flood of a quarter as many new keys is written
#             straight to Redis (redis-benchmark); reported: how long after the flood ends the
#             namespace is back under budget (keywarden's figure, then checked by Redis's own
#             SCAN + MEMORY USAGE in a script).
#
# Environment: PARTS ("cpu recovery"), REPS (5), N (500000 SETs per cpu run), SIZES
# ("1000 100000 1000000"), KW_WORKERS (1), KEYWARDEN_BIN (build/keywarden).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

parts=${PARTS:-cpu recovery}
reps=${REPS:-5}
n=${N:-500000}
sizes=${SIZES:-1000 100000 1000000}
workers=${KW_WORKERS:-1}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
[[ -x "$kw_bin" ]] || { echo "budgets: $kw_bin missing (meson compile -C build)" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/budgets-$stamp
mkdir -p "$out" bench/results
report=$out/report.md
pids=()

cleanup() {
  for p in "${pids[@]}"; do kw_stop_pidfile "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
clk_tck=$(getconf CLK_TCK)
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# start_kw NAME REDIS_PORT TOML_BODY: a keywarden on a free port; prints its port.
start_kw() {
  local name=$1 rport=$2 body=$3 port
  port=$(kw_free_port)
  {
    printf '[server]\nworkers = %s\nlog_level = "warn"\nlisten = "127.0.0.1:%s"\n' "$workers" "$port"
    printf '[upstream]\naddress = "127.0.0.1:%s"\n' "$rport"
    printf '[metrics]\nenabled = false\n'
    printf '%s\n' "$body"
  } >"$out/$name.toml"
  "$kw_bin" -c "$out/$name.toml" >"$out/$name.log" 2>&1 &
  echo $! >"$out/$name.pid"
  pids+=("$out/$name.pid")
  kw_wait_pong "$port" 10 "$(<"$out/$name.pid")" || { echo "budgets: $name did not start" >&2; exit 1; }
  echo "$port"
}

# budget_field PORT NAMESPACE FIELD: a namespace's field from KEYWARDEN BUDGETS.
budget_field() {
  redis-cli -p "$1" KEYWARDEN BUDGETS 2>/dev/null | awk -v ns="$2" -v f="$3" '
    $0 == ns { in_ns = 1 } in_ns && prev == f { print; exit } { prev = $0 }'
}
top_field() {
  redis-cli -p "$1" KEYWARDEN BUDGETS 2>/dev/null | awk -v f="$2" 'prev == f { print; exit } { prev = $0 }'
}

{
  echo "# keywarden memory budgets"
  echo
  echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), nproc $(nproc)"
  echo "- keywarden workers: $workers; $(redis-server --version | awk '{print $3}')"
  echo "- command: \`PARTS=\"$parts\" REPS=$reps N=$n SIZES=\"$sizes\" bash bench/budgets.sh\`"
  echo
} >"$report"

if [[ " $parts " == *" cpu "* ]]; then
  rdir=$out/redis-cpu
  rport=$(kw_free_port)
  kw_start_redis "$rdir" "$rport" || { echo "budgets: redis did not start" >&2; exit 1; }
  pids+=("$rdir/redis.pid")
  rpid=$(<"$rdir/redis.pid")
  kport=$(start_kw cpu "$rport" '
[[namespaces]]
name = "free"
pattern = "free:{id}"

[[namespaces]]
name = "fits"
pattern = "fits:{id}"
memory_budget_bytes = 1073741824

[[namespaces]]
name = "over"
pattern = "over:{id}"
memory_budget_bytes = 3000000
')
  kpid=$(<"$out/cpu.pid")
  for i in $(seq 1 100); do
    [[ "$(top_field "$kport" role)" == holder ]] && break
    sleep 0.1
  done
  value=$(printf 'v%.0s' {1..64})
  raw=$out/cpu.csv
  echo "rep,target,rps,proxy_us,redis_us" >"$raw"
  targets=(free fits over)
  # A first pass fills each namespace (steady state: rewrites, and evictions for `over`).
  for t in "${targets[@]}"; do
    redis-benchmark -p "$kport" -n 100000 -c 50 -P 16 -r 100000 SET "$t:__rand_int__" "$value" >/dev/null
  done
  for ((rep = 1; rep <= reps; rep++)); do
    order=("${targets[@]:rep % 3}" "${targets[@]:0:rep % 3}")
    for t in "${order[@]}"; do
      kb=$(cpu_ticks "$kpid"); rb=$(cpu_ticks "$rpid")
      rps=$(redis-benchmark -p "$kport" -n "$n" -c 50 -P 16 -r 100000 --csv SET "$t:__rand_int__" \
        "$value" 2>/dev/null | tr -d '"' | awk -F, 'NR == 2 { print $2 }')
      ka=$(cpu_ticks "$kpid"); ra=$(cpu_ticks "$rpid")
      pu=$(awk -v d=$((ka - kb)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
      ru=$(awk -v d=$((ra - rb)) -v hz="$clk_tck" -v n="$n" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
      echo "$rep,$t,$rps,$pu,$ru" >>"$raw"
      printf 'budgets cpu: rep %d %-5s %8.0f/s proxy %sus/req redis %sus/req\n' "$rep" "$t" "${rps:-0}" "$pu" "$ru"
    done
  done
  free_cpu=$(awk -F, '$2 == "free" { print $4 }' "$raw" | median)
  {
    echo "## SET c50 P16, budgeted vs unbudgeted namespace (medians of $reps)"
    echo
    echo "| namespace | budget | SET req/s | proxy CPU us/req | vs unbudgeted | Redis CPU us/req |"
    echo "|---|---|---:|---:|---:|---:|"
    for t in "${targets[@]}"; do
      b=none; [[ $t == fits ]] && b="1 GiB (never reached)"; [[ $t == over ]] && b="3 MB (evicting)"
      p=$(awk -F, -v t="$t" '$2 == t { print $4 }' "$raw" | median)
      echo "| $t | $b | $(awk -F, -v t="$t" '$2 == t { print $3 }' "$raw" | median) | $p | $(awk -v a="$p" -v b="$free_cpu" 'BEGIN { printf "%.3f", a / b }') | $(awk -F, -v t="$t" '$2 == t { print $5 }' "$raw" | median) |"
    done
    echo
    echo "Evictions in \`over\` during the run: $(budget_field "$kport" over evictions); index: $(top_field "$kport" tracked_keys) keys, $(top_field "$kport" index_memory_bytes) bytes."
    echo
  } >>"$report"
  kw_stop_pidfile "$out/cpu.pid"
  kw_stop_pidfile "$rdir/redis.pid"
fi

if [[ " $parts " == *" recovery "* ]]; then
  {
    echo "## Back under budget after a flood"
    echo
    echo "The namespace holds N keys (100-byte values) and its budget is their bytes; keywarden learns them, then N/4 new keys are written straight to Redis at c50 P16."
    echo
    echo "| keys | learn (scan + measure) s | index bytes/key (beyond the key) | holder RSS growth bytes/key | flood s | back under budget after flood, s | bytes / budget after (Redis's count) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
  } >>"$report"
  for size in $sizes; do
    rdir=$out/redis-$size
    rport=$(kw_free_port)
    mkdir -p "$rdir"
    redis-server --bind 127.0.0.1 --port "$rport" --daemonize yes --dir "$rdir" \
      --pidfile "$rdir/redis.pid" --logfile "$rdir/redis.log" --save '' --appendonly no \
      --enable-debug-command local >/dev/null
    kw_wait_pong "$rport" 10 || { echo "budgets: redis did not start" >&2; exit 1; }
    pids+=("$rdir/redis.pid")
    redis-cli -p "$rport" DEBUG POPULATE "$size" doc:base 100 >/dev/null
    # The longest key's size (the others are no larger), so the preloaded keys fit the budget.
    per_key=$(redis-cli -p "$rport" MEMORY USAGE "doc:base:$((size - 1))")
    budget=$((per_key * size))
    t0=$(date +%s.%N)
    kport=$(start_kw "rec$size" "$rport" "
[[namespaces]]
name = \"docs\"
pattern = \"doc:{id...}\"
memory_budget_bytes = $budget
")
    kpid=$(<"$out/rec$size.pid")
    rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$kpid/status")
    for i in $(seq 1 6000); do
      [[ "$(budget_field "$kport" docs complete)" == 1 && "$(budget_field "$kport" docs keys)" -ge "$size" ]] && break
      sleep 0.05
    done
    t1=$(date +%s.%N)
    learn=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$kpid/status")
    idx=$(top_field "$kport" index_memory_bytes)
    # The keys' own bytes: "doc:base:<i>".
    keylen=$(awk -v n="$size" 'BEGIN { s = 0; for (i = 0; i < n; i++) s += 9 + length(i ""); print s }')
    idx_per=$(awk -v m="$idx" -v k="$keylen" -v n="$size" 'BEGIN { printf "%.1f", (m - k) / n }')
    rss_per=$(awk -v a="$rss0" -v b="$rss1" -v k="$keylen" -v n="$size" 'BEGIN { printf "%.1f", ((b - a) * 1024 - k) / n }')
    flood=$((size / 4 > 1000 ? size / 4 : 1000))
    f0=$(date +%s.%N)
    redis-benchmark -p "$rport" -n "$flood" -c 50 -P 16 -r 1000000000 SET "doc:flood:__rand_int__" \
      "$(printf 'x%.0s' {1..100})" >/dev/null
    f1=$(date +%s.%N)
    back=timeout
    for i in $(seq 1 1200); do
      b=$(budget_field "$kport" docs bytes)
      if [[ -n "$b" && "$b" -le "$budget" && "$(budget_field "$kport" docs pending)" == 0 ]]; then
        back=$(awk -v a="$f1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        break
      fi
      sleep 0.05
    done
    truth=$(redis-cli -p "$rport" EVAL "local c, s = '0', 0 repeat local r = redis.call('SCAN', c, 'MATCH', 'doc:*', 'COUNT', 1000) c = r[1] for _, k in ipairs(r[2]) do s = s + redis.call('MEMORY', 'USAGE', k) end until c == '0' return s" 0)
    ratio=$(awk -v a="$truth" -v b="$budget" 'BEGIN { printf "%.3f", a / b }')
    fl=$(awk -v a="$f0" -v b="$f1" 'BEGIN { printf "%.2f", b - a }')
    echo "budgets recovery: $size keys: learn ${learn}s, index ${idx_per} B/key, rss ${rss_per} B/key, flood ${fl}s, back ${back}s, after ${ratio}x"
    echo "| $size | $learn | $idx_per | $rss_per | $fl | $back | $ratio |" >>"$report"
    kw_stop_pidfile "$out/rec$size.pid"
    kw_stop_pidfile "$rdir/redis.pid"
  done
  echo >>"$report"
fi

cp "$report" bench/results/budgets-latest.md
cat "$report"
