"""Type stubs of genreward's Rust extension (crates/python)."""

from os import PathLike
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

MAX_PATH_LENGTH: int
VERSION: str

class Env:
    """One Meta-World v3 task (goal observable), placed by ``seed``, stepped in Rust."""

    def __init__(self, task: str, seed: int = 0, max_episode_steps: int = 500) -> None: ...
    def reset(self, seed: Optional[int] = None) -> npt.NDArray[np.float64]:
        """Places everything as Meta-World does for ``seed``; returns the 39-d observation."""
    def step(
        self, action: npt.NDArray[np.float64]
    ) -> Tuple[npt.NDArray[np.float64], float, bool, Dict[str, float]]:
        """``(obs, reward, truncated, info)``; raises ValueError past the episode's end."""
    def render(self, camera: str, width: int, height: int) -> npt.NDArray[np.uint8]:
        """The scene from ``camera``, uint8 ``[height, width, 3]``."""
    @property
    def seed(self) -> int: ...
    @property
    def task(self) -> str: ...
    @property
    def steps(self) -> int: ...
    @property
    def max_episode_steps(self) -> int: ...
    @property
    def obj_init_pos(self) -> List[float]: ...
    @property
    def target_pos(self) -> List[float]: ...

class VecEnv:
    """``num_envs`` environments of one task, stepped in parallel."""

    def __init__(
        self,
        task: str,
        num_envs: int,
        seed: int = 0,
        max_episode_steps: int = 500,
        autoreset: str = "next_step",
    ) -> None: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def seeds(self) -> List[int]: ...
    def reset(self, seeds: Optional[List[int]] = None) -> npt.NDArray[np.float64]: ...
    def step(
        self, actions: npt.NDArray[np.float64]
    ) -> Tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.uint64],
        Dict[str, npt.NDArray[np.float64]],
        Dict[int, npt.NDArray[np.float64]],
    ]:
        """``(obs, rewards, truncated, steps, info, final_obs)``."""
    def render(self, camera: str, width: int, height: int) -> npt.NDArray[np.uint8]:
        """Every environment from ``camera``, uint8 ``[num_envs, height, width, 3]``."""

class RunWriter:
    """Writes a run folder as ``genreward rollout --out`` does, from a Python loop."""

    def __init__(
        self,
        out: Union[str, PathLike],
        task: str,
        camera: Optional[str] = "corner2",
        width: int = 64,
        height: int = 64,
        max_episode_steps: int = 500,
        sparse_every: Optional[int] = None,
        video: Optional[Union[str, PathLike]] = None,
        video_camera: Optional[str] = None,
        video_width: int = 256,
        video_height: int = 256,
        overlay: bool = True,
        agent: Optional[str] = None,
        command: List[str] = ...,
    ) -> None: ...
    def begin_episode(self, seed: int) -> None: ...
    def before_step(self, env: Env) -> None: ...
    def after_step(self, env: Env, truncated: bool) -> float: ...
    def end_episode(self) -> None: ...
    @property
    def episodes(self) -> int: ...
    def finish(self) -> Optional[str]: ...

def read_steps(path: Union[str, PathLike]) -> Dict[str, object]:
    """A run's ``steps.jsonl`` as numpy columns (``terms``: a dict of named terms)."""

def expert_action(task: str, obs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def tasks() -> List[str]: ...
def cameras() -> List[str]: ...
def task_description(task: str) -> str: ...
def observation_box(task: str) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
