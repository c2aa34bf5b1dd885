"""Stable-Baselines3 on a genreward task: SB3's own env checker, then PPO for a few thousand
steps, then the trained policy's success on seeds it never saw.

    python3 -m pip install stable-baselines3   # brings torch
    python3 python/examples/sb3_ppo.py --task reach --steps 8192

PPO needs far more than a few thousand steps to solve a Meta-World task; this shows the wiring
(and that SB3 accepts the envs), not a result.
"""

import argparse
import time

import gymnasium as gym
import numpy as np

import genreward


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="reach", choices=genreward.TASKS)
    p.add_argument("--steps", type=int, default=8192, help="environment steps of training")
    p.add_argument("--episode-steps", type=int, default=256, help="the paper's episode length")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env

    for mode in ("state", "pixels", "state+pixels"):
        check_env(genreward.GenRewardEnv(a.task, obs_mode=mode), warn=True)
    print(f"stable_baselines3 check_env: {a.task} passes in every obs mode")

    env = gym.make(genreward.env_id(a.task), max_episode_steps=a.episode_steps)
    model = PPO("MlpPolicy", env, n_steps=1024, batch_size=64, seed=a.seed, device="cpu", verbose=0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=a.steps)
    took = time.perf_counter() - t0
    print(f"PPO: {model.num_timesteps} steps in {took:.1f} s ({model.num_timesteps / took:.0f} steps/s)")

    # Evaluation seeds far from any the training episodes drew.
    successes, returns = [], []
    for k in range(a.eval_episodes):
        obs, _ = env.reset(seed=900_000 + k)
        done, total, success = False, 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += reward
            success |= bool(info["success"])
            done = terminated or truncated
        successes.append(success)
        returns.append(total)
    print(
        f"evaluation on {a.eval_episodes} unseen seeds: success {np.mean(successes):.0%}, "
        f"mean return {np.mean(returns):.1f}"
    )


if __name__ == "__main__":
    main()
