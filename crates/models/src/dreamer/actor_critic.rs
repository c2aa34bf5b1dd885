//! DreamerV3's actor and critic, trained in imagination.
//!
//! * Actor: 3 dense layers, then a normal distribution per action dimension with mean
//!   `tanh(m)` and standard deviation `(1 - 0.1) sigmoid(s + 2) + 0.1` (between 0.1 and 1);
//!   samples are clipped to [-1, 1] by the environment, not squashed. Output layer scaled by
//!   0.01 at initialisation.
//! * Critic: 3 dense layers and 255 two-hot logits (zero-initialised), and a slow copy updated
//!   as `slow = 0.02 critic + 0.98 slow` after every step.
//! * Imagination: from every replayed posterior state (detached), 15 steps of the prior with
//!   the actor's actions; rewards and continuations from the world model's heads.
//! * Losses over the horizon, weighted by the cumulative continuation: the policy gradient
//!   (REINFORCE) `-(log pi(a_t) sg((R_t - v_t) / S) + 3e-4 H[pi])` with `S` the percentile
//!   scale of the returns ([`super::Moments`]); the critic's two-hot cross-entropy to `sg(R_t)`
//!   plus the same to the slow critic's prediction.

use super::dist::TwoHot;
use super::returns::lambda_returns;
use super::rssm::{Dense, State};
use super::world::WorldModel;
use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

#[derive(Config, Debug, PartialEq)]
pub struct ActorCriticConfig {
    pub feat_dim: usize,
    pub action_dim: usize,
    pub units: usize,
    #[config(default = 3)]
    pub layers: usize,
    #[config(default = 0.1)]
    pub min_std: f64,
    #[config(default = 1.0)]
    pub max_std: f64,
    #[config(default = 15)]
    pub horizon: usize,
    #[config(default = 0.95)]
    pub lambda: f64,
    #[config(default = 3e-4)]
    pub entropy: f64,
    #[config(default = 0.02)]
    pub slow_rate: f64,
    #[config(default = 1.0)]
    pub slow_reg: f64,
}

#[derive(Module, Debug)]
pub struct Actor<B: Backend> {
    layers: Vec<Dense<B>>,
    out: Linear<B>,
    action_dim: usize,
    min_std: f64,
    max_std: f64,
}

#[derive(Module, Debug)]
pub struct Critic<B: Backend> {
    layers: Vec<Dense<B>>,
    out: Linear<B>,
}

fn mlp<B: Backend>(input: usize, units: usize, layers: usize, device: &B::Device) -> Vec<Dense<B>> {
    (0..layers)
        .map(|i| Dense::new(if i == 0 { input } else { units }, units, device))
        .collect()
}

impl ActorCriticConfig {
    pub fn actor<B: Backend>(&self, device: &B::Device) -> Actor<B> {
        let out = LinearConfig::new(self.units, 2 * self.action_dim).init(device);
        // Output scale 0.01: a near-zero mean and the default std at first. The scaled and the
        // zeroed tensors are new leaves that ask for gradients: a parameter holding `w * 0.01`
        // itself would be a node of the graph that made it, and the optimiser would never
        // see a gradient for it.
        let out = Linear {
            weight: out.weight.map(|w| (w * 0.01).detach().require_grad()),
            bias: out
                .bias
                .map(|b| b.map(|b| b.zeros_like().detach().require_grad())),
        };
        Actor {
            layers: mlp(self.feat_dim, self.units, self.layers, device),
            out,
            action_dim: self.action_dim,
            min_std: self.min_std,
            max_std: self.max_std,
        }
    }

