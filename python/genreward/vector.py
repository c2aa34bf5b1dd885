"""N environments of one task stepped in parallel in Rust, as a Gymnasium ``VectorEnv``."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _native
from .env import (
    DEFAULT_CAMERA,
    DEFAULT_RENDER_SIZE,
    DEFAULT_SIZE,
    Size,
    action_space,
    observation_space,
    parse_size,
)

_MODES = {
    "next_step": AutoresetMode.NEXT_STEP,
    "same_step": AutoresetMode.SAME_STEP,
}


class GenRewardVecEnv(VectorEnv):
    """``num_envs`` copies of one task, stepped together by rayon and rendered in one batch.

    Environment ``i`` starts from placement seed ``seed + i`` (``reset(seed=s)``), or from
    ``seed[i]`` given a list. A finished episode restarts by Gymnasium's autoreset mode:
    ``"next_step"`` (the default: the call after the last step resets that environment and
    ignores its action; its reward is 0) or ``"same_step"`` (the last step resets at once; the
    episode's last observation is in ``info["final_obs"]``). Other arguments are
    :class:`genreward.GenRewardEnv`'s.
    """

    def __init__(
        self,
        task: str,
        num_envs: int,
        obs_mode: str = "state",
        camera: str = DEFAULT_CAMERA,
        size: Size = DEFAULT_SIZE,
        max_episode_steps: int = _native.MAX_PATH_LENGTH,
        autoreset_mode: Union[str, AutoresetMode] = "next_step",
        sparse_every: Optional[int] = None,
        render_mode: Optional[str] = None,
        render_size: Size = DEFAULT_RENDER_SIZE,
    ):
        if isinstance(autoreset_mode, AutoresetMode):
            names = {v: k for k, v in _MODES.items()}
            if autoreset_mode not in names:
                raise ValueError(f"autoreset mode {autoreset_mode} is not supported here")
            autoreset_mode = names[autoreset_mode]
        if autoreset_mode not in _MODES:
            raise ValueError(
                f"unknown autoreset_mode '{autoreset_mode}' (one of {', '.join(_MODES)})"
            )
        self._worlds = _native.VecEnv(
            task, int(num_envs), 0, int(max_episode_steps), autoreset_mode
        )
        if camera not in _native.cameras():
            raise ValueError(f"unknown camera '{camera}' (one of {', '.join(_native.cameras())})")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unknown render_mode '{render_mode}' (rgb_array)")
        if sparse_every is not None and int(sparse_every) < 1:
            raise ValueError(f"sparse_every must be at least 1, got {sparse_every}")
        self.task = _native.Env(task, 0, 1).task
        self.num_envs = int(num_envs)
        self.obs_mode = obs_mode
        self.camera = camera
        self.size = parse_size(size)
        self.render_mode = render_mode
        self.render_size = parse_size(render_size, "render_size")
        self.sparse_every = None if sparse_every is None else int(sparse_every)
        self.metadata = {
            "autoreset_mode": _MODES[autoreset_mode],
            "render_modes": ["rgb_array"],
            "render_fps": 80,
        }
        self.single_observation_space = observation_space(self.task, obs_mode, self.size)
        self.single_action_space = action_space()
        # Every env reports every term: one read-only all-True mask serves them all.
        self._every_env = np.ones(self.num_envs, dtype=bool)
        self._every_env.flags.writeable = False
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    @property
    def seeds(self) -> list:
        """Each environment's current placement seed."""
        return self._worlds.seeds

    def _observation(self, states: np.ndarray):
        if self.obs_mode == "state":
            return states
        w, h = self.size
        pixels = self._worlds.render(self.camera, w, h)
        if self.obs_mode == "pixels":
            return pixels
        return {"state": states, "pixels": pixels}

    def reset(self, *, seed: Optional[Union[int, Sequence[int]]] = None, options: Optional[dict] = None):
        if seed is None:
            super().reset(seed=None)
            seeds = [int(s) for s in self.np_random.integers(0, 2**32, size=self.num_envs)]
        elif isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = [int(s) for s in seed]
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} environments: one each")
            super().reset(seed=seeds[0])
        states = self._worlds.reset(seeds)
        info = {"seed": np.array(self._worlds.seeds, dtype=np.int64)}
        info["_seed"] = np.ones(self.num_envs, dtype=bool)
        return self._observation(states), info

    def step(self, actions):
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != (self.num_envs, 4):
            raise ValueError(
                f"actions must be [{self.num_envs}, 4] (one row per environment), got shape {a.shape}"
            )
        states, rewards, truncated, steps, terms, finals = self._worlds.step(
            np.ascontiguousarray(a)
        )
        if self.sparse_every is not None and self.sparse_every > 1:
            rewards = np.where(steps % self.sparse_every == 0, rewards, 0.0)
        info = dict(terms)
        for key in terms:
            info["_" + key] = self._every_env
        if finals:
            final_obs = np.full(self.num_envs, None, dtype=object)
            mask = np.zeros(self.num_envs, dtype=bool)
            for i, obs in finals.items():
                final_obs[i] = obs
                mask[i] = True
            info["final_obs"] = final_obs
            info["_final_obs"] = mask
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self._observation(states), rewards, terminated, truncated, info

    def render(self):
        if self.render_mode is None:
            return None
        w, h = self.render_size
        return tuple(self._worlds.render(self.camera, w, h))
