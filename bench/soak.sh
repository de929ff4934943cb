#!/usr/bin/env bash
# Soak (issue 15): SOAK_SECONDS of mixed load through one keywarden configured like
# conf/keywarden.toml (namespaces with TTL rules, near cache, a blacklist, CL.THROTTLE, PostgreSQL
# read-through of profile keys, a memory budget; a protective rate limit added on user:email),
# with clients connecting and leaving all the time (bench/soak_load.cc, which checks every
# reply). keywarden's RSS is sampled every SAMPLE_SECONDS into a CSV. Pass criteria:
#   - RSS at the end within 10% of the RSS after WARMUP_SECONDS (medians of the samples of a
#     WINDOW_SECONDS window each),
#   - the load driver saw no wrong reply, no unexpected error reply and no failed connection,
#   - no non-zero error counter (INFO keywarden / the Prometheus endpoint) but the expected ones
#     (listed in the report with the reason each is expected),
#   - keywarden still running.
# It starts its own redis-server (maxmemory 256mb allkeys-lru, as tools/demo.sh) and its own
# PostgreSQL 15 cluster (tools/lib.sh kw_start_pg, database apidb from conf/sql/profiles.sql plus
# PROFILES generated rows). See bench/README.md, "Soak".
#
# Environment: SOAK_SECONDS (1800), WARMUP_SECONDS (60), SAMPLE_SECONDS (10), WINDOW_SECONDS
# (60, or a quarter of SOAK_SECONDS - WARMUP_SECONDS if less), SOAK_RATE (2000
# commands/s), SOAK_THREADS (6 coming and going), SOAK_STEADY (2 connected throughout), PROFILES
# (1000), BIG_EVERY (1000: one command in this many moves a 1 MiB value), SOAK_ABRUPT (15) and
# SOAK_QUIT (15): percent of visits that end with replies in flight / with QUIT, KEYWARDEN_BIN
# (build/keywarden), SOAK_LOAD (soak_load next to KEYWARDEN_BIN).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

seconds=${SOAK_SECONDS:-1800}
warmup=${WARMUP_SECONDS:-60}
# Default: a minute, or a quarter of the measured time for a short validation run.
window=${WINDOW_SECONDS:-$(((seconds - warmup) / 4 < 60 ? (seconds - warmup) / 4 : 60))}
sample=${SAMPLE_SECONDS:-10}
rate=${SOAK_RATE:-2000}
threads=${SOAK_THREADS:-6}
steady=${SOAK_STEADY:-2}
profiles=${PROFILES:-1000}
big_every=${BIG_EVERY:-1000}
abrupt=${SOAK_ABRUPT:-15}
quits=${SOAK_QUIT:-15}
kw_bin=${KEYWARDEN_BIN:-build/keywarden}
load_bin=${SOAK_LOAD:-$(dirname "$kw_bin")/soak_load}
for b in "$kw_bin" "$load_bin"; do
  [[ -x "$b" ]] || { echo "soak: $b not found (meson compile -C build keywarden soak_load)" >&2; exit 1; }
done
((warmup < seconds)) || { echo "soak: WARMUP_SECONDS ($warmup) must be below SOAK_SECONDS ($seconds)" >&2; exit 1; }

load_at_start=$(cut -d" " -f1 /proc/loadavg)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/soak-$stamp
mkdir -p "$out" bench/results

