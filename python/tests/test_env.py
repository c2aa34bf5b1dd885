"""The Gymnasium environments against Meta-World's fixtures, Gymnasium's checker and the Rust
library underneath."""

import json
import math
import os
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import genreward

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "metaworld"
INFO_KEYS = {
    "success",
    "near_object",
    "grasp_success",
    "grasp_reward",
    "in_place_reward",
    "obj_to_target",
    "unscaled_reward",
}


def first_lines(task):
    """The reset line (step 0) of each fixture episode of ``task``."""
    with open(FIXTURES / f"{task}-v3.jsonl") as f:
        return [l for l in map(json.loads, f) if l["step"] == 0]


def test_every_task_is_registered_under_its_meta_world_name():
    assert genreward.TASKS == (
        "reach",
        "push",
        "pick-place",
        "pick-out-of-hole",
        "bin-picking",
        "shelf-place",
        "disassemble",
    )
    for task in genreward.TASKS:
        env = gym.make(f"genreward/{task}-v3")
        assert env.spec.max_episode_steps == 500
        assert env.unwrapped.task == task
        assert env.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        assert env.observation_space.shape == (39,)
        assert env.observation_space.dtype == np.float64


@pytest.mark.parametrize("task", genreward.TASKS)
def test_gymnasium_env_checker_passes_in_every_obs_mode(task):
    for mode in ("state", "pixels", "state+pixels"):
        env = gym.make(genreward.env_id(task), obs_mode=mode, size=32)
        check_env(env.unwrapped, skip_render_check=True)
        obs, _ = env.reset(seed=1)
        assert env.observation_space.contains(obs)


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="needs ../shared/fixtures beside the checkout")
@pytest.mark.parametrize("task", genreward.TASKS)
def test_reset_places_object_and_goal_as_meta_world_does(task):
    env = genreward.GenRewardEnv(task)
    seen = set()
    for line in first_lines(task):
        if line["seed"] in seen:
            continue
        seen.add(line["seed"])
        obs, info = env.reset(seed=line["seed"])
        # Placement: exactly Meta-World's (the same float64 bits).
        assert list(info["obj_init_pos"]) == line["obj_init_pos"]
        assert list(info["target_pos"]) == line["target_pos"]
        assert list(obs[36:39]) == line["obs"][36:39]
        # The object as observed at reset: where it was put, up to the settle of the physics.
        np.testing.assert_allclose(obs[4:7], line["obs"][4:7], atol=2e-3)
    assert len(seen) == 5


@pytest.mark.parametrize("task", genreward.TASKS)
def test_the_scripted_expert_solves_every_task_through_python(task):
    env = gym.make(genreward.env_id(task), max_episode_steps=256)
    policy = genreward.expert(task)
    for seed in (0, 1, 2):
        obs, _ = env.reset(seed=seed)
        success = False
        for _ in range(256):
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            assert set(info) == INFO_KEYS
            assert reward == info["unscaled_reward"]
            assert not terminated
            if info["success"] == 1.0:
                success = True
                break
            if truncated:
                break
        assert success, f"{task} seed {seed}: the expert did not succeed in 256 steps"


def test_python_steps_are_the_rust_worlds_steps_and_reproducible():
    def run(seed):
        env = genreward.GenRewardEnv("push")
        obs, _ = env.reset(seed=seed)
        policy = genreward.expert("push")
        out = [obs]
        for _ in range(40):
            obs, *_ = env.step(policy(obs))
            out.append(obs)
        return np.stack(out)

    a, b = run(7), run(7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, run(8))
    # Python's first observation is the native world's own.
    w = genreward._native.Env("push", 7)
    o = w.reset(7)
    assert np.array_equal(o, a[0])


def test_reset_without_a_seed_draws_the_next_placement_from_the_envs_generator():
    env = genreward.GenRewardEnv("reach")
    _, i0 = env.reset(seed=5)
    _, i1 = env.reset()
    _, i2 = env.reset()
    assert i0["seed"] == 5 and len({i0["seed"], i1["seed"], i2["seed"]}) == 3
    env.reset(seed=5)
    assert env.reset()[1]["seed"] == i1["seed"]


def test_an_episode_truncates_at_its_limit_and_the_next_step_is_refused():
    env = genreward.GenRewardEnv("reach", max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step(np.zeros(4))[3] for _ in range(3)]
    assert flags == [False, False, True]
    with pytest.raises(ValueError, match="episode is over"):
        env.step(np.zeros(4))
    # Through gym.make, the TimeLimit of max_episode_steps ends it first.
    env = gym.make("genreward/reach-v3", max_episode_steps=4)
    env.reset(seed=0)
    assert [env.step(np.zeros(4))[3] for _ in range(4)] == [False] * 3 + [True]


def test_sparse_every_pays_the_env_reward_every_kth_step_only():
    dense = genreward.GenRewardEnv("reach")
    sparse = genreward.GenRewardEnv("reach", sparse_every=4)
    dense.reset(seed=2)
    sparse.reset(seed=2)
    a = np.array([0.3, 0.5, -0.2, 0.0])
    for t in range(1, 13):
        rd = dense.step(a)[1]
        rs = sparse.step(a)[1]
        assert rs == (rd if t % 4 == 0 else 0.0)


