"""Run folders from Python: RecordRun writes what `genreward rollout --out` writes, and
load_run reads any run folder back."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import genreward

ROOT = Path(__file__).resolve().parents[2]


def cli():
    """The CLI binary the Rust suite built (the tests run after it), else None."""
    for profile in ("debug", "release"):
        p = ROOT / "target" / profile / "genreward"
        if p.exists():
            return p
    return shutil.which("genreward")


def record_expert(out, task="pick-place", seed=3, episodes=2, steps=40, **kw):
    env = genreward.wrappers.RecordRun(
        gym.make(genreward.env_id(task), max_episode_steps=steps), out, size=32, **kw
    )
    policy = genreward.expert(task)
    seen = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            action = policy(obs)
            seen.append((obs, action))
            obs, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    return env, seen


def test_a_recorded_python_run_reads_back_as_the_loop_saw_it(tmp_path):
    env, seen = record_expert(tmp_path / "run")
    env.close()
    run = genreward.load_run(tmp_path / "run")
    m = run.manifest
    assert m["task"] == "pick-place" and m["metaworld_name"] == "pick-place-v3"
    assert m["config"]["policy"] == "external" and m["config"]["episodes"] == 2
    assert m["config"]["max_steps"] == 40 and m["interrupted"] is False
    assert m["observations"] == {"camera": "corner2", "width": 32, "height": 32}
    assert sorted(m["files"]) == ["obs_000.npy", "obs_001.npy", "steps.jsonl"]
    assert [e["seed"] for e in m["episodes"]] == [3, 4]
    assert np.array_equal(run.steps["obs"], np.stack([o for o, _ in seen]))
    assert np.array_equal(run.steps["action"], np.stack([a for _, a in seen]))
    assert run.steps["truncated"].sum() == 2
    e0 = run.episode(0)
    assert len(e0) == 40 and e0.frames.shape == (40, 32, 32, 3)
    # Frame 0 is the scene the policy saw before its first action.
    w = genreward._native.Env("pick-place", 3)
    w.reset(3)
    assert np.array_equal(e0.frames[0], w.render("corner2", 32, 32))
    assert m["summary"]["mean_return"] == pytest.approx(
        np.mean([run.episode(i).steps["reward"].sum() for i in range(2)])
    )


@pytest.mark.skipif(cli() is None, reason="needs the genreward CLI (cargo build)")
def test_recordrun_writes_exactly_the_folder_the_cli_writes(tmp_path):
    env, _ = record_expert(tmp_path / "py", seed=7)
    env.close()
    subprocess.run(
        [str(cli()), "rollout", "--task", "pick-place", "--policy", "expert", "--episodes", "2",
         "--seed", "7", "--max-steps", "40", "--camera", "corner2", "--size", "32x32",
         "--out", str(tmp_path / "cli")],
        check=True, capture_output=True,
    )
    py_lines = (tmp_path / "py" / "steps.jsonl").read_text().splitlines()
    cli_lines = (tmp_path / "cli" / "steps.jsonl").read_text().splitlines()
    assert len(py_lines) == len(cli_lines) == 80
    for a, b in zip(py_lines, cli_lines):
        assert json.loads(a) == json.loads(b)
    for name in ("obs_000.npy", "obs_001.npy"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    py_m = json.loads((tmp_path / "py" / "manifest.json").read_text())
    cli_m = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert py_m["episodes"] == cli_m["episodes"]
    assert py_m["observations"] == cli_m["observations"]
    # And the CLI scores the Python run as its own (r_video toward a generated goal).
    out = subprocess.run(
        [str(cli()), "score", "--run", str(tmp_path / "py"), "--goal", "generated",
         "--no-fb", "--out", str(tmp_path / "score.jsonl")],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert len((tmp_path / "score.jsonl").read_text().splitlines()) > 0


def test_a_run_cut_short_keeps_its_finished_episodes(tmp_path):
    env, _ = record_expert(tmp_path / "run", episodes=1, steps=10)
    env.reset(seed=50)
    env.step(np.zeros(4))
    # No close(): the process could die here. The manifest is whole, with episode 0.
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["interrupted"] is True and len(m["episodes"]) == 1
    run = genreward.load_run(tmp_path / "run")
    assert len(run.episode(0)) == 10
    env.close()
    assert len(genreward.load_run(tmp_path / "run").episodes) == 2


def test_recording_refuses_what_it_cannot_record(tmp_path):
    with pytest.raises(TypeError, match="records a genreward environment"):
        genreward.wrappers.RecordRun(gym.make("CartPole-v1"), tmp_path / "x")
    env = genreward.wrappers.RecordRun(genreward.GenRewardEnv("reach"), tmp_path / "y")
    with pytest.raises(ValueError, match="call reset\\(\\) first"):
        env.step(np.zeros(4))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError) as e:
        genreward.wrappers.RecordRun(genreward.GenRewardEnv("reach"), blocker / "run")
    assert "\n" not in str(e.value)
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        genreward.load_run(tmp_path / "nothing")
