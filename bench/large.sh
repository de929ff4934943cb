#!/usr/bin/env bash
# Large values and deep pipelines (issue 15): Redis directly, this keywarden and a previous
# keywarden build, each in front of the same redis-server (flushed before every large-value run),
# in the same run, interleaved (the order rotates each rep), medians over REPS. See
# bench/README.md, "Large values".
#   pipeline  one connection: COUNT pipelined SETs of SIZE-byte values, then COUNT pipelined GETs,
#             every reply checked (bench/large_values.cc): wall time of each phase, proxy CPU per
#             MiB moved; target keywarden <= 1.5x direct
#   single    one 100 MiB value, SET then GET, with bench/large_values.cc and with redis-cli
#             (-x SET < file; GET > /dev/null): wall time, proxy CPU per MiB; target <= 1.3x
#   bench     redis-benchmark -t set,get -c 50 -P 1 with -d 16384 and -d 1048576: throughput vs
#             direct (target >= 0.9x), p99, proxy CPU per request
#   small     redis-benchmark -t set,get -d 64 -r 100000 -c 50 at -P 1 and -P 16: proxy CPU
#             microseconds per request and throughput, this build vs the previous one
# Proxy CPU: utime+stime of the keywarden process (all threads, /proc/PID/stat) around each run.
#
# Environment: REPS (5), PARTS ("pipeline single bench small"), KEYWARDEN_BIN (build/keywarden),
# PREV_BIN (the previous build's keywarden; unset = that target is skipped), LARGE_VALUES
# (large_values next to KEYWARDEN_BIN), KW_WORKERS (0 = keywarden's default), COUNT (600),
# SIZE (1048576), SINGLE_SIZE (104857600), N_16K (100000), N_1M (2000), N_P1 (100000),
# N_P16 (500000).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

reps=${REPS:-5}
read -r -a parts <<<"${PARTS:-pipeline single bench small}"
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
prev_bin=${PREV_BIN:-}
lv_bin=${LARGE_VALUES:-$(dirname "$kw_bin")/large_values}
workers=${KW_WORKERS:-0}
count=${COUNT:-600}
size=${SIZE:-1048576}
single_size=${SINGLE_SIZE:-104857600}
n_16k=${N_16K:-100000}
n_1m=${N_1M:-2000}
n_p1=${N_P1:-100000}
n_p16=${N_P16:-500000}

for b in "$kw_bin" "$lv_bin"; do
  [[ -x "$b" ]] || { echo "large: $b not found (meson setup build --buildtype=release && meson compile -C build keywarden large_values)" >&2; exit 1; }
done
targets=(redis keywarden)
if [[ -n "$prev_bin" ]]; then
  [[ -x "$prev_bin" ]] || { echo "large: PREV_BIN=$prev_bin is not an executable" >&2; exit 1; }
  targets+=(keywarden-prev)
else
  echo "large: WARNING: PREV_BIN not set; the previous build is not measured" >&2
fi

load_at_start=$(cut -d" " -f1 /proc/loadavg)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/large-$stamp
mkdir -p "$out" bench/results
raw=$out/raw.csv
echo "workload,rep,target,metric,value" >"$raw"

