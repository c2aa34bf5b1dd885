#!/usr/bin/env python3
"""Success and closest approach of an `eval-agent --json` report, by how far each episode's
goal lies from the mean goal of the report's episodes.

A policy that finds the goal solves episodes wherever the goal is; one that goes to the same
place every time solves only those whose goal happens to lie near it.

    genreward eval-agent --policy agent:DIR --episodes 200 --json report.json
    python3 scripts/success_by_goal.py report.json
"""
import json
import math
import statistics
import sys

if len(sys.argv) != 2:
    sys.exit("usage: success_by_goal.py REPORT.json (from genreward eval-agent --json)")
eps = json.load(open(sys.argv[1]))["per_episode"]
goals = [e["goal"] for e in eps]
mean = [statistics.fmean(g[i] for g in goals) for i in range(3)]
far = [math.dist(g, mean) for g in goals]
closest = [e["closest"] for e in eps]
mc, mf = statistics.fmean(closest), statistics.fmean(far)
cov = sum((c - mc) * (f - mf) for c, f in zip(closest, far))
corr = cov / math.sqrt(sum((c - mc) ** 2 for c in closest) * sum((f - mf) ** 2 for f in far))
print(f"{len(eps)} episodes; correlation of the closest approach with the goal's distance "
      f"from the mean goal: {corr:.2f}")
print("| goal's distance from the mean goal | episodes | success | closest approach (median) |")
print("|---|---|---|---|")
for lo, hi in [(0.0, 0.05), (0.05, 0.08), (0.08, 0.11), (0.11, math.inf)]:
    sel = [e for e, f in zip(eps, far) if lo <= f < hi]
    if not sel:
        continue
    rate = sum(e["success"] for e in sel) / len(sel)
    med = statistics.median(e["closest"] for e in sel)
    top = "" if math.isinf(hi) else f"{100 * hi:.0f}"
    span = f"{100 * lo:.0f}-{top} cm" if top else f">= {100 * lo:.0f} cm"
    print(f"| {span} | {len(sel)} | {100 * rate:.0f} % | {100 * med:.1f} cm |")
