"""The vector environment: N worlds stepped in Rust, against N single environments."""

import numpy as np
import pytest

import genreward


def singles(task, seeds, **kw):
    envs = [genreward.GenRewardEnv(task, **kw) for _ in seeds]
    obs = [e.reset(seed=s)[0] for e, s in zip(envs, seeds)]
    return envs, obs


def test_a_vector_env_steps_exactly_as_its_single_envs():
    vec = genreward.make_vec("pick-place", num_envs=4)
    obs, info = vec.reset(seed=10)
    assert list(info["seed"]) == [10, 11, 12, 13]
    envs, single = singles("pick-place", [10, 11, 12, 13])
    assert np.array_equal(obs, np.stack(single))
    policy = genreward.expert("pick-place")
    for _ in range(30):
        actions = policy(obs)
        obs, rewards, terminated, truncated, info = vec.step(actions)
        steps = [e.step(a) for e, a in zip(envs, actions)]
        assert np.array_equal(obs, np.stack([s[0] for s in steps]))
        assert np.array_equal(rewards, [s[1] for s in steps])
        assert np.array_equal(info["success"], [s[4]["success"] for s in steps])
        assert info["_success"].all()
        assert not terminated.any() and not truncated.any()
    assert vec.observation_space.shape == (4, 39)
    assert vec.action_space.shape == (4, 4)


def test_next_step_autoreset_restarts_an_ended_episode_on_the_following_call():
    vec = genreward.make_vec("reach", num_envs=2, max_episode_steps=3)
    vec.reset(seed=0)
    zeros = np.zeros((2, 4))
    flags = [vec.step(zeros)[3].tolist() for _ in range(3)]
    assert flags == [[False, False], [False, False], [True, True]]
    first = vec.seeds
    obs, rewards, _, truncated, _ = vec.step(zeros)
    assert not truncated.any() and (rewards == 0).all()
    # A new placement: the next seed of each env's sequence, its reset observation.
    assert vec.seeds != first
    for row, seed in zip(obs, vec.seeds):
        assert np.array_equal(row, genreward._native.Env("reach", seed).reset(seed))


def test_same_step_autoreset_returns_the_last_observation_in_info():
    vec = genreward.make_vec("reach", num_envs=2, max_episode_steps=2, autoreset_mode="same_step")
    vec.reset(seed=0)
    a = np.tile([0.5, 0.0, 0.0, 0.0], (2, 1))
    obs1 = vec.step(a)[0]
    obs, _, _, truncated, info = vec.step(a)
    assert truncated.all() and info["_final_obs"].all()
    for i in range(2):
        last = info["final_obs"][i]
        assert last[0] > obs1[i][0]  # the hand moved on in +x, then the reset put it back
        assert np.array_equal(obs[i], genreward._native.Env("reach", vec.seeds[i]).reset(vec.seeds[i]))


def test_vector_pixels_are_one_batch_of_the_single_envs_frames():
    vec = genreward.make_vec("push", num_envs=3, obs_mode="pixels", size=32)
    obs, _ = vec.reset(seed=4)
    assert obs.shape == (3, 32, 32, 3) and obs.dtype == np.uint8
    envs, single = singles("push", [4, 5, 6], obs_mode="pixels", size=32)
    assert np.array_equal(obs, np.stack(single))
    assert vec.observation_space.contains(obs)


def test_sparse_rewards_in_a_vector_env_follow_each_episodes_own_step_count():
    vec = genreward.make_vec("reach", num_envs=2, sparse_every=2)
    dense = genreward.make_vec("reach", num_envs=2)
    vec.reset(seed=0)
    dense.reset(seed=0)
    a = np.full((2, 4), 0.2)
    for t in range(1, 7):
        r = vec.step(a)[1]
        d = dense.step(a)[1]
        assert np.array_equal(r, d if t % 2 == 0 else np.zeros(2))


def test_bad_vector_input_raises_one_clear_line():
    vec = genreward.make_vec("reach", num_envs=2)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must be \[2, 4\]"):
        vec.step(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="not finite"):
        vec.step(np.array([[0, 0, 0, 0], [np.inf, 0, 0, 0]]))
    with pytest.raises(ValueError, match="3 seeds for 2"):
        vec.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="at least 1"):
        genreward.make_vec("reach", num_envs=0)
