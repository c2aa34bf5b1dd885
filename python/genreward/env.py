"""One Meta-World v3 task as a Gymnasium environment, stepped and rendered by genreward's Rust
library (``genreward._native``)."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import _native
from .viewer import Viewer

OBS_MODES = ("state", "pixels", "state+pixels")
DEFAULT_CAMERA = "corner2"
DEFAULT_SIZE = 64
DEFAULT_RENDER_SIZE = 480

Size = Union[int, Sequence[int]]


def parse_size(size: Size, what: str = "size") -> Tuple[int, int]:
    """``64`` or ``(width, height)`` -> ``(width, height)``, each side 1..=4096."""
    if isinstance(size, (int, np.integer)):
        w = h = int(size)
    else:
        try:
            w, h = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be an int or (width, height), got {size!r}") from None
    if not (1 <= w <= 4096 and 1 <= h <= 4096):
        raise ValueError(f"{what} {w}x{h} is out of range (each side 1..=4096)")
    return w, h


def as_action(action: Any) -> np.ndarray:
    """An action as the float64 array of 4 the world takes, or a one-line ValueError."""
    a = np.asarray(action, dtype=np.float64)
    if a.shape != (4,):
        raise ValueError(
            f"an action is 4 numbers (dx, dy, dz, gripper), got shape {a.shape}"
        )
    return a


def state_space(task: str) -> spaces.Box:
    """Meta-World's 39-d observation box for ``task`` (float64)."""
    low, high = _native.observation_box(task)
    return spaces.Box(low=low, high=high, dtype=np.float64)


def observation_space(task: str, obs_mode: str, size: Tuple[int, int]) -> spaces.Space:
    if obs_mode not in OBS_MODES:
        raise ValueError(f"unknown obs_mode '{obs_mode}' (one of {', '.join(OBS_MODES)})")
    w, h = size
    pixels = spaces.Box(low=0, high=255, shape=(h, w, 3), dtype=np.uint8)
    if obs_mode == "state":
        return state_space(task)
    if obs_mode == "pixels":
        return pixels
    return spaces.Dict({"state": state_space(task), "pixels": pixels})


def action_space() -> spaces.Box:
    """Meta-World's action box: ``(dx, dy, dz, gripper)`` in [-1, 1], float32."""
    return spaces.Box(low=-1.0, high=1.0, shape=(4,), dtype=np.float32)


def sparse_paid(reward: float, steps: int, sparse_every: Optional[int]) -> float:
    """The env reward as paid: every step, or only every ``sparse_every``-th (the CLI's rule)."""
    if sparse_every is not None and sparse_every > 1 and steps % sparse_every != 0:
        return 0.0
    return reward


