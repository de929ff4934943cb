#!/usr/bin/env bash
# TLS offload and Unix-socket upstreams (issue 17, "Prove it"): one redis-server with a plaintext
# port, a TLS port and a Unix socket, and two keywardens in front of it, in the same run,
# interleaved (the order rotates each rep), medians over REPS. See bench/README.md, "TLS and Unix
# sockets".
#   tls        redis-benchmark --tls -t set,get -d 64 -c 50 at -P 1 and -P 16: clients over TLS
#              to keywarden ([tls] listener, upstream over the Unix socket) vs clients over TLS
#              straight to Redis's TLS port: throughput, p99, keywarden CPU per request.
#              Targets: keywarden >= 1.0x direct throughput, p99 <= 1.25x direct
#   transport  plaintext redis-benchmark, same shape: keywarden with a Unix-socket upstream vs
#              keywarden with a TCP upstream: keywarden CPU microseconds per request.
#              Target: Unix <= 0.85x TCP
#   storm      bench/tls_storm.js: STORM_CLIENTS TLS clients connecting at once (full
#              handshakes), each sending PING: time until every one is served, through keywarden
#              and straight to Redis
# Proxy CPU: utime+stime of the keywarden process (all threads, /proc/PID/stat) around each run.
#
# Environment: REPS (3), PARTS ("tls transport storm"), KEYWARDEN_BIN (build-rel/keywarden, else
# build/keywarden), KW_WORKERS (0 = keywarden's default), N_P1 (100000), N_P16 (500000),
# STORM_CLIENTS (1000).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/lib.sh

reps=${REPS:-3}
read -r -a parts <<<"${PARTS:-tls transport storm}"
default_bin=build/keywarden
[[ -x build-rel/keywarden ]] && default_bin=build-rel/keywarden
kw_bin=${KEYWARDEN_BIN:-$default_bin}
workers=${KW_WORKERS:-0}
n_p1=${N_P1:-100000}
n_p16=${N_P16:-500000}
storm_clients=${STORM_CLIENTS:-1000}

[[ -x "$kw_bin" ]] || { echo "tls: $kw_bin not found (meson setup build-rel --buildtype=release && ninja -C build-rel)" >&2; exit 1; }
for tool in redis-server redis-benchmark openssl node; do
  command -v "$tool" >/dev/null || { echo "tls: $tool not found (tools/setup-deps.sh)" >&2; exit 1; }
done

load_at_start=$(cut -d" " -f1 /proc/loadavg)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/out/tls-$stamp
mkdir -p "$out" bench/results
raw=$out/raw.csv
echo "workload,rep,target,metric,value" >"$raw"

cleanup() {
  kw_stop_pidfile "$out/kw-unix.pid"
  kw_stop_pidfile "$out/kw-tcp.pid"
  kw_stop_pidfile "$out/redis/redis.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A CA and a server certificate for localhost / 127.0.0.1, both servers present it.
certs=$out/certs
mkdir -p "$certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=keywarden bench CA" \
  -keyout "$certs/ca.key" -out "$certs/ca.crt" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$certs/server.key" -out "$certs/server.csr" >/dev/null 2>&1
printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\nextendedKeyUsage = serverAuth, clientAuth\n' >"$certs/ext.cnf"
openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" -CAcreateserial \
  -days 2 -extfile "$certs/ext.cnf" -out "$certs/server.crt" >/dev/null 2>&1

declare -A port pid
port[redis]=$(kw_free_port)
port[redis-tls]=$(kw_free_port)
sock=$out/redis/redis.sock
kw_start_redis "$out/redis" "${port[redis]}" --tls-port "${port[redis-tls]}" \
  --tls-cert-file "$certs/server.crt" --tls-key-file "$certs/server.key" \
  --tls-ca-cert-file "$certs/ca.crt" --tls-auth-clients no \
  --unixsocket "$sock" --unixsocketperm 700 || { echo "tls: redis-server did not start" >&2; exit 1; }

# kw-unix: TLS listener and a plaintext one, upstream over the Unix socket.
# kw-tcp: plaintext listener, upstream over TCP.
start_kw() {
  local name=$1 upstream=$2 extra=$3
  port[$name]=$(kw_free_port)
  cat >"$out/$name.toml" <<TOML
[server]
listen = "127.0.0.1:${port[$name]}"
workers = $workers
log_level = "warn"

[upstream]
address = "$upstream"

[metrics]
enabled = false
$extra
TOML
  "$kw_bin" -c "$out/$name.toml" >"$out/$name.log" 2>&1 &
  pid[$name]=$!
  echo "${pid[$name]}" >"$out/$name.pid"
  kw_wait_pong "${port[$name]}" 10 "${pid[$name]}" || { echo "tls: $name did not start:" >&2; tail -n 20 "$out/$name.log" >&2; exit 1; }
}
port[kw-tls]=$(kw_free_port)
start_kw kw-unix "unix:$sock" "
[tls]
listen = \"127.0.0.1:${port[kw-tls]}\"
cert_file = \"$certs/server.crt\"
key_file = \"$certs/server.key\""
start_kw kw-tcp "127.0.0.1:${port[redis]}" ""
pid[kw-tls]=${pid[kw-unix]}

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
record() { echo "$1,$2,$3,$4,$5" >>"$raw"; }  # workload rep target metric value
failures=0
fail() { echo "tls: $*" >&2; failures=$((failures + 1)); }
alive() {
  [[ -z "${pid[$1]:-}" ]] && return 0
  kill -0 "${pid[$1]}" 2>/dev/null && return 0
  echo "tls: $1 (pid ${pid[$1]}) is gone; see $out" >&2
  return 1
}

# redis-benchmark run: TARGET WORKLOAD REP N ARGS... (TLS arguments added for the TLS targets).
run_rb() {
  local t=$1 w=$2 rep=$3 n=$4 before=0 csv tls_args=()
  shift 4
  csv=$out/$w-$rep-$t.csv
  [[ $t == redis-tls || $t == kw-tls ]] && tls_args=(--tls --cacert "$certs/ca.crt")
  [[ -n "${pid[$t]:-}" ]] && before=$(cpu_ticks "${pid[$t]}")
  if ! redis-benchmark -h 127.0.0.1 -p "${port[$t]}" "${tls_args[@]}" -t set,get -n "$n" -d 64 -r 100000 \
    --csv "$@" >"$csv" 2>"$out/$w-$rep-$t.err"; then
    fail "$w rep $rep $t: redis-benchmark failed ($(tail -n 1 "$out/$w-$rep-$t.err"))"
    return 0
  fi
  local cpu=""
  if [[ -n "${pid[$t]:-}" ]]; then
    cpu=$(awk -v d=$(($(cpu_ticks "${pid[$t]}") - before)) -v hz="$clk_tck" -v n="$n" \
      'BEGIN { printf "%.3f", d * 1e6 / hz / (2 * n) }')
    record "$w" "$rep" "$t" cpu_us_per_req "$cpu"
  fi
  # redis-benchmark --csv: "test","rps","avg","min","p50","p95","p99","max" (ms)
  tr -d '"' <"$csv" | awk -F, -v pre="$w,$rep,$t" '$1 == "GET" || $1 == "SET" {
    print pre "," $1 "_rps," $2; print pre "," $1 "_p99_ms," $7 }' >>"$raw"
  if ! grep -q '"GET"' "$csv" || ! grep -q '"SET"' "$csv"; then
    fail "$w rep $rep $t: redis-benchmark printed no GET/SET result (see $csv)"
    return 0
  fi
  printf 'tls: %-16s rep %d %-8s %s\n' "$w" "$rep" "$t" \
    "$(tr -d '"' <"$csv" | awk -F, '$1 == "GET" || $1 == "SET" { printf "%s %.0f/s p99 %s ms  ", $1, $2, $7 }')${cpu:+cpu ${cpu}us/req}"
}