cleanup() {
  kw_stop_pidfile "$out/load.pid"
  kw_stop_pidfile "$out/keywarden.pid"
  kw_stop_pg "$out/pg"
  rm -rf "$out/pg/data"  # about 50 MB a run; the log stays
  kw_stop_pidfile "$out/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port=$(kw_free_port)
kw_start_redis "$out/redis" "$redis_port" --maxmemory 256mb --maxmemory-policy allkeys-lru ||
  { echo "soak: redis-server did not start" >&2; exit 1; }

pg_port=$(kw_free_port)
if ! kw_start_pg "$out/pg" "$pg_port" ||
  ! kw_psql "$pg_port" postgres -c 'CREATE DATABASE apidb' ||
  ! PGOPTIONS='-c client_min_messages=warning' kw_psql "$pg_port" apidb -f conf/sql/profiles.sql >/dev/null; then
  echo "soak: PostgreSQL did not start; see $out/pg/" >&2
  exit 1
fi
# Rows 0..PROFILES-1 with the uuids bench/soak_load.cc derives from a number.
kw_psql "$pg_port" apidb -c "INSERT INTO profiles (user_id, first_name, last_name, email)
  SELECT (lpad(to_hex(g), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
         'first' || g, 'last' || g, 'user' || g || '@example.com'
  FROM generate_series(0, $profiles - 1) g ON CONFLICT DO NOTHING"

kw_port=$(kw_free_port)
metrics_port=$(kw_free_port)
# conf/keywarden.toml with this run's addresses, a budget the load exceeds all the time (16 MiB
# for doc:processing, so the enforcer evicts throughout) and a protective limit on user:email
# the load runs into (so refusals are exercised).
sed -e "s/^listen = \"127.0.0.1:6380\"/listen = \"127.0.0.1:$kw_port\"/" \
  -e "s/^address = \"127.0.0.1:6379\"/address = \"127.0.0.1:$redis_port\"/" \
  -e "s/^listen = \"127.0.0.1:9121\"/listen = \"127.0.0.1:$metrics_port\"/" \
  -e "s/port=5432 dbname=apidb/port=$pg_port dbname=apidb/" \
  -e 's/^memory_budget_bytes = 268435456/memory_budget_bytes = 16777216/' \
  -e 's/^log_level = "info"/log_level = "warn"/' \
  -e 's/^pattern = "user:email:{email}"/&\nrate_limit = { rate = 50, period_s = 1 }/' \
  conf/keywarden.toml >"$out/keywarden.toml"
for want in "127.0.0.1:$kw_port" "127.0.0.1:$redis_port" "127.0.0.1:$metrics_port" "port=$pg_port" \
  "memory_budget_bytes = 16777216" "rate = 50, period_s = 1"; do
  grep -qF "$want" "$out/keywarden.toml" || { echo "soak: conf/keywarden.toml changed shape: '$want' not set" >&2; exit 1; }
done
"$kw_bin" -c "$out/keywarden.toml" >"$out/keywarden.log" 2>&1 &
kw_pid=$!
echo "$kw_pid" >"$out/keywarden.pid"
kw_wait_pong "$kw_port" 15 "$kw_pid" || { echo "soak: keywarden did not start:" >&2; tail -n 20 "$out/keywarden.log" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
info() { redis-cli -h 127.0.0.1 -p "$kw_port" INFO "$1" 2>/dev/null | tr -d '\r'; }
field() { awk -F: -v f="$1" '$1 == f { print $2; exit }'; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

csv=$out/rss.csv
echo "elapsed_s,under_load,rss_kib,cpu_s,clients_connected,connections_accepted,commands_total,near_cache_bytes,budget_index_bytes,redis_used_memory" >"$csv"
clk_tck=$(getconf CLK_TCK)
take_sample() {  # ELAPSED UNDER_LOAD(1/0)
  local kw rss redis_mem
  kw=$(info keywarden)
  rss=$(rss_kib "$kw_pid")
  redis_mem=$(redis-cli -h 127.0.0.1 -p "$redis_port" INFO memory | tr -d '\r' | field used_memory)
  echo "$1,$2,$rss,$(awk -v t="$(cpu_ticks "$kw_pid")" -v hz="$clk_tck" 'BEGIN { printf "%.2f", t / hz }'),$(info clients | field connected_clients),$(field connections_accepted <<<"$kw"),$(field commands_total <<<"$kw"),$(field near_cache_bytes <<<"$kw"),$(field budget_index_bytes <<<"$kw"),$redis_mem" >>"$csv"
  echo "$rss"
}

echo "soak: $seconds s (warm-up $warmup s), $rate commands/s, $threads threads coming and going + $steady steady; keywarden pid $kw_pid; out $out"
"$load_bin" --port "$kw_port" --seconds "$seconds" --threads "$threads" --steady "$steady" \
  --rate "$rate" --profiles "$profiles" --big-every "$big_every" --abrupt "$abrupt" --quit "$quits" \
  --pg "host=127.0.0.1 port=$pg_port dbname=apidb user=postgres" >"$out/load.out" 2>&1 &
load_pid=$!
echo "$load_pid" >"$out/load.pid"

start=$(date +%s)
next=$sample
while kill -0 "$load_pid" 2>/dev/null; do
  now=$(($(date +%s) - start))
  if ((now >= next)); then
    if ! kill -0 "$kw_pid" 2>/dev/null; then
      echo "soak: keywarden exited during the run; log:" >&2
      tail -n 20 "$out/keywarden.log" >&2
      break
    fi
    rss=$(take_sample "$now" 1)
    printf 'soak: %5d s  RSS %7d KiB  %s\n' "$now" "$rss" "$(tail -n 1 "$out/load.out" | cut -d' ' -f3-6)"
    next=$((next + sample))
  fi
  sleep 1
done
load_rc=0
wait "$load_pid" || load_rc=$?
rm -f "$out/load.pid"

kw_alive=1
kill -0 "$kw_pid" 2>/dev/null || kw_alive=0
end_s=$(($(date +%s) - start))
rss_after=0
if ((kw_alive)); then
  sleep 2
  rss_after=$(take_sample $((end_s + 2)) 0)
fi
info keywarden >"$out/info-keywarden.txt" || true
curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$out/metrics.txt" || echo "soak: the metrics endpoint did not answer" >&2

# Every non-zero error counter, expected (with the reason) or not: bench/soak_errors.py.
if [[ -s "$out/metrics.txt" ]]; then
  python3 bench/soak_errors.py "$out/metrics.txt" "$abrupt" >"$out/errors-classified.txt"
else
  echo "UNEXPECTED		the metrics endpoint did not answer 1" >"$out/errors-classified.txt"
fi
unexpected_counters=$(grep -c '^UNEXPECTED' "$out/errors-classified.txt" || true)

verdict() { if [[ $1 == 1 ]]; then echo PASS; else echo FAIL; fi; }
# RSS "after warm-up" and "at the end" are medians of the samples under load in a window of
# WINDOW_SECONDS right after the warm-up and right before the load ended: large values in transit
# move single samples by a few MiB. The trend is a least-squares slope over every sample after
# the warm-up.
read -r rss_warm rss_end growth slope rss_max warm_n end_n < <(python3 - "$csv" "$warmup" "$window" <<'PY'
import csv, statistics, sys
warmup, window = float(sys.argv[2]), float(sys.argv[3])
pts = [(float(r["elapsed_s"]), float(r["rss_kib"])) for r in csv.DictReader(open(sys.argv[1]))
       if r["under_load"] == "1" and r["rss_kib"] not in ("", "0")]
after = [p for p in pts if p[0] >= warmup]
if not after:
    print("0 0 n/a n/a 0 0 0")
    sys.exit()
last = after[-1][0]
warm = [v for t, v in after if t < warmup + window] or [after[0][1]]
end = [v for t, v in after if t > last - window] or [after[-1][1]]
w, e = statistics.median(warm), statistics.median(end)
slope = "n/a"
if len(after) >= 2:
    mt = statistics.mean(t for t, _ in after)
    mv = statistics.mean(v for _, v in after)
    den = sum((t - mt) ** 2 for t, _ in after)
    if den:
        slope = "%.1f" % (sum((t - mt) * (v - mv) for t, v in after) / den * 60)
print("%.0f %.0f %.1f %s %.0f %d %d" % (w, e, (e - w) * 100 / w, slope, max(v for _, v in after),
                                        len(warm), len(end)))
PY
)
rss_ok=$(awk -v g="$growth" 'BEGIN { print (g != "n/a" && g <= 10 && g >= -10) ? 1 : 0 }')
load_ok=$((load_rc == 0 ? 1 : 0))
counters_ok=$((unexpected_counters == 0 && kw_alive == 1 ? 1 : 0))
summary=$(grep '^summary' "$out/load.out" || echo "summary: (none)")
{
  echo "# Soak"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- keywarden: $kw_bin, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'); config: conf/keywarden.toml with doc:processing's budget at 16 MiB and a 50/s limit on user:email ($out/keywarden.toml)"
  echo "- load: $seconds s at $rate commands/s, $threads clients coming and going (1-400 commands a visit; $abrupt% leave with replies in flight, $quits% QUIT) + $steady steady; one command in $big_every moves 1 MiB; a profile row UPDATEd every 100 ms"
  echo "- RSS samples every $sample s: $csv (copied to bench/results/soak-latest.csv)"
  # Before the run only other work counts; at the end this run's own 2-3 busy processes do too.
  awk -v n="$(nproc)" -v s="$load_at_start" '{ if (s > n / 2 || $1 > n + 3) printf "- **WARNING: load average %s at the start, %s at the end, on %d CPUs: other work shared the machine; these figures are noise, not results**\n", s, $1, n }' /proc/loadavg
  echo
  echo "| check | result | |"
  echo "|---|---|---|"
  echo "| RSS after warm-up (median of $warm_n samples from $warmup s) -> end (median of the last $end_n) | $rss_warm KiB -> $rss_end KiB ($growth%); trend $slope KiB/min; max $rss_max KiB; $rss_after KiB 2 s after the load stopped | $(verdict "$rss_ok") (within 10%) |"
  echo "| load driver (every reply checked) | exit $load_rc | $(verdict "$load_ok") |"
  echo "| error counters | $unexpected_counters unexpected; keywarden running: $([[ $kw_alive == 1 ]] && echo yes || echo NO) | $(verdict "$counters_ok") |"
  echo
  echo "Load driver: \`${summary#summary }\`"
  grep -E '^(error|mismatch) ' "$out/load.out" | head -n 20 | sed 's/^/- driver: /' || true
  echo
  echo "Non-zero error counters at the end (Prometheus):"
  echo
  if [[ -s "$out/errors-classified.txt" ]]; then
    echo "| counter | value | classification |"
    echo "|---|---:|---|"
    awk -F'\t' '{ n = split($3, a, " "); v = a[n]; c = substr($3, 1, length($3) - length(v) - 1); print "| `" c "` | " v " | " $1 (($2 != "") ? ": " $2 : "") " |" }' \
      "$out/errors-classified.txt"
  else
    echo "(none)"
  fi
} >"$out/report.md"
cp "$out/report.md" bench/results/soak-latest.md
cp "$csv" bench/results/soak-latest.csv
cat bench/results/soak-latest.md
((rss_ok && load_ok && counters_ok)) || { echo "soak: FAILED; see $out" >&2; exit 1; }
