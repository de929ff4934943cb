#!/usr/bin/env python3
"""bench/nearcache.sh's raw.csv as markdown: per workload and target, medians over reps."""
import csv
import statistics
import sys
from collections import defaultdict

ORDER = ["redis", "kw-cache", "kw-nocache"]
NAMES = {"redis": "Redis directly", "kw-cache": "keywarden, near cache", "kw-nocache": "keywarden, no near cache"}


def med(values):
    values = [float(v) for v in values if v not in ("", None)]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "" if v is None else format(v, spec)


def main(path):
    data = defaultdict(lambda: defaultdict(list))
    workloads = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            w = row["workload"]
            if w not in workloads:
                workloads.append(w)
            for k in ("rps", "p50_ms", "p99_ms", "proxy_cpu_us_per_req", "hit_ratio", "stale_p50_ms", "stale_p99_ms"):
                data[(w, row["target"])][k].append(row[k])
    for w in workloads:
        base = med(data[(w, "redis")]["rps"])
        print(f"## {w}")
        print()
        print("| target | req/s | vs Redis | p50 ms | p99 ms | proxy CPU us/req | hit ratio | staleness p50 / p99 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for t in ORDER:
            d = data.get((w, t))
            if not d:
                continue
            rps = med(d["rps"])
            ratio = f"{rps / base:.2f}x" if base and rps else ""
            s50, s99 = med(d["stale_p50_ms"]), med(d["stale_p99_ms"])
            stale = f"{s50:.2f} / {s99:.2f}" if s99 is not None else ""
            print(f"| {NAMES[t]} | {fmt(rps, '.0f')} | {ratio} | {fmt(med(d['p50_ms']), '.3f')} | "
                  f"{fmt(med(d['p99_ms']), '.3f')} | {fmt(med(d['proxy_cpu_us_per_req']), '.3f')} | "
                  f"{fmt(med(d['hit_ratio']), '.4f')} | {stale} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
