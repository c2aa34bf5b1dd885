"""Meta-World's scripted experts as Python policies (for demonstrations and baselines)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _native


class ExpertPolicy:
    """The scripted expert of one task: ``policy(obs) -> action``.

    ``obs`` is the 39-d state, or a ``"state+pixels"`` dict (its ``"state"`` is used), or a
    batch ``[N, 39]`` (one action per row). Actions are Meta-World's policy outputs: xyz not
    clipped (the environment clips them), float64.
    """

    def __init__(self, task: str):
        _native.task_description(task)
        self.task = _native.Env(task, 0, 1).task

    def __call__(self, obs: Any) -> np.ndarray:
        if isinstance(obs, dict):
            if "state" not in obs:
                raise ValueError("the expert reads the state: use obs_mode 'state' or 'state+pixels'")
            obs = obs["state"]
        o = np.asarray(obs, dtype=np.float64)
        if o.ndim == 2:
            return np.stack([_native.expert_action(self.task, np.ascontiguousarray(r)) for r in o])
        if o.shape != (39,):
            raise ValueError(f"the expert reads the 39-d state, got shape {o.shape}")
        return _native.expert_action(self.task, np.ascontiguousarray(o))

    # Meta-World's policies are called this way.
    def get_action(self, obs: Any) -> np.ndarray:
        return self(obs)

    def __repr__(self) -> str:
        return f"ExpertPolicy({self.task!r})"


def expert(task: str) -> ExpertPolicy:
    """The scripted expert of ``task``."""
    return ExpertPolicy(task)
