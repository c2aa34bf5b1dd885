"""Soft actor-critic on a genreward task's state, in one file in CleanRL's style (the loop in
plain sight: a replay buffer, twin Q networks with targets, a tanh-Gaussian actor, the entropy
temperature tuned toward -|A|), trained on the env reward or on GenReward's.

    python3 -m pip install torch
    python3 python/examples/sac_reach.py --steps 30000
    python3 python/examples/sac_reach.py --reward genreward --goal expert --steps 30000

Every ``--eval-every`` steps it runs the deterministic policy on unseen seeds and prints the
success rate; ``--out DIR`` records those evaluation episodes as a run folder the app opens
(``genreward view --run DIR``).
"""

import argparse
import time

import gymnasium as gym
import numpy as np

import genreward


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="reach", choices=genreward.TASKS)
    p.add_argument("--steps", type=int, default=30_000, help="environment steps")
    p.add_argument("--episode-steps", type=int, default=256, help="the paper's episode length")
    p.add_argument("--reward", default="env", choices=["env", "genreward"])
    p.add_argument("--goal", default="expert", help="with --reward genreward: a file, expert or generated")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", type=int, default=2_000, help="random steps before learning")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--tau", type=float, default=0.005)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--reward-scale", type=float, default=0.1, help="Meta-World rewards reach 10 a step")
    p.add_argument("--eval-every", type=int, default=5_000)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--out", default=None, help="record the last evaluation as a run folder")
    p.add_argument("--threads", type=int, default=1, help="torch threads (more fight the env for a small CPU)")
    return p.parse_args()


def main():
    a = parse()
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    kwargs = dict(max_episode_steps=a.episode_steps)
    if a.reward == "genreward":
        kwargs.update(reward="genreward", goal=a.goal)
    env = gym.make(genreward.env_id(a.task), **kwargs)
    obs_dim = env.observation_space.shape[0]
    act_dim = env.action_space.shape[0]

    def mlp(i, o):
        return nn.Sequential(nn.Linear(i, a.hidden), nn.ReLU(), nn.Linear(a.hidden, a.hidden), nn.ReLU(), nn.Linear(a.hidden, o))

    class Actor(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = mlp(obs_dim, 2 * act_dim)

        def forward(self, x):
            mean, log_std = self.net(x).chunk(2, -1)
            return mean, torch.tanh(log_std).add(1).mul(3.5).sub(5)  # log std in [-5, 2]

        def sample(self, x):
            mean, log_std = self(x)
            normal = torch.distributions.Normal(mean, log_std.exp())
            u = normal.rsample()
            action = torch.tanh(u)
            logp = normal.log_prob(u) - torch.log(1 - action.pow(2) + 1e-6)
            return action, logp.sum(-1), torch.tanh(mean)

    actor = Actor()
    q1, q2 = mlp(obs_dim + act_dim, 1), mlp(obs_dim + act_dim, 1)
    q1_t, q2_t = mlp(obs_dim + act_dim, 1), mlp(obs_dim + act_dim, 1)
    q1_t.load_state_dict(q1.state_dict())
    q2_t.load_state_dict(q2.state_dict())
    q_opt = torch.optim.Adam(list(q1.parameters()) + list(q2.parameters()), lr=a.lr)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=a.lr)
    log_alpha = torch.zeros(1, requires_grad=True)
    a_opt = torch.optim.Adam([log_alpha], lr=a.lr)
    target_entropy = -float(act_dim)

    n = a.steps
    buf_o = np.zeros((n, obs_dim), np.float32)
    buf_a = np.zeros((n, act_dim), np.float32)
    buf_r = np.zeros(n, np.float32)
    buf_o2 = np.zeros((n, obs_dim), np.float32)
    # Meta-World never terminates; a truncated episode bootstraps from its last state.

    def evaluate(record=None):
        eval_env = env if record is None else genreward.wrappers.RecordRun(env.unwrapped, record)
        wins = []
        for k in range(a.eval_episodes):
            o, _ = eval_env.reset(seed=700_000 + k)
            won = False
            for _ in range(a.episode_steps):
                with torch.no_grad():
                    act = actor.sample(torch.as_tensor(o, dtype=torch.float32))[2].numpy()
                o, _, _, trunc, info = eval_env.step(act)
                won |= bool(info["success"])
                if trunc:
                    break
            wins.append(won)
        if record is not None:
            eval_env.close()
        return float(np.mean(wins))

    obs, _ = env.reset(seed=a.seed)
    ep_return, ep_success, t0 = 0.0, False, time.perf_counter()
    for step in range(n):
        if step < a.start:
            action = rng.uniform(-1, 1, act_dim).astype(np.float32)
        else:
            with torch.no_grad():
                action = actor.sample(torch.as_tensor(obs, dtype=torch.float32))[0].numpy()
        next_obs, reward, terminated, truncated, info = env.step(action)
        buf_o[step], buf_a[step], buf_r[step], buf_o2[step] = obs, action, reward * a.reward_scale, next_obs
        ep_return += reward
        ep_success |= bool(info["success"])
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            ep_return, ep_success = 0.0, False

        if step >= a.start:
            idx = rng.integers(0, step + 1, a.batch)
            o = torch.as_tensor(buf_o[idx])
            act = torch.as_tensor(buf_a[idx])
            r = torch.as_tensor(buf_r[idx])
            o2 = torch.as_tensor(buf_o2[idx])
            alpha = log_alpha.exp().detach()
            with torch.no_grad():
                a2, logp2, _ = actor.sample(o2)
                x2 = torch.cat([o2, a2], -1)
                q_next = torch.min(q1_t(x2), q2_t(x2)).squeeze(-1) - alpha * logp2
                target = r + a.gamma * q_next
            x = torch.cat([o, act], -1)
            q_loss = F.mse_loss(q1(x).squeeze(-1), target) + F.mse_loss(q2(x).squeeze(-1), target)
            q_opt.zero_grad()
            q_loss.backward()
            q_opt.step()

            pi, logp, _ = actor.sample(o)
            xp = torch.cat([o, pi], -1)
            pi_loss = (alpha * logp - torch.min(q1(xp), q2(xp)).squeeze(-1)).mean()
            pi_opt.zero_grad()
            pi_loss.backward()
            pi_opt.step()
            a_loss = -(log_alpha * (logp.detach() + target_entropy)).mean()
            a_opt.zero_grad()
            a_loss.backward()
            a_opt.step()
            with torch.no_grad():
                for net, tgt in ((q1, q1_t), (q2, q2_t)):
                    for p_, t_ in zip(net.parameters(), tgt.parameters()):
                        t_.mul_(1 - a.tau).add_(a.tau * p_)

        if (step + 1) % a.eval_every == 0 or step + 1 == n:
            last = step + 1 == n
            rate = evaluate(a.out if last and a.out else None)
            took = time.perf_counter() - t0
            print(
                f"step {step + 1}: success {rate:.0%} on {a.eval_episodes} unseen seeds, "
                f"alpha {log_alpha.exp().item():.3f}, {(step + 1) / took:.0f} steps/s",
                flush=True,
            )
            # The evaluation used the same env: start a fresh training episode.
            obs, _ = env.reset()
            ep_return, ep_success = 0.0, False
    if a.out:
        print(f"recorded the last evaluation in {a.out}: genreward view --run {a.out}")


if __name__ == "__main__":
    main()
