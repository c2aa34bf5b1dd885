"""A random and an expert rollout of every task, with their success rates.

    python3 python/examples/random_and_expert.py [--episodes 5] [--steps 256]
"""

import argparse

import gymnasium as gym
import numpy as np

import genreward


def rollout(env, policy, seed):
    obs, _ = env.reset(seed=seed)
    ret, success = 0.0, False
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        ret += reward
        success |= info["success"] == 1.0
        if terminated or truncated:
            return ret, success


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--episodes", type=int, default=5)
    p.add_argument("--steps", type=int, default=256)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'task':18s} {'random':>14s} {'expert':>14s}")
    for task in genreward.TASKS:
        env = gym.make(genreward.env_id(task), max_episode_steps=args.steps)
        cols = []
        for policy in (lambda o: rng.uniform(-1, 1, 4), genreward.expert(task)):
            runs = [rollout(env, policy, seed) for seed in range(args.episodes)]
            rate = np.mean([s for _, s in runs])
            cols.append(f"{rate:5.0%} {np.mean([r for r, _ in runs]):8.1f}")
        print(f"{task:18s} {cols[0]:>14s} {cols[1]:>14s}")


if __name__ == "__main__":
    main()