    pub fn critic<B: Backend>(&self, device: &B::Device) -> Critic<B> {
        Critic {
            layers: mlp(self.feat_dim, self.units, self.layers, device),
            out: LinearConfig::new(self.units, super::dist::BINS)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }
}

/// The actor's normal distribution per action dimension: mean and std `[N, A]`.
#[derive(Clone, Debug)]
pub struct Policy<B: Backend> {
    pub mean: Tensor<B, 2>,
    pub std: Tensor<B, 2>,
}

const LN_2PI: f64 = 1.8378770664093453;

impl<B: Backend> Policy<B> {
    /// A sample `[N, A]` (not clipped; gradients do not flow through it).
    pub fn sample(&self) -> Tensor<B, 2> {
        let noise = self.mean.random_like(Distribution::Normal(0.0, 1.0));
        (self.mean.clone() + self.std.clone() * noise).detach()
    }

    /// `log pi(a)` summed over the action dimensions `[N]`.
    pub fn log_prob(&self, action: Tensor<B, 2>) -> Tensor<B, 1> {
        let [n, _] = action.dims();
        let z = (action - self.mean.clone()) / self.std.clone();
        (z.powi_scalar(2) * -0.5 - self.std.clone().log() - 0.5 * LN_2PI)
            .sum_dim(1)
            .reshape([n])
    }

    /// Entropy summed over the action dimensions `[N]`.
    pub fn entropy(&self) -> Tensor<B, 1> {
        let [n, _] = self.std.dims();
        (self.std.clone().log() + 0.5 * (1.0 + LN_2PI))
            .sum_dim(1)
            .reshape([n])
    }
}

impl<B: Backend> Actor<B> {
    pub fn forward(&self, feat: Tensor<B, 2>) -> Policy<B> {
        let [n, _] = feat.dims();
        let mut x = feat;
        for l in &self.layers {
            x = l.forward(x);
        }
        let out = self.out.forward(x);
        let a = self.action_dim;
        let mean = out.clone().slice([0..n, 0..a]).tanh();
        let raw = out.slice([0..n, a..2 * a]);
        let std = sigmoid(raw + 2.0) * (self.max_std - self.min_std) + self.min_std;
        Policy { mean, std }
    }
}

impl<B: Backend> Critic<B> {
    pub fn logits(&self, feat: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut x = feat;
        for l in &self.layers {
            x = l.forward(x);
        }
        self.out.forward(x)
    }
}

/// Moves `slow` toward `fast`: `slow = rate fast + (1 - rate) slow`, parameter by parameter.
pub fn soft_update<B: Backend, M: Module<B>>(slow: M, fast: &M, rate: f64) -> M {
    struct Collect<B: Backend>(Vec<Tensor<B, 1>>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Collect<B> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            self.0.push(p.val().flatten(0, D - 1));
        }
    }
    struct Blend<B: Backend> {
        fast: std::vec::IntoIter<Tensor<B, 1>>,
        rate: f64,
    }
    impl<B: Backend> ModuleMapper<B> for Blend<B> {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let f = self.fast.next().expect("same structure");
            let rate = self.rate;
            p.map(|s| {
                let shape = s.shape();
                (s.clone() * (1.0 - rate) + f.reshape(shape) * rate).detach()
            })
        }
    }
    let mut c = Collect(Vec::new());
    fast.visit(&mut c);
    slow.map(&mut Blend {
        fast: c.0.into_iter(),
        rate,
    })
}

/// An imagined trajectory of `H + 1` states from `N` starts, rows `t * N + i`.
pub struct Imagined<B: Backend> {
    pub feat: Tensor<B, 2>,
    pub action: Tensor<B, 2>,
    pub steps: usize,
    pub starts: usize,
}

/// Rolls the prior forward `horizon` steps from `start` (detached) with the actor's actions.
pub fn imagine<B: Backend>(
    world: &WorldModel<B>,
    actor: &Actor<B>,
    start: State<B>,
    horizon: usize,
) -> Imagined<B> {
    let [n, _] = start.deter.dims();
    let mut state = start.detach();
    let mut feats = Vec::with_capacity(horizon + 1);
    let mut actions = Vec::with_capacity(horizon + 1);
    for t in 0..=horizon {
        let feat = state.feat().detach();
        let action = actor.forward(feat.clone()).sample();
        feats.push(feat);
        actions.push(action.clone());
        if t < horizon {
            state = world.rssm.img_step(&state, action).0.detach();
        }
    }
    Imagined {
        feat: Tensor::cat(feats, 0),
        action: Tensor::cat(actions, 0),
        steps: horizon + 1,
        starts: n,
    }
}

