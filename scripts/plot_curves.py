#!/usr/bin/env python3
"""Learning curves of `genreward train dreamer` runs, from their metrics.jsonl.

    python3 scripts/plot_curves.py --out docs/experiments/curves.png LABEL=RUN [LABEL=RUN ...]

RUN is a run folder (its metrics.jsonl is read) or a metrics file itself (docs/experiments/curves/ keeps
the evaluation and episode lines of the runs docs/experiments/reach-agent.md shows). `--keep DIR` writes those
lines of each run to DIR/LABEL.jsonl.

Three panels over environment steps: the held-out greedy evaluations' success rate, their
mean Meta-World (dense) return, and the training episodes' dense r_env return (the mean of
the episodes ending in each --bin of environment steps; with --sparse-every the agent was paid
only every K-th step of it, but the curve shows the dense sum so runs with different rewards
compare). Needs matplotlib.
"""

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def read(run):
    path = os.path.join(run, "metrics.jsonl") if os.path.isdir(run) else run
    evals, episodes = [], []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if d.get("kind") == "eval":
                evals.append(d)
            elif d.get("kind") == "episode":
                episodes.append(d)
    return evals, episodes


def binned(steps, values, width):
    """Means of the values in consecutive bins of `width` environment steps."""
    bins = {}
    for s, v in zip(steps, values):
        bins.setdefault(s // width, []).append(v)
    keys = sorted(bins)
    return [(k + 0.5) * width for k in keys], [sum(bins[k]) / len(bins[k]) for k in keys]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="DreamerV3 on reach (from pixels)")
    p.add_argument("--bin", type=int, default=5000, help="env steps per training-curve bin")
    p.add_argument("--keep", help="write each run's eval and episode lines to DIR/LABEL.jsonl")
    p.add_argument("runs", nargs="+", help="LABEL=RUN (a run folder or a metrics file)")
    a = p.parse_args()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2 + 0.3 * len(a.runs) / 3))
    for spec in a.runs:
        label, run = spec.split("=", 1)
        evals, episodes = read(run)
        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            name = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
            with open(os.path.join(a.keep, name + ".jsonl"), "w") as f:
                for d in sorted(evals + episodes, key=lambda d: d["env_steps"]):
                    f.write(json.dumps(d) + "\n")
        xs = [e["env_steps"] for e in evals]
        axes[0].plot(xs, [100 * e["success_rate"] for e in evals], marker="o", label=label)
        axes[1].plot(xs, [e["mean_return_env"] for e in evals], marker="o", label=label)
        # The dense Meta-World return of training episodes: r_env when it was paid densely,
        # else recorded per episode by runs that log it.
        ys = [e.get("dense_return", e.get("r_env", e["return"])) for e in episodes]
        bx, by = binned([e["env_steps"] for e in episodes], ys, a.bin)
        axes[2].plot(bx, by, label=label)
    axes[0].set_ylabel("held-out success (%)")
    axes[1].set_ylabel("held-out mean return (dense r_env)")
    axes[2].set_ylabel("training episodes' dense r_env (mean per bin)")
    for ax in axes:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    # One legend for the three panels, below them, so that it hides no curve.
    handles, labels = axes[0].get_legend_handles_labels()
    ncol = min(3, len(labels))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False)
    fig.suptitle(a.title)
    rows = (len(labels) + ncol - 1) // ncol
    fig.tight_layout(rect=(0, 0.06 * rows, 1, 1))
    fig.savefig(a.out, dpi=110)
    print(a.out)


if __name__ == "__main__":
    main()
