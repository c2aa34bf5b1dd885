"""Run folders: record a Python policy's episodes exactly as ``genreward rollout --out`` does
(so ``genreward view --run`` replays them and ``genreward score`` scores them), and read any
run folder back as numpy arrays."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import gymnasium as gym
import numpy as np

from . import _native
from .env import GenRewardEnv, parse_size

PathLike = Union[str, os.PathLike]


class RecordRun(gym.Wrapper):
    """Records every episode of a :class:`genreward.GenRewardEnv` (under any wrappers) into
    the run folder ``out``: ``steps.jsonl`` (one line per step, the observation the policy saw,
    its action, the rewards and Meta-World's terms), ``obs_NNN.npy`` (episode NNN's frames from
    ``camera`` at ``size``, frame t the state before step t) and ``manifest.json``, kept whole
    after every episode, so a crash loses at most the episode in progress. ``video`` adds an
    MP4 or GIF of the whole run (``overlay`` prints step, reward and success on it).

    The run is complete after :meth:`close`; then ``genreward view --run out`` replays it.
    ``agent`` says in the manifest who acted (a string, or a dict as JSON).
    """

    def __init__(
        self,
        env: gym.Env,
        out: PathLike,
        camera: Optional[str] = None,
        size: Any = None,
        video: Optional[PathLike] = None,
        video_size: Any = 256,
        overlay: bool = True,
        agent: Any = None,
    ):
        super().__init__(env)
        base = env.unwrapped
        if not isinstance(base, GenRewardEnv):
            raise TypeError(f"RecordRun records a genreward environment, not {type(base).__name__}")
        self._base = base
        w, h = parse_size(size if size is not None else base.size)
        vw, vh = parse_size(video_size, "video_size")
        limit = base.max_episode_steps
        spec_limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
        if spec_limit is not None:
            limit = min(limit, int(spec_limit))
        if agent is not None and not isinstance(agent, str):
            agent = json.dumps(agent)
        self.out = Path(out)
        self._run = _native.RunWriter(
            str(self.out),
            base.task,
            camera or base.camera,
            w,
            h,
            limit,
            base.sparse_every,
            None if video is None else str(video),
            None,
            vw,
            vh,
            overlay,
            agent,
            [sys.executable, *sys.argv],
        )
        self._open = False

    @property
    def episodes(self) -> int:
        """Episodes recorded so far."""
        return self._run.episodes

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._run.begin_episode(self._base.seed_used)
        self._open = True
        return obs, info

    def step(self, action):
        if not self._open:
            raise ValueError("no episode begun: call reset() first")
        self._run.before_step(self._base.world)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._run.after_step(self._base.world, bool(terminated or truncated))
        if terminated or truncated:
            self._run.end_episode()
            self._open = False
        return obs, reward, terminated, truncated, info

    def close(self):
        """Completes the run folder (and the video), then closes the environment."""
        if self._run is not None:
            self._run.finish()
        super().close()

    def __del__(self):
        try:
            self._run.finish()
        except Exception:
            pass


@dataclass
class Episode:
    """One recorded episode: its steps' columns and, when the run saved them, its frames."""

    index: int
    seed: int
    steps: Dict[str, Any]
    frames: Optional[np.ndarray] = None

    @property
    def success(self) -> bool:
        return bool(self.steps["success"].any())

    def __len__(self) -> int:
        return len(self.steps["step"])


@dataclass
class Run:
    """A run folder read back: ``manifest`` (``manifest.json`` as a dict), ``steps`` (every
    step's columns: ``obs [N, 39]``, ``action [N, 4]``, ``reward``, ``dense_reward``,
    ``success``, Meta-World's terms, ``terms`` a dict of GenReward's named terms with NaN where
    a step has none)."""

    path: Path
    manifest: Dict[str, Any]
    steps: Dict[str, Any]
    episodes: List[Episode] = field(default_factory=list)

    def episode(self, i: int) -> Episode:
        return self.episodes[i]


def _select(steps: Dict[str, Any], rows: np.ndarray) -> Dict[str, Any]:
    out = {k: v[rows] for k, v in steps.items() if k != "terms"}
    out["terms"] = {k: v[rows] for k, v in steps["terms"].items()}
    return out


def load_run(path: PathLike, frames: bool = True) -> Run:
    """Reads a run folder (written by ``genreward rollout --out`` or :class:`RecordRun`).
    ``frames`` loads each episode's ``obs_NNN.npy`` (memory-mapped, uint8 ``[T, H, W, 3]``)."""
    p = Path(path)
    manifest_path = p / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"'{p}' is not a run folder: it has no manifest.json") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"'{manifest_path}' is not valid JSON: {e}") from None
    steps = _native.read_steps(str(p / "steps.jsonl"))
    run = Run(path=p, manifest=manifest, steps=steps)
    for ep in manifest.get("episodes", []):
        i = int(ep["episode"])
        rows = np.flatnonzero(steps["episode"] == i)
        video = None
        obs_file = p / f"obs_{i:03d}.npy"
        if frames and manifest.get("observations") and obs_file.exists():
            video = np.load(obs_file, mmap_mode="r")
        run.episodes.append(Episode(index=i, seed=int(ep["seed"]), steps=_select(steps, rows), frames=video))
    return run