def test_pixels_are_the_camera_the_user_asked_for():
    env = genreward.GenRewardEnv("pick-place", obs_mode="state+pixels", camera="topview", size=(48, 32))
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (32, 48, 3) and obs["pixels"].dtype == np.uint8
    assert np.array_equal(obs["pixels"], env.world.render("topview", 48, 32))
    assert not np.array_equal(obs["pixels"], env.world.render("corner2", 48, 32))
    assert obs["pixels"].std() > 5  # a scene, not a blank frame
    env = gym.make("genreward/pick-place-v3", render_mode="rgb_array", render_size=96)
    env.reset(seed=0)
    assert env.render().shape == (96, 96, 3)


@pytest.fixture
def display(monkeypatch):
    """An X display: the session's, or a private Xvfb (as the app's tests use) when there is none."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    import shutil
    import subprocess

    if shutil.which("Xvfb") is None:
        pytest.fail("no DISPLAY and no Xvfb (scripts/setup-system.sh installs it)")
    r, w = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    monkeypatch.setenv("DISPLAY", f":{number}")
    yield f":{number}"
    server.terminate()
    server.wait()


def test_human_mode_shows_every_step_in_a_window_at_real_time(display):
    from genreward.viewer import Viewer

    env = gym.make("genreward/push-v3", render_mode="human", render_size=(40, 30), max_episode_steps=8)
    # From before the reset's frame: the 8 steps' frames each wait a period after the one before.
    t0 = time.perf_counter()
    env.reset(seed=3)
    viewer = env.unwrapped._viewer
    assert isinstance(viewer, Viewer) and viewer.backend in ("pygame", "tk")
    for _ in range(8):
        assert env.step(env.action_space.sample())[0].shape == (39,)
    elapsed = time.perf_counter() - t0
    # What the window shows is the frame of the last step, pixel for pixel.
    want = env.unwrapped.world.render("corner2", 40, 30)
    assert viewer.frame.shape == (30, 40, 3) and np.array_equal(viewer.frame, want)
    for x, y in [(0, 0), (20, 15), (39, 29), (7, 22)]:
        assert viewer.pixel(x, y) == tuple(int(v) for v in want[y, x]), (x, y)
    # Eight frames after the reset's at 80 a second cannot take less than 0.1 s.
    assert elapsed >= 8 / 80 - 1e-3, elapsed
    assert env.render() is None
    env.close()
    assert env.unwrapped._viewer is None


def test_human_mode_without_a_display_says_so_in_one_line(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    from genreward.viewer import ViewerError

    env = genreward.GenRewardEnv("reach", render_mode="human")
    env._viewer = genreward.viewer.Viewer("test", backend="tk")
    with pytest.raises(ViewerError, match="cannot open a window") as e:
        env.reset(seed=0)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: genreward.GenRewardEnv("stack-blocks"), "unknown task 'stack-blocks'"),
        (lambda: genreward.GenRewardEnv("reach", camera="ceiling"), "unknown camera 'ceiling'"),
        (lambda: genreward.GenRewardEnv("reach", size=0), "out of range"),
        (lambda: genreward.GenRewardEnv("reach", obs_mode="depth"), "unknown obs_mode 'depth'"),
        (lambda: genreward.GenRewardEnv("reach", render_mode="human3d"), "unknown render_mode"),
        (lambda: genreward.make_vec("reach", 2, autoreset_mode="never"), "unknown autoreset_mode"),
    ],
)
def test_bad_arguments_raise_one_clear_line(make, message):
    with pytest.raises(ValueError, match=message) as e:
        make()
    assert "\n" not in str(e.value)


def test_bad_actions_and_seeds_raise_one_clear_line():
    env = genreward.GenRewardEnv("reach")
    env.reset(seed=0)
    for action, message in [
        ([0.0, 0.0, math.nan, 0.0], "not finite"),
        ([0.0, 0.0, 0.0], "got shape \\(3,\\)"),
        (np.zeros((2, 4)), "got shape \\(2, 4\\)"),
        (["a", 0, 0, 0], "could not convert"),
    ]:
        with pytest.raises(ValueError, match=message) as e:
            env.step(action)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="out of range"):
        env.reset(seed=2**32)
    with pytest.raises(gym.error.Error, match="greater or equal to zero"):
        env.reset(seed=-1)
    # The env is still usable after every refusal.
    assert env.step(np.zeros(4))[0].shape == (39,)


def test_the_native_layer_refuses_bad_input_without_crashing():
    with pytest.raises(ValueError, match="unknown task"):
        genreward._native.Env("nope")
    with pytest.raises(ValueError, match="39 values"):
        genreward._native.expert_action("reach", np.zeros(5))
    with pytest.raises(ValueError, match="unknown camera"):
        genreward._native.Env("reach").render("nope", 8, 8)
    with pytest.raises(ValueError):
        genreward._native.Env("reach").render("corner2", 0, 8)
