"""genreward: Meta-World v3 Sawyer tasks simulated and rendered in Rust, as Gymnasium
environments, with GenReward's goal-driven reward terms.

    import gymnasium as gym
    import genreward

    env = gym.make("genreward/pick-place-v3", obs_mode="state+pixels", camera="corner2")
    obs, info = env.reset(seed=0)

    envs = genreward.make_vec("reach", num_envs=16)
    policy = genreward.expert("reach")
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from . import _native
from ._native import cameras, task_description, tasks
from .env import GenRewardEnv
from . import viewer, wrappers
from .expert import ExpertPolicy, expert
from .runs import Episode, RecordRun, Run, load_run
from .vector import GenRewardVecEnv

__version__ = _native.VERSION

#: The seven tasks, by their short names.
TASKS = tuple(_native.tasks())


def env_id(task: str) -> str:
    """The Gymnasium id of ``task``: ``genreward/<task>-v3``."""
    return f"genreward/{task}-v3"


def _register() -> None:
    for task in TASKS:
        if env_id(task) not in gym.registry:
            gym.register(
                id=env_id(task),
                entry_point="genreward.env:GenRewardEnv",
                kwargs={"task": task},
                max_episode_steps=_native.MAX_PATH_LENGTH,
                # Meta-World's env raises past max_path_length; the TimeLimit ends it first.
                disable_env_checker=False,
            )


_register()


def make(task: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make("genreward/<task>-v3", **kwargs)``."""
    return gym.make(env_id(_native.Env(task, 0, 1).task), **kwargs)


def make_vec(task: str, num_envs: int = 1, **kwargs: Any) -> GenRewardVecEnv:
    """``num_envs`` environments of ``task`` stepped in parallel in Rust (a Gymnasium
    ``VectorEnv``); keyword arguments as :class:`GenRewardVecEnv`."""
    return GenRewardVecEnv(task, num_envs, **kwargs)


__all__ = [
    "TASKS",
    "GenRewardEnv",
    "GenRewardVecEnv",
    "ExpertPolicy",
    "Episode",
    "RecordRun",
    "Run",
    "cameras",
    "env_id",
    "expert",
    "load_run",
    "make",
    "make_vec",
    "task_description",
    "tasks",
    "wrappers",
]
