#!/usr/bin/env python3
"""SQL statements per request, by route, from instance logs written with
RUST_LOG=...,sqlx::query=debug,kedian::telemetry=info (bench/cluster_drill.sh, STATEMENTS=1).
Each statement is logged inside its request's span (route=...); statements outside any request
are the background jobs'."""
import collections
import re
import sys

requests = collections.Counter()
per_route = collections.defaultdict(collections.Counter)
background = collections.Counter()
for path in sys.argv[1:]:
    for line in open(path, errors="replace"):
        route = re.search(r"request\{[^ ]* method=\S+ route=(\S+)\}: ", line)
        if "latency_ms=" in line and route:
            requests[route.group(1)] += 1
        elif "summary=" in line:
            summary = re.search(r'summary="([^"]*)"', line).group(1)[:60]
            (per_route[route.group(1)] if route else background)[summary] += 1

print("# SQL statements per request, by route\n")
print("| route | requests | statements each | the most frequent |")
print("|---|---|---|---|")
for route, n in requests.most_common():
    counts = per_route[route]
    top = "; ".join(f"{c / n:.2f} × `{s}`" for s, c in counts.most_common(4))
    print(f"| `{route}` | {n} | {sum(counts.values()) / n:.2f} | {top} |")
print(f"\nOutside requests (jobs, announcements): {sum(background.values())} statements; the most frequent:\n")
for summary, c in background.most_common(6):
    print(f"- {c} × `{summary}`")
