#!/usr/bin/env python3
# Turns bench/overhead.sh's raw.csv into the markdown table (medians per config).
import csv, statistics, subprocess, sys
raw, workers, ttl = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.DictReader(open(raw)))
def med(w, t, c, f):
    v = [float(r[f]) for r in rows if r["workload"] == w and r["target"] == t and r["command"] == c and r[f]]
    return statistics.median(v) if v else float("nan")
cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
print("# keywarden policy and metrics overhead\n")
print(f"- machine: {cpu}, nproc 2; keywarden workers: {workers}; 50 clients; keys in namespace 'session'")
print(f"- TTL of a key written by the policy run (expect ~2592000): {ttl}")
print("- command: `bash bench/overhead.sh` (medians of interleaved reps; CPU = proxy utime+stime)\n")
for w in ("P1", "P16"):
    print(f"## {w}\n")
    print("| config | SET req/s | GET req/s | SET cpu us/req | GET cpu us/req | cpu vs plain |")
    print("|---|---:|---:|---:|---:|---:|")
    base = med(w, "plain", "SET", "cpu_us_per_req") + med(w, "plain", "GET", "cpu_us_per_req")
    for t in ("plain", "policy", "nometrics"):
        s = med(w, t, "SET", "cpu_us_per_req"); g = med(w, t, "GET", "cpu_us_per_req")
        print(f"| {t} | {med(w,t,'SET','rps'):,.0f} | {med(w,t,'GET','rps'):,.0f} | {s:.2f} | {g:.2f} | {(s+g)/base:.3f} |")
    print()