declare -A port pid bin
cleanup() {
  kw_stop_pidfile "$out/keywarden.pid"
  kw_stop_pidfile "$out/keywarden-prev.pid"
  kw_stop_pidfile "$out/redis/redis.pid"
  rm -f "$out/single-value.bin" "$out/single-get.out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port[redis]=$(kw_free_port)
kw_start_redis "$out/redis" "${port[redis]}" || { echo "large: redis-server did not start" >&2; exit 1; }

bin[keywarden]=$kw_bin
bin[keywarden-prev]=$prev_bin
for t in "${targets[@]}"; do
  [[ $t == redis ]] && continue
  port[$t]=$(kw_free_port)
  # Only settings both builds know; everything else at its default (max_reply_buffer_bytes 64 MiB,
  # max_query_buffer_bytes 1 GiB, max_bulk_len 512 MiB, request_timeout_ms 5000).
  cat >"$out/$t.toml" <<TOML
[server]
workers = $workers
log_level = "warn"

[metrics]
enabled = true
listen = "127.0.0.1:$(kw_free_port)"
TOML
  "${bin[$t]}" -c "$out/$t.toml" --upstream "127.0.0.1:${port[redis]}" \
    --listen "127.0.0.1:${port[$t]}" >"$out/$t.log" 2>&1 &
  pid[$t]=$!
  echo "${pid[$t]}" >"$out/$t.pid"
  kw_wait_pong "${port[$t]}" 10 "${pid[$t]}" || { echo "large: $t did not start:" >&2; tail -n 20 "$out/$t.log" >&2; exit 1; }
done

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
now_ns() { date +%s%N; }
record() { echo "$1,$2,$3,$4,$5" >>"$raw"; }  # workload rep target metric value
ticks_ms() { awk -v t="$1" -v hz="$clk_tck" 'BEGIN { printf "%.1f", t * 1000 / hz }'; }
flush_redis() { redis-cli -p "${port[redis]}" FLUSHALL >/dev/null; }
alive() {
  [[ $1 == redis ]] && return 0
  kill -0 "${pid[$1]}" 2>/dev/null && return 0
  echo "large: $1 (pid ${pid[$1]}) is gone; see $out/$1.log" >&2
  return 1
}
failures=0
fail() { echo "large: $*" >&2; failures=$((failures + 1)); }

# large_values run: TARGET WORKLOAD REP COUNT SIZE. Records wall ms and proxy CPU ms per phase
# and the MiB each phase moved.
run_lv() {
  local t=$1 w=$2 rep=$3 n=$4 sz=$5 cpu_arg=() line
  [[ $t != redis ]] && cpu_arg=(--cpu-pid "${pid[$t]}")
  flush_redis
  if ! line=$("$lv_bin" --port "${port[$t]}" --count "$n" --size "$sz" "${cpu_arg[@]}" 2>"$out/$w-$rep-$t.err"); then
    fail "$w rep $rep $t: $(tail -n 1 "$out/$w-$rep-$t.err")"
    return 0
  fi
  local set_ms get_ms set_t get_t mib
  set_ms=$(sed -n 's/.*set_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  get_ms=$(sed -n 's/.*get_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  set_t=$(sed -n 's/.*set_cpu_ticks=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$line")
  get_t=$(sed -n 's/.*get_cpu_ticks=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$line")
  mib=$(awk -v n="$n" -v s="$sz" 'BEGIN { printf "%.3f", n * s / 1048576 }')
  record "$w" "$rep" "$t" set_ms "$set_ms"
  record "$w" "$rep" "$t" get_ms "$get_ms"
  record "$w" "$rep" "$t" mib "$mib"
  local cpu_note=""
  if [[ $t != redis ]]; then
    record "$w" "$rep" "$t" set_cpu_ms "$(ticks_ms "$set_t")"
    record "$w" "$rep" "$t" get_cpu_ms "$(ticks_ms "$get_t")"
    cpu_note=" proxy cpu SET $(ticks_ms "$set_t") ms GET $(ticks_ms "$get_t") ms"
  fi
  printf 'large: %-28s rep %d %-14s SET %9.1f ms  GET %9.1f ms%s\n' "$w" "$rep" "$t" "$set_ms" "$get_ms" "$cpu_note"
}

# redis-cli run of the single value: TARGET WORKLOAD REP. The GET is checked against the file
# in the first rep (outside the timing).
run_cli() {
  local t=$1 w=$2 rep=$3 c0=0 c1=0 c2=0 t0 t1 t2 res
  flush_redis
  [[ $t != redis ]] && c0=$(cpu_ticks "${pid[$t]}")
  t0=$(now_ns)
  res=$(redis-cli -h 127.0.0.1 -p "${port[$t]}" -x SET lv:single <"$out/single-value.bin" 2>&1) || true
  t1=$(now_ns)
  [[ $t != redis ]] && c1=$(cpu_ticks "${pid[$t]}")
  [[ $res == OK ]] || { fail "$w rep $rep $t: SET answered '${res:0:200}'"; return 0; }
  if ! redis-cli -h 127.0.0.1 -p "${port[$t]}" GET lv:single >/dev/null 2>"$out/$w-$rep-$t.err"; then
    fail "$w rep $rep $t: GET failed: $(tail -n 1 "$out/$w-$rep-$t.err")"
    return 0
  fi
  t2=$(now_ns)
  [[ $t != redis ]] && c2=$(cpu_ticks "${pid[$t]}")
  if ((rep == 1)); then
    # redis-cli prints a raw value followed by a newline.
    redis-cli -h 127.0.0.1 -p "${port[$t]}" GET lv:single >"$out/single-get.out"
    if ! head -c "$single_size" "$out/single-get.out" | cmp -s - "$out/single-value.bin" ||
      [[ $(stat -c %s "$out/single-get.out") != $((single_size + 1)) ]]; then
      fail "$w rep $rep $t: the value read back differs from the one written"
    fi
  fi
  local set_ms get_ms
  set_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
  get_ms=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
  record "$w" "$rep" "$t" set_ms "$set_ms"
  record "$w" "$rep" "$t" get_ms "$get_ms"
  record "$w" "$rep" "$t" mib "$(awk -v s="$single_size" 'BEGIN { printf "%.3f", s / 1048576 }')"
  local cpu_note=""
  if [[ $t != redis ]]; then
    record "$w" "$rep" "$t" set_cpu_ms "$(ticks_ms $((c1 - c0)))"
    record "$w" "$rep" "$t" get_cpu_ms "$(ticks_ms $((c2 - c1)))"
    cpu_note=" proxy cpu SET $(ticks_ms $((c1 - c0))) ms GET $(ticks_ms $((c2 - c1))) ms"
  fi
  printf 'large: %-28s rep %d %-14s SET %9.1f ms  GET %9.1f ms%s\n' "$w" "$rep" "$t" "$set_ms" "$get_ms" "$cpu_note"
}

# redis-benchmark run: TARGET WORKLOAD REP N ARGS...
run_rb() {
  local t=$1 w=$2 rep=$3 n=$4 before=0 csv
  shift 4
  csv=$out/$w-$rep-$t.csv
  [[ $t != redis ]] && before=$(cpu_ticks "${pid[$t]}")
  if ! redis-benchmark -h 127.0.0.1 -p "${port[$t]}" -t set,get -n "$n" --csv "$@" >"$csv" 2>"$out/$w-$rep-$t.err"; then
    fail "$w rep $rep $t: redis-benchmark failed"
    return 0
  fi
  local cpu=""
  if [[ $t != redis ]]; then
    cpu=$(awk -v d=$(($(cpu_ticks "${pid[$t]}") - before)) -v hz="$clk_tck" -v n="$n" \
      'BEGIN { printf "%.3f", d * 1e6 / hz / (2 * n) }')
    record "$w" "$rep" "$t" cpu_us_per_req "$cpu"
  fi
  # redis-benchmark --csv: "test","rps","avg","min","p50","p95","p99","max" (ms)
  tr -d '"' <"$csv" | awk -F, -v pre="$w,$rep,$t" '$1 == "GET" || $1 == "SET" {
    print pre "," $1 "_rps," $2; print pre "," $1 "_p50_ms," $5; print pre "," $1 "_p99_ms," $7 }' >>"$raw"
  if ! grep -q '"GET"' "$csv" || ! grep -q '"SET"' "$csv"; then
    fail "$w rep $rep $t: redis-benchmark printed no GET/SET result (see $csv)"
    return 0
  fi
  printf 'large: %-28s rep %d %-14s %s\n' "$w" "$rep" "$t" \
    "$(tr -d '"' <"$csv" | awk -F, '$1 == "GET" || $1 == "SET" { printf "%s %.0f/s p99 %s ms  ", $1, $2, $7 }')${cpu:+cpu ${cpu}us/req}"
}

# each_target REP COMMAND ARGS...: COMMAND TARGET ARGS... for every target, in an order that
# rotates per rep so slow drift (thermal, page cache, other load) favours none.
each_target() {
  local rep=$1 cmd=$2 t
  shift 2
  local order=("${targets[@]:rep % ${#targets[@]}}" "${targets[@]:0:rep % ${#targets[@]}}")
  for t in "${order[@]}"; do
    alive "$t" || { failures=$((failures + 1)); continue; }
    "$cmd" "$t" "$@"
  done
}

has_part() { [[ " ${parts[*]} " == *" $1 "* ]]; }
mib_label() { awk -v s="$1" 'BEGIN { if (s % 1048576 == 0) printf "%dMiB", s / 1048576; else printf "%dB", s }'; }

echo "large: targets ${targets[*]}; parts ${parts[*]}; reps $reps; raw data $raw"
if has_part pipeline; then
  w="pipeline-${count}x$(mib_label "$size")"
  # Unrecorded: Redis's allocator takes its memory from the kernel once.
  "$lv_bin" --port "${port[redis]}" --count "$count" --size "$size" >/dev/null
  for ((rep = 1; rep <= reps; rep++)); do
    each_target "$rep" run_lv "$w" "$rep" "$count" "$size"
  done
fi
if has_part single; then
  head -c "$single_size" /dev/urandom >"$out/single-value.bin"
  wl="single-$(mib_label "$single_size")-large_values"
  wc="single-$(mib_label "$single_size")-redis-cli"
  for ((rep = 1; rep <= reps; rep++)); do
    each_target "$rep" run_lv "$wl" "$rep" 1 "$single_size"
    each_target "$rep" run_cli "$wc" "$rep"
  done
  rm -f "$out/single-value.bin" "$out/single-get.out"
fi
flush_redis
if has_part bench; then
  for spec in "16384:$n_16k" "1048576:$n_1m"; do
    IFS=: read -r d n <<<"$spec"
    for ((rep = 1; rep <= reps; rep++)); do
      each_target "$rep" run_rb "rb-d$d-c50-P1" "$rep" "$n" -d "$d" -c 50 -P 1
    done
  done
fi
flush_redis
if has_part small; then
  for spec in "1:$n_p1" "16:$n_p16"; do
    IFS=: read -r p n <<<"$spec"
    for ((rep = 1; rep <= reps; rep++)); do
      each_target "$rep" run_rb "rb-d64-c50-P$p" "$rep" "$n" -d 64 -r 100000 -c 50 -P "$p"
    done
  done
fi

describe() {
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), nproc $(nproc); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- kernel: $(uname -sr); redis: $(redis-server --version | awk '{print $3}' | sed 's/^v=//')"
  echo "- keywarden: $kw_bin, $("$kw_bin" --version 2>/dev/null | head -n 1), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
  if [[ -n "$prev_bin" ]]; then
    echo "- keywarden-prev: $prev_bin, $("$prev_bin" --version 2>/dev/null | head -n 1)$(git -C "$(dirname "$prev_bin")" rev-parse --short HEAD 2>/dev/null | sed 's/^/, commit /')"
  fi
  echo "- workers: $workers (0 = the default); reps: $reps; parts: ${parts[*]}; one redis-server for all targets, FLUSHALL before every large-value run"
  # Before the run only other work counts; at the end this run's own 2-3 busy processes do too.
  awk -v n="$(nproc)" -v s="$load_at_start" '{ if (s > n / 2 || $1 > n + 3) printf "- **WARNING: load average %s at the start, %s at the end, on %d CPUs: other work shared the machine; these figures are noise, not results**\n", s, $1, n }' /proc/loadavg
}
{
  echo "# Large values and deep pipelines"
  echo
  describe
  echo
  python3 bench/large_report.py "$raw"
} >"$out/report.md"
cp "$out/report.md" bench/results/large-latest.md
cat bench/results/large-latest.md
if ((failures > 0)); then
  echo "large: $failures run(s) failed; see $out" >&2
  exit 1
fi
