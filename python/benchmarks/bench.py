"""Speed from Python beside the same figure from the Rust CLI (`genreward bench`): the
binding's overhead as a ratio. Prints a table; times nothing in the test suite.

    python3 python/benchmarks/bench.py [--task reach] [--steps 20000] [--cli target/release/genreward]

Both sides step random actions (the CLI's `--policy random`; here a pre-drawn array, so the
Python policy costs nothing). Build both in the same profile for a fair ratio.
"""

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

import genreward

ROOT = Path(__file__).resolve().parents[2]


def cli_figure(cli, task, steps, envs, camera=None):
    cmd = [str(cli), "bench", "--task", task, "--policy", "random", "--steps", str(steps),
           "--envs", str(envs)]
    if camera:
        cmd += ["--camera", camera, "--size", "64x64"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out[out.index("{"):])
    return report["obs_per_sec"] if camera else report["steps_per_sec"]


def python_single(task, steps):
    env = genreward.GenRewardEnv(task, max_episode_steps=500)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, 4))
    env.reset(seed=0)
    t = time.perf_counter()
    for i in range(steps):
        _, _, _, truncated, _ = env.step(actions[i])
        if truncated:
            env.reset()
    return steps / (time.perf_counter() - t)


def python_vector(task, steps, envs, pixels):
    vec = genreward.make_vec(task, num_envs=envs, obs_mode="pixels" if pixels else "state", size=64)
    n = steps // envs
    actions = np.random.default_rng(0).uniform(-1, 1, (n, envs, 4))
    vec.reset(seed=0)
    t = time.perf_counter()
    for i in range(n):
        vec.step(actions[i])
    return n * envs / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="reach")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--pixel-steps", type=int, default=4000)
    p.add_argument("--cli", default=None, help="the genreward binary (default: target/release, else target/debug)")
    a = p.parse_args()
    cli = a.cli or next(
        (ROOT / "target" / prof / "genreward" for prof in ("release", "debug")
         if (ROOT / "target" / prof / "genreward").exists()), None)
    rows = [
        ("state steps/s, 1 env", python_single(a.task, a.steps),
         cli_figure(cli, a.task, a.steps, 1) if cli else None),
        ("state steps/s, vector of 16", python_vector(a.task, a.steps, 16, False),
         cli_figure(cli, a.task, a.steps, 16) if cli else None),
        ("64x64 pixel obs/s, vector of 16", python_vector(a.task, a.pixel_steps, 16, True),
         cli_figure(cli, a.task, a.pixel_steps, 16, "corner2") if cli else None),
    ]
    print(f"task {a.task}, cli {cli}, {os.cpu_count()} cores")
    print(f"{'figure':34s} {'python':>10s} {'rust cli':>10s} {'overhead':>9s}")
    for name, py, rs in rows:
        if rs:
            print(f"{name:34s} {py:10.0f} {rs:10.0f} {100 * (rs / py - 1):8.1f}%")
        else:
            print(f"{name:34s} {py:10.0f} {'-':>10s} {'-':>9s}")


if __name__ == "__main__":
    main()