class GenRewardEnv(gym.Env):
    """A Meta-World v3 Sawyer task (goal observable), simulated with rapier3d.

    Args:
        task: one of :data:`genreward.TASKS` (``"pick-place"``; ``"pick-place-v3"`` works too).
        obs_mode: ``"state"`` (Meta-World's 39 float64), ``"pixels"`` (uint8 ``[H, W, 3]`` from
            ``camera``) or ``"state+pixels"`` (a dict with both).
        camera: the observation camera (:func:`genreward.cameras`).
        size: the observation frame, ``64`` or ``(width, height)``.
        render_mode: ``"rgb_array"`` (:meth:`render` returns the frame) or ``"human"`` (every
            reset and step shows the frame in a window, at Meta-World's real-time 80 frames a
            second; pygame draws it when installed, else tkinter).
        max_episode_steps: the episode's length; the step that reaches it is truncated and the
            next raises (Meta-World: 500, the paper: 256).
        sparse_every: pay the env reward only every K-th step (``None``: every step).
        render_camera, render_size: what :meth:`render` shows (default: ``camera`` at 480x480).
        reward: ``"env"`` (Meta-World's dense reward) or ``"genreward"``: ``r_env + alpha *
            r_video + beta * r_fb`` toward ``goal``, each step's terms in ``info["terms"]``.
        goal: with ``reward="genreward"``: a goal video file (``.mp4``, ``.gif``, ``.npy``, a
            folder of ``.png``), ``"expert"`` (each episode's own expert video: the oracle) or
            ``"generated"`` (each episode's goal generated from its first frame by the shipped
            generator, as in the paper).
        alpha, beta, every: the weights of r_video and r_fb and r_video's interval (default:
            the CLI's, 10, 0.005 and 128); ``fb=False`` leaves r_fb out.
        device: ``"cpu"`` or ``"wgpu"`` for the reward's models.
        reward_camera, reward_size: the frames the reward reads (the VAE's: corner2, 64).

    ``reset(seed=s)`` places object and goal exactly as Meta-World's goal-observable env built
    with seed ``s``; ``reset()`` without a seed draws the next placement from the env's
    generator. ``info`` carries Meta-World's terms; ``terminated`` is always False, as there.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 80}

    def __init__(
        self,
        task: str,
        obs_mode: str = "state",
        camera: str = DEFAULT_CAMERA,
        size: Size = DEFAULT_SIZE,
        render_mode: Optional[str] = None,
        max_episode_steps: int = _native.MAX_PATH_LENGTH,
        sparse_every: Optional[int] = None,
        render_camera: Optional[str] = None,
        render_size: Size = DEFAULT_RENDER_SIZE,
        reward: str = "env",
        goal: Optional[str] = None,
        alpha: Optional[float] = None,
        beta: Optional[float] = None,
        every: Optional[int] = None,
        fb: bool = True,
        device: str = "cpu",
        reward_camera: str = DEFAULT_CAMERA,
        reward_size: Size = DEFAULT_SIZE,
        generator: Optional[str] = None,
    ):
        if task not in _native.tasks():
            # The native parser takes the -v3 names too; it gives the one-line error.
            _native.task_description(task)
        self._world = _native.Env(task, 0, int(max_episode_steps))
        self.task = self._world.task
        if camera not in _native.cameras():
            raise ValueError(f"unknown camera '{camera}' (one of {', '.join(_native.cameras())})")
        self.obs_mode = obs_mode
        self.camera = camera
        self.size = parse_size(size)
        self.observation_space = observation_space(self.task, obs_mode, self.size)
        self.action_space = action_space()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode '{render_mode}' (one of {', '.join(self.metadata['render_modes'])})"
            )
        self.render_mode = render_mode
        self.render_camera = render_camera or camera
        if self.render_camera not in _native.cameras():
            raise ValueError(f"unknown camera '{self.render_camera}'")
        self.render_size = parse_size(render_size, "render_size")
        if sparse_every is not None and int(sparse_every) < 1:
            raise ValueError(f"sparse_every must be at least 1, got {sparse_every}")
        self.sparse_every = None if sparse_every is None else int(sparse_every)
        self.max_episode_steps = int(max_episode_steps)
        self.rewarder = None
        if reward not in ("env", "genreward"):
            raise ValueError(f"unknown reward '{reward}' (env or genreward)")
        if reward == "genreward":
            if goal is None:
                raise ValueError("reward='genreward' needs goal= (a video file, 'expert' or 'generated')")
            self.reward_view = (reward_camera, *parse_size(reward_size, "reward_size"))
            self.rewarder = _native.Rewarder(
                self.task, str(goal), reward_camera, self.reward_view[1], self.reward_view[2],
                self.max_episode_steps, alpha, beta, every, fb, device, None,
                None if generator is None else str(generator),
            )
        elif goal is not None:
            raise ValueError("goal= is for reward='genreward'")
        self._state = None
        self._frame = None
        self._viewer = None

    @property
    def seed_used(self) -> int:
        """The seed of the current placement."""
        return self._world.seed

    @property
    def world(self) -> "_native.Env":
        """The Rust world underneath (for positions, rendering other cameras, ...)."""
        return self._world

    def _observation(self, state: np.ndarray) -> Any:
        pixels = None
        if self.obs_mode != "state":
            w, h = self.size
            pixels = self._world.render(self.camera, w, h)
        if self.rewarder is not None:
            # The reward's frame of this state: the observation's when they are the same view.
            self._state = state
            if pixels is not None and (self.camera, w, h) == self.reward_view:
                self._frame = pixels
            else:
                self._frame = self._world.render(*self.reward_view)
        if self.obs_mode == "state":
            return state
        if self.obs_mode == "pixels":
            return pixels
        return {"state": state, "pixels": pixels}

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        placement = seed if seed is not None else int(self.np_random.integers(0, 2**32))
        state = self._world.reset(placement)
        info = {
            "seed": placement,
            "obj_init_pos": np.array(self._world.obj_init_pos),
            "target_pos": np.array(self._world.target_pos),
        }
        obs = self._observation(state)
        if self.rewarder is not None:
            self.rewarder.begin_episode(self._world, self._frame)
            info["goal"] = self.rewarder.goal[0]
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action):
        a = as_action(action)
        before = (self._state, self._frame)
        state, reward, truncated, info = self._world.step(a)
        reward = sparse_paid(reward, self._world.steps, self.sparse_every)
        if self.rewarder is not None:
            reward, info["terms"] = self.rewarder.step(
                before[0], a, before[1], reward, self._world.steps - 1
            )
        obs = self._observation(state)
        if self.render_mode == "human":
            self.render()
        return obs, float(reward), False, bool(truncated), info

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode: pass render_mode='rgb_array'")
            return None
        w, h = self.render_size
        frame = self._world.render(self.render_camera, w, h)
        if self.render_mode == "rgb_array":
            return frame
        if self._viewer is None:
            self._viewer = Viewer(
                f"genreward {self.task} ({self.render_camera})", self.metadata["render_fps"]
            )
        self._viewer.show(frame)
        return None

    def close(self):
        if self._viewer is not None:
            self._viewer.close_window()
            self._viewer = None
        super().close()
