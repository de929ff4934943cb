"""Medians of bench/ratelimit.sh's raw CSV as markdown tables, with the targets' ratios."""
import csv
import statistics
import sys
from collections import defaultdict


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def main(path):
    runs = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            runs[(row["part"], row["workload"], row["target"])].append(row)
    med = {}
    for key, rows in runs.items():
        med[key] = {
            field: median([num(r[field]) for r in rows])
            for field in ("rps", "p50_ms", "p99_ms", "cpu_us_per_call")
        }

    def fmt(v, pattern):
        return "-" if v is None else pattern % v

    sections = [
        ("throttle", "CL.THROTTLE through keywarden vs the function called directly",
         ["keywarden", "direct"], "keywarden"),
        ("protect", "GET at c50 P16, per-user protective limit on vs off",
         ["plain", "limited"], "limited"),
        ("fallback", "CL.THROTTLE with Redis down (local fallback)", ["keywarden"], None),
    ]
    for part, title, targets, subject in sections:
        workloads = sorted({k[1] for k in med if k[0] == part})
        if not workloads:
            continue
        print(f"## {title}\n")
        print("| workload | target | calls/s | p50 ms | p99 ms | proxy CPU us/call |")
        print("|---|---|---:|---:|---:|---:|")
        for wl in workloads:
            for t in targets:
                m = med.get((part, wl, t))
                if not m:
                    continue
                print(f"| {wl} | {t} | {fmt(m['rps'], '%.0f')} | {fmt(m['p50_ms'], '%.3f')} | "
                      f"{fmt(m['p99_ms'], '%.3f')} | {fmt(m['cpu_us_per_call'], '%.3f')} |")
        if subject:
            base = [t for t in targets if t != subject][0]
            for wl in workloads:
                a, b = med.get((part, wl, subject)), med.get((part, wl, base))
                if not a or not b:
                    continue
                if part == "throttle" and a["rps"] and b["rps"]:
                    print(f"\n{wl}: keywarden / direct throughput = {a['rps'] / b['rps']:.2f}x "
                          "(target >= 1.0x)")
                if part == "protect" and a["cpu_us_per_call"] and b["cpu_us_per_call"]:
                    ratio = a["cpu_us_per_call"] / b["cpu_us_per_call"]
                    print(f"\n{wl}: CPU per request with the limit / without = {ratio:.3f} "
                          "(target <= 1.05)")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
