#!/usr/bin/env python3
"""bench/large.sh's raw.csv (workload,rep,target,metric,value) as markdown tables.

Times, throughputs and latencies are medians over reps. Proxy CPU per MiB is the sum of the
proxy's CPU over all reps divided by the MiB of all reps (CPU is read in 10 ms ticks, too coarse
for the median of short runs); CPU per request is the median of the runs' figures.
"""
import csv
import statistics
import sys
from collections import defaultdict

ORDER = ["redis", "keywarden", "keywarden-prev"]
# Targets of the issue: keywarden's wall time at most this many times direct Redis's.
TIME_TARGETS = {"pipeline": 1.5, "single": 1.3}
RPS_TARGET = 0.9  # redis-benchmark with large values: throughput at least this share of direct
NOISE = 1.05  # "no worse than the previous build": a difference under 5% is within noise


def med(values):
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict_max(r, limit):
    return "n/a" if r is None else ("PASS" if r <= limit else "FAIL")


def main(path):
    data = defaultdict(list)  # (workload, target, metric) -> values over reps
    workloads = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            w = row["workload"]
            if w not in workloads:
                workloads.append(w)
            data[(w, row["target"], row["metric"])].append(float(row["value"]))

    def targets_of(w):
        return [t for t in ORDER if any(k[0] == w and k[1] == t for k in data)]

    time_rows = [w for w in workloads if w.startswith(("pipeline", "single"))]
    if time_rows:
        print("## Large values on one connection: wall time (a, b) and proxy CPU per MiB (d)")
        print()
        print("SET phase: all SETs sent and their +OK received; GET phase: all GETs sent and every "
              "value received and checked. Targets: keywarden at most "
              f"{TIME_TARGETS['pipeline']}x direct for the pipeline, {TIME_TARGETS['single']}x "
              "for the single value (both phases).")
        print()
        print("| workload | target | reps | SET ms | GET ms | SET vs redis | GET vs redis "
              "| proxy CPU ms/MiB SET | GET | target |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for w in time_rows:
            limit = TIME_TARGETS["pipeline" if w.startswith("pipeline") else "single"]
            base = {p: med(data[(w, "redis", p + "_ms")]) for p in ("set", "get")}
            for t in targets_of(w):
                ms = {p: med(data[(w, t, p + "_ms")]) for p in ("set", "get")}
                r = {p: ratio(ms[p], base[p]) for p in ("set", "get")}
                mib = sum(data[(w, t, "mib")])
                cpu = {p: (sum(data[(w, t, p + "_cpu_ms")]) / mib
                           if data[(w, t, p + "_cpu_ms")] and mib else None) for p in ("set", "get")}
                check = "-"
                if t != "redis":
                    ok = [verdict_max(r[p], limit) for p in ("set", "get")]
                    check = "PASS" if ok == ["PASS", "PASS"] else ("FAIL" if "FAIL" in ok else "n/a")
                    check += f" (<= {limit}x)"
                print(f"| {w} | {t} | {len(data[(w, t, 'set_ms')])} | {fmt(ms['set'], ',.1f')} "
                      f"| {fmt(ms['get'], ',.1f')} | {fmt(r['set'], '.2f')} | {fmt(r['get'], '.2f')} "
                      f"| {'-' if t == 'redis' else fmt(cpu['set'], '.2f')} "
                      f"| {'-' if t == 'redis' else fmt(cpu['get'], '.2f')} | {check} |")
        print()

    rb_rows = [w for w in workloads if w.startswith("rb-")]
    for w in rb_rows:
        small = w.startswith("rb-d64-")
        reps = len(data[(w, "redis", "GET_rps")])
        title = ("small requests (e): this build vs the previous one" if small
                 else f"large values with redis-benchmark (c): target >= {RPS_TARGET}x direct")
        print(f"## {w}: {title} (median of {reps} rep{'s' if reps != 1 else ''})")
        print()
        print("| target | GET req/s | SET req/s | GET vs redis | SET vs redis | GET p50/p99 ms "
              "| SET p50/p99 ms | proxy CPU us/req | check |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        base = {c: med(data[(w, "redis", c + "_rps")]) for c in ("GET", "SET")}
        prev_cpu = med(data[(w, "keywarden-prev", "cpu_us_per_req")])
        prev_rps = {c: med(data[(w, "keywarden-prev", c + "_rps")]) for c in ("GET", "SET")}
        for t in targets_of(w):
            rps = {c: med(data[(w, t, c + "_rps")]) for c in ("GET", "SET")}
            r = {c: ratio(rps[c], base[c]) for c in ("GET", "SET")}
            lat = {c: f"{fmt(med(data[(w, t, c + '_p50_ms')]), '.3f')} / "
                      f"{fmt(med(data[(w, t, c + '_p99_ms')]), '.3f')}" for c in ("GET", "SET")}
            cpu = med(data[(w, t, "cpu_us_per_req")])
            check = "-"
            if t != "redis" and not small:
                worst = min((x for x in r.values() if x is not None), default=None)
                check = ("n/a" if worst is None else
                         ("PASS" if worst >= RPS_TARGET else "FAIL")) + f" (>= {RPS_TARGET}x)"
            elif t == "keywarden" and small and prev_cpu:
                cr = ratio(cpu, prev_cpu)
                rr = min((ratio(rps[c], prev_rps[c]) for c in ("GET", "SET")
                          if ratio(rps[c], prev_rps[c]) is not None), default=None)
                if cr is None or rr is None:
                    check = "n/a"
                else:
                    worse = cr > NOISE or rr < 1 / NOISE
                    tie = cr > 1 or rr < 1
                    check = ("FAIL" if worse else ("within noise" if tie else "PASS")) + \
                        f": CPU {cr:.2f}x prev, req/s {rr:.2f}x prev"
            print(f"| {t} | {fmt(rps['GET'], ',.0f')} | {fmt(rps['SET'], ',.0f')} "
                  f"| {fmt(r['GET'], '.2f')} | {fmt(r['SET'], '.2f')} | {lat['GET']} | {lat['SET']} "
                  f"| {'-' if t == 'redis' else fmt(cpu, '.2f')} | {check} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
