#!/usr/bin/env python3
"""bench/soak.sh: every non-zero error counter of keywarden's Prometheus text, classified.

Usage: soak_errors.py METRICS_FILE ABRUPT_PERCENT
Prints one line per counter: "expected<TAB>why<TAB>sample value" or "UNEXPECTED<TAB><TAB>...".

An error counter is a sample of a family whose name says it counts a failure (error, fail, lost,
refused, ...), or a keywarden_commands_total / keywarden_ttl_actions_total sample whose outcome or
action is a refusal or an error. Each expected one is expected for a reason of the soak's own
making, checked where the figures allow it.
"""
import re
import sys

ERRORISH = re.compile(r"error|fail|lost|loss|refused|reject|stalled|aborted|timeout|unexpected|"
                      r"fallback|fail_open|reconnect|resets_failed|output_limit|query_limit")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse(path):
    samples = []
    for line in open(path):
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m:
            samples.append((m.group(1), m.group(2) or "", float(m.group(3))))
    return samples


def is_error_counter(name, labels):
    if name.endswith(("_bucket", "_sum", "_count")):
        return False
    if name == "keywarden_commands_total":
        return 'outcome="ok"' not in labels
    if name == "keywarden_ttl_actions_total":
        return 'action="refused' in labels
    return bool(ERRORISH.search(name))


def main(path, abrupt):
    samples = parse(path)
    total = {}
    for name, _labels, v in samples:
        total[name] = total.get(name, 0) + v
    refusals = total.get("keywarden_ratelimit_refused_total", 0)
    # The upstream never failed: no reconnect, no failed connect, up at the end.
    upstream_healthy = (total.get("keywarden_upstream_reconnects_total", 0) == 0 and
                        total.get("keywarden_upstream_connect_failures_total", 0) == 0 and
                        total.get("keywarden_upstream_up", 0) >= 1)
    abandoned = ("a client that leaves with commands in flight on a pinned link (pipelined behind "
                 "MULTI or BLPOP; SOAK_ABRUPT > 0) has that link closed, and its abandoned "
                 "commands are counted as lost to the upstream although the upstream never failed "
                 "(no reconnect, no connect failure): a mis-attribution")
    for name, labels, v in samples:
        if v == 0 or not is_error_counter(name, labels):
            continue
        why = None
        if name == "keywarden_ratelimit_refused_total" and 'name="user:email"' in labels:
            why = "user:email has a protective limit of 50/s that the load exceeds on purpose"
        elif (name == "keywarden_commands_total" and 'namespace="user:email"' in labels and
              'outcome="refused_ratelimit"' in labels):
            why = "the same rate-limit refusals, counted by command"
        elif name == "keywarden_errors_refused_total" and v == refusals:
            why = "equal to the rate-limit refusals (errors_refused counts them too)"
        elif upstream_healthy and abrupt > 0:
            if name == "keywarden_errors_upstream_lost_total":
                why = abandoned
            elif name == "keywarden_commands_total" and 'outcome="upstream_down"' in labels:
                why = "the same abandoned commands, counted by command"
            elif name == "keywarden_throttle_fallback_total":
                why = ("CL.THROTTLE among those abandoned commands, answered (to nobody) by the "
                       "local fallback")
        value = f"{name}{labels} {v:g}"
        print(f"expected\t{why}\t{value}" if why else f"UNEXPECTED\t\t{value}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
