#!/usr/bin/env python3
"""Turns bench/run.sh's raw.csv into one markdown table per workload (medians over reps)."""
import csv
import statistics
import sys
from collections import defaultdict

TARGET_ORDER = ["redis", "keywarden", "twemproxy"]


def target_rank(t):
    # redis first, then keywarden and its keywarden-wN variants, then the peers
    if t in TARGET_ORDER:
        return (TARGET_ORDER.index(t), t)
    if t.startswith("keywarden"):
        return (1, t)
    return (len(TARGET_ORDER), t)


def median(values):
    return statistics.median(values) if values else None


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def main(path):
    # (workload, target, test) -> column -> [values over reps]
    data = defaultdict(lambda: defaultdict(list))
    cpu = defaultdict(lambda: defaultdict(list))  # (workload, target) -> rep -> [values]
    workloads = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            w, t, test = row["workload"], row["target"], row["test"]
            if w not in workloads:
                workloads.append(w)
            for col in ("rps", "p50_ms", "p99_ms"):
                data[(w, t, test)][col].append(float(row[col]))
            if row["proxy_cpu_us_per_req"]:
                # One CPU figure per run, repeated on its GET and SET rows.
                cpu[(w, t)][row["rep"]] = [float(row["proxy_cpu_us_per_req"])]

    for w in workloads:
        seen = {t for (ww, t, _test) in data if ww == w}
        targets = sorted(seen, key=target_rank)
        reps = max(len(data[(w, t, "GET")]["rps"]) for t in targets)
        print(f"## {w} (median of {reps} rep{'s' if reps != 1 else ''})")
        print()
        print("| target | GET req/s | SET req/s | GET vs redis | SET vs redis "
              "| GET p50/p99 ms | SET p50/p99 ms | proxy CPU us/req |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        base = {test: median(data[(w, "redis", test)]["rps"]) for test in ("GET", "SET")}
        for t in targets:
            cells = [t]
            rps = {test: median(data[(w, t, test)]["rps"]) for test in ("GET", "SET")}
            cells += [fmt(rps["GET"], ",.0f"), fmt(rps["SET"], ",.0f")]
            for test in ("GET", "SET"):
                ratio = rps[test] / base[test] if rps[test] and base[test] else None
                cells.append(fmt(ratio, ".2f"))
            for test in ("GET", "SET"):
                d = data[(w, t, test)]
                cells.append(f"{fmt(median(d['p50_ms']), '.3f')} / {fmt(median(d['p99_ms']), '.3f')}")
            run_cpu = [v[0] for v in cpu[(w, t)].values()]
            cells.append(fmt(median(run_cpu), ".2f") if t != "redis" else "-")
            print("| " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
