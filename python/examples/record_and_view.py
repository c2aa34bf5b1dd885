"""Record a Python policy's episodes as a run folder, read it back, and open it in the app.

    python3 python/examples/record_and_view.py runs/py-push
    genreward view --run runs/py-push          # replay, rescore, scrub in the app
    genreward score --run runs/py-push --goal generated --out runs/py-push/score.jsonl
"""

import sys

import gymnasium as gym
import numpy as np

import genreward
from genreward.wrappers import RecordRun

out = sys.argv[1] if len(sys.argv) > 1 else "runs/py-push"
expert = genreward.expert("push")
rng = np.random.default_rng(0)


def policy(obs):
    # The expert with some noise: a stand-in for the policy you are training.
    return np.clip(expert(obs) + rng.normal(0, 0.3, 4), -1, 1)


env = RecordRun(
    gym.make("genreward/push-v3", max_episode_steps=256),
    out,
    camera="corner2",
    size=64,
    video=f"{out}/run.mp4",
    agent={"name": "noisy expert", "noise": 0.3},
)
for seed in range(3):
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        done = terminated or truncated
env.close()

run = genreward.load_run(out)
for ep in run.episodes:
    print(f"episode {ep.index} (seed {ep.seed}): {len(ep)} steps, success {ep.success}, "
          f"return {ep.steps['reward'].sum():.1f}, frames {ep.frames.shape}")
print(f"open it: genreward view --run {out}")
