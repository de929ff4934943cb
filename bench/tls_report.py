#!/usr/bin/env python3
"""bench/tls.sh's raw.csv (workload,rep,target,metric,value) as markdown tables.

Throughputs, latencies, CPU per request and storm times are medians over reps.
"""
import csv
import statistics
import sys
from collections import defaultdict

RPS_TARGET = 1.0  # TLS through keywarden: throughput at least this share of direct TLS
P99_TARGET = 1.25  # ... and p99 at most this multiple of direct TLS's
CPU_TARGET = 0.85  # Unix-socket upstream: keywarden CPU per request at most this share of TCP's


def med(values):
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(r, limit, at_least):
    if r is None:
        return "n/a"
    return "PASS" if (r >= limit if at_least else r <= limit) else "FAIL"


def main(path):
    data = defaultdict(list)
    workloads = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["workload"] not in workloads:
                workloads.append(row["workload"])
            try:
                data[(row["workload"], row["target"], row["metric"])].append(float(row["value"]))
            except ValueError:
                pass

    def m(w, t, metric):
        return med(data.get((w, t, metric), []))

    tls = [w for w in workloads if w.startswith("tls-")]
    if tls:
        print("## Clients over TLS: keywarden (Unix-socket upstream) vs Redis's TLS port\n")
        print("| workload | cmd | direct rps | keywarden rps | ratio (>= 1.0) | direct p99 ms "
              "| keywarden p99 ms | ratio (<= 1.25) | keywarden CPU us/req |")
        print("|---|---|---|---|---|---|---|---|---|")
        for w in tls:
            for cmd in ("SET", "GET"):
                dr, kr = m(w, "redis-tls", f"{cmd}_rps"), m(w, "kw-tls", f"{cmd}_rps")
                dp, kp = m(w, "redis-tls", f"{cmd}_p99_ms"), m(w, "kw-tls", f"{cmd}_p99_ms")
                rr, rp = ratio(kr, dr), ratio(kp, dp)
                print(f"| {w} | {cmd} | {fmt(dr, '.0f')} | {fmt(kr, '.0f')} | {fmt(rr, '.2f')} "
                      f"{verdict(rr, RPS_TARGET, True)} | {fmt(dp, '.3f')} | {fmt(kp, '.3f')} | "
                      f"{fmt(rp, '.2f')} {verdict(rp, P99_TARGET, False)} | "
                      f"{fmt(m(w, 'kw-tls', 'cpu_us_per_req'), '.2f')} |")
        print()

    plain = [w for w in workloads if w.startswith("plain-")]
    if plain:
        print("## keywarden CPU per request: Unix-socket upstream vs TCP upstream (plaintext clients)\n")
        print("| workload | TCP us/req | Unix us/req | ratio (<= 0.85) | TCP GET rps | Unix GET rps |")
        print("|---|---|---|---|---|---|")
        for w in plain:
            ct, cu = m(w, "kw-tcp", "cpu_us_per_req"), m(w, "kw-unix", "cpu_us_per_req")
            r = ratio(cu, ct)
            print(f"| {w} | {fmt(ct, '.2f')} | {fmt(cu, '.2f')} | {fmt(r, '.2f')} "
                  f"{verdict(r, CPU_TARGET, False)} | {fmt(m(w, 'kw-tcp', 'GET_rps'), '.0f')} | "
                  f"{fmt(m(w, 'kw-unix', 'GET_rps'), '.0f')} |")
        print()

    storm = [w for w in workloads if w.startswith("storm-")]
    if storm:
        print("## Reconnect storm over TLS (full handshakes, one PING each)\n")
        print("| workload | target | all served in ms | p50 ms | p99 ms | served | failed |")
        print("|---|---|---|---|---|---|---|")
        for w in storm:
            for t in ("redis-tls", "kw-tls"):
                print(f"| {w} | {t} | {fmt(m(w, t, 'total_ms'), '.0f')} | "
                      f"{fmt(m(w, t, 'p50_ms'), '.0f')} | {fmt(m(w, t, 'p99_ms'), '.0f')} | "
                      f"{fmt(m(w, t, 'served'), '.0f')} | {fmt(m(w, t, 'failed'), '.0f')} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
