"""Stable-Baselines3 on the envs: its own checker and a short PPO run. SB3 brings torch (several
GB with its CUDA libraries on Linux), so CI does not install it and these tests skip there; with
`pip install stable-baselines3` they run."""

import numpy as np
import pytest

import genreward

sb3 = pytest.importorskip("stable_baselines3", reason="pip install stable-baselines3 to run")


@pytest.mark.parametrize("task", genreward.TASKS)
def test_stable_baselines3_env_checker_passes_in_every_obs_mode(task):
    from stable_baselines3.common.env_checker import check_env

    for mode in ("state", "pixels", "state+pixels"):
        check_env(genreward.GenRewardEnv(task, obs_mode=mode), warn=True)


def test_ppo_trains_a_few_thousand_steps_and_its_policy_acts():
    import gymnasium as gym
    import torch

    torch.set_num_threads(1)
    env = gym.make("genreward/reach-v3", max_episode_steps=256)
    model = sb3.PPO("MlpPolicy", env, n_steps=512, batch_size=128, n_epochs=2, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=2048)
    assert model.num_timesteps == 2048
    # Learning moved the policy, and it acts in the env's action space.
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))
    obs, _ = env.reset(seed=5)
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (4,) and np.all(np.abs(action) <= 1.0)
    assert env.step(action)[0].shape == (39,)