# bench/tls_storm.js run: TARGET REP.
run_storm() {
  local t=$1 rep=$2 line
  if ! line=$(node bench/tls_storm.js --port "${port[$t]}" --ca "$certs/ca.crt" --clients "$storm_clients" 2>"$out/storm-$rep-$t.err"); then
    fail "storm rep $rep $t: ${line:-$(tail -n 1 "$out/storm-$rep-$t.err")}"
    return 0
  fi
  for m in total_ms p50_ms p99_ms served failed; do
    record "storm-$storm_clients" "$rep" "$t" "$m" "$(sed -n "s/.*\"$m\":\([0-9.]*\).*/\1/p" <<<"$line")"
  done
  echo "tls: storm-$storm_clients rep $rep $t $line"
}

# each_target REP "TARGETS" COMMAND ARGS...: the targets in an order that rotates per rep.
each_target() {
  local rep=$1 cmd=$3 t
  local -a ts
  read -r -a ts <<<"$2"
  shift 3
  local order=("${ts[@]:rep % ${#ts[@]}}" "${ts[@]:0:rep % ${#ts[@]}}")
  for t in "${order[@]}"; do
    alive "$t" || { failures=$((failures + 1)); continue; }
    "$cmd" "$t" "$@"
  done
}

has_part() { [[ " ${parts[*]} " == *" $1 "* ]]; }

echo "tls: parts ${parts[*]}; reps $reps; raw data $raw"
for spec in "1:$n_p1" "16:$n_p16"; do
  IFS=: read -r p n <<<"$spec"
  for ((rep = 1; rep <= reps; rep++)); do
    has_part tls && each_target "$rep" "redis-tls kw-tls" run_rb "tls-c50-P$p" "$rep" "$n" -c 50 -P "$p"
    has_part transport && each_target "$rep" "kw-unix kw-tcp" run_rb "plain-c50-P$p" "$rep" "$n" -c 50 -P "$p"
  done
done
if has_part storm; then
  for ((rep = 1; rep <= reps; rep++)); do
    each_target "$rep" "redis-tls kw-tls" run_storm "$rep"
  done
fi

describe() {
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), nproc $(nproc); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- kernel: $(uname -sr); redis: $(redis-server --version | awk '{print $3}' | sed 's/^v=//'); openssl: $(openssl version | awk '{print $2}')"
  echo "- keywarden: $kw_bin, $("$kw_bin" --version 2>/dev/null | head -n 1), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
  echo "- workers: $workers (0 = the default); reps: $reps; parts: ${parts[*]}; one redis-server (plaintext port, TLS port, Unix socket) for every target"
  echo "- targets: redis-tls = Redis's TLS port; kw-tls = keywarden's TLS listener, upstream over the Unix socket; kw-unix / kw-tcp = keywarden's plaintext listener, upstream over the Unix socket / TCP"
  awk -v n="$(nproc)" -v s="$load_at_start" '{ if (s > n / 2 || $1 > n + 3) printf "- **WARNING: load average %s at the start, %s at the end, on %d CPUs: other work shared the machine; these figures are noise, not results**\n", s, $1, n }' /proc/loadavg
}
{
  echo "# TLS offload and Unix-socket upstreams"
  echo
  describe
  echo
  python3 bench/tls_report.py "$raw"
} >"$out/report.md"
cp "$out/report.md" bench/results/tls-latest.md
cat bench/results/tls-latest.md
if ((failures > 0)); then
  echo "tls: $failures run(s) failed; see $out" >&2
  exit 1
fi
