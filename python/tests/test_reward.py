"""GenReward's reward from Python: the same terms the CLI pays, toward a file, each episode's
expert video or each episode's generated goal."""

import json
import subprocess

import numpy as np
import pytest

import genreward
from test_runs import cli

STEPS = 128
EVERY = 64


def episode(env, policy, seed):
    obs, info = env.reset(seed=seed)
    rows = []
    for _ in range(STEPS):
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        rows.append((reward, info["terms"]))
        if truncated:
            break
    return rows


def test_the_mix_and_the_payment_schedule_of_the_terms():
    env = genreward.GenRewardEnv(
        "pick-place", max_episode_steps=STEPS, reward="genreward", goal="expert", every=EVERY
    )
    alpha, beta = env.rewarder.weights
    assert alpha == 10.0 and beta == 0.005
    rows = episode(env, genreward.expert("pick-place"), 5)
    assert len(rows) == STEPS
    for t, (reward, terms) in enumerate(rows):
        assert set(terms) == {"r_env", "r_video", "r_fb"}
        assert reward == pytest.approx(terms["r_env"] + alpha * terms["r_video"] + beta * terms["r_fb"])
        if (t + 1) % EVERY:
            assert terms["r_video"] == 0.0
    paid = [terms["r_video"] for t, (_, terms) in enumerate(rows) if (t + 1) % EVERY == 0]
    # The expert toward its own expert video: its last frames match the goal's closely.
    assert paid[-1] > 0.9


@pytest.mark.skipif(cli() is None, reason="needs the genreward CLI (cargo build)")
def test_python_pays_exactly_what_genreward_rollout_pays(tmp_path):
    goal = tmp_path / "goal.npy"
    subprocess.run(
        [str(cli()), "goal", "--source", "expert", "--task", "pick-place", "--seed", "9",
         "--length", str(STEPS), "--out", str(goal)],
        check=True, capture_output=True,
    )
    subprocess.run(
        [str(cli()), "rollout", "--task", "pick-place", "--policy", "expert", "--episodes", "1",
         "--seed", "9", "--max-steps", str(STEPS), "--camera", "corner2", "--goal", str(goal),
         "--every", str(EVERY), "--out", str(tmp_path / "cli")],
        check=True, capture_output=True,
    )
    lines = [json.loads(l) for l in (tmp_path / "cli" / "steps.jsonl").read_text().splitlines()]
    env = genreward.GenRewardEnv(
        "pick-place", max_episode_steps=STEPS, reward="genreward", goal=str(goal), every=EVERY
    )
    rows = episode(env, genreward.expert("pick-place"), 9)
    assert len(rows) == len(lines) == STEPS
    for (reward, terms), line in zip(rows, lines):
        for k in ("r_env", "r_video", "r_fb"):
            assert terms[k] == pytest.approx(line["terms"][k], rel=1e-6, abs=1e-9), k
        assert reward == pytest.approx(line["reward"], rel=1e-9)


def test_generated_goals_pay_the_expert_above_a_random_policy():
    env = genreward.GenRewardEnv(
        "reach", max_episode_steps=STEPS, reward="genreward", goal="generated", every=EVERY, fb=False
    )
    _, info = env.reset(seed=30001)
    assert info["goal"] == "generated"
    rng = np.random.default_rng(0)
    expert = [t["r_video"] for _, t in episode(env, genreward.expert("reach"), 30001)]
    random = [t["r_video"] for _, t in episode(env, lambda o: rng.uniform(-1, 1, 4), 30001)]
    assert expert[-1] > random[-1]


def test_bad_reward_arguments_raise_one_clear_line(tmp_path):
    for kwargs, message in [
        ({"reward": "genreward"}, "needs goal="),
        ({"reward": "curiosity"}, "unknown reward 'curiosity'"),
        ({"goal": "expert"}, "goal= is for reward='genreward'"),
        ({"reward": "genreward", "goal": str(tmp_path / "missing.mp4")}, "missing.mp4"),
        ({"reward": "genreward", "goal": "expert", "device": "tpu"}, "tpu"),
        ({"reward": "genreward", "goal": "expert", "alpha": float("nan")}, "alpha"),
    ]:
        with pytest.raises(ValueError, match=message) as e:
            genreward.GenRewardEnv("reach", **kwargs)
        assert "\n" not in str(e.value)
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="corrupt.mp4"):
        genreward.GenRewardEnv("reach", reward="genreward", goal=str(bad))