/// The actor-critic losses and what they were computed from.
pub struct ActorCriticLoss<B: Backend> {
    pub policy: Tensor<B, 1>,
    pub value: Tensor<B, 1>,
    /// Mean return, mean entropy, and the return scale used.
    pub mean_return: f64,
    pub entropy: f64,
    pub scale: f64,
    /// The returns `[H, N]` (to update the percentile statistics with).
    pub returns: Vec<f32>,
}

/// Actor and critic losses on an imagined trajectory. The returns update the percentile
/// statistics `moments` first, then advantages are divided by their scale `S` (as the reference
/// does).
#[allow(clippy::too_many_arguments)]
pub fn actor_critic_loss<B: Backend>(
    cfg: &ActorCriticConfig,
    world: &WorldModel<B>,
    actor: &Actor<B>,
    critic: &Critic<B>,
    slow: &Critic<B>,
    twohot: &TwoHot<B>,
    traj: &Imagined<B>,
    moments: &mut super::Moments,
) -> ActorCriticLoss<B> {
    let (h1, n) = (traj.steps, traj.starts);
    let h = h1 - 1;
    let feat = traj.feat.clone();
    let grid = |x: Tensor<B, 1>| x.reshape([h1, n]);
    let reward = grid(twohot.mean(world.reward_logits(feat.clone()))).detach();
    let cont = grid(sigmoid(world.cont_logit(feat.clone()))).detach();
    let value_logits = critic.logits(feat.clone());
    let value = grid(twohot.mean(value_logits.clone())).detach();
    let returns = lambda_returns(reward, cont.clone(), value.clone(), cfg.lambda).detach();
    // Weight of step t: the chance the episode is still going, prod_{i <= t} c_i.
    let mut w = Vec::with_capacity(h);
    let mut acc = Tensor::<B, 2>::ones([1, n], &feat.device());
    for t in 0..h {
        acc = acc * cont.clone().slice([t..t + 1, 0..n]);
        w.push(acc.clone());
    }
    let weight = Tensor::cat(w, 0).detach();
    let ret_vec = returns
        .clone()
        .into_data()
        .to_vec::<f32>()
        .unwrap_or_default();
    moments.update(&ret_vec);
    let (_, scale) = moments.stats();
    let first = |x: Tensor<B, 2>| x.slice([0..h, 0..n]);
    let adv = ((returns.clone() - first(value)) / scale).detach();
    let policy = actor.forward(feat.clone().slice([0..h * n, 0..feat.dims()[1]]));
    let action = traj
        .action
        .clone()
        .slice([0..h * n, 0..traj.action.dims()[1]]);
    let logp = policy.log_prob(action).reshape([h, n]);
    let ent = policy.entropy().reshape([h, n]);
    let policy_loss = (-(logp * adv + ent.clone() * cfg.entropy) * weight.clone()).mean();
    let rows = |x: Tensor<B, 2>| {
        let [_, k] = x.dims();
        x.slice([0..h * n, 0..k])
    };
    let slow_target = twohot
        .mean(slow.logits(rows(feat.clone()).detach()))
        .detach();
    let logits = rows(value_logits);
    let ce_ret = twohot.loss(logits.clone(), returns.clone().reshape([h * n]));
    let ce_slow = twohot.loss(logits, slow_target);
    let value_loss = ((ce_ret + ce_slow * cfg.slow_reg) * weight.reshape([h * n])).mean();
    let mean_return = ret_vec.iter().map(|&x| x as f64).sum::<f64>() / ret_vec.len().max(1) as f64;
    ActorCriticLoss {
        policy: policy_loss,
        value: value_loss,
        mean_return,
        entropy: super::scalar(ent.mean()),
        scale,
        returns: ret_vec,
    }
}
