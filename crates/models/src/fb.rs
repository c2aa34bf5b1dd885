//! The forward-backward (FB) representation (Touati & Ollivier, "Learning one representation to
//! optimize all rewards", 2021; the losses' details follow the description of Meta's metamotivo,
//! Tirinzoni et al. 2025), which gives GenReward's frame-level reward.
//!
//! * `F(s, a, z)` in `R^d`: where the policy's future goes from state `s` after action `a`
//!   (for the task vector `z`).
//! * `B(g)` in `R^d`, on the sphere of radius `sqrt(d)`: a goal `g`, seen through goal features.
//! * `F(s, a, z)^T B(g)` approximates the successor measure `M(s, a, dg) / rho(dg)`: the
//!   discounted probability of reaching `g` from `(s, a)`, relative to how often `g` occurs in
//!   the data (`rho`). GenReward pays `r_fb = F(s, a, z)^T z` with `z = B(goal frame)`.
//!
//! **Losses** on a batch of `N` transitions `(s_i, a_i, s'_i, a'_i)` with goal features `g'_i` of
//! the next frame and task vectors `z_i`:
//! * `M = F(s, a, z) B(g')^T` (`N x N`) and the target `M' = F~(s', a', z) B~(g')^T` from the
//!   target networks (soft-updated, `tau`). Off-diagonal pairs are independent draws from
//!   `rho`, so the Bellman residual is `0.5 * mean_{i != j} (M_ij - gamma M'_ij)^2`; the diagonal,
//!   where `g'_i` is the real next goal, pays `-mean_i M_ii`. Their sum is minimised by
//!   `M = P + gamma P_pi M` (tested on a small MDP against the exact matrix inverse).
//! * Orthonormality of `B`: with `C = B(g') B(g')^T`,
//!   `0.5 * mean_{i != j} C_ij^2 - mean_i C_ii`, which drives `E_rho[B B^T]` toward the identity.
//! * `z` is drawn on the sphere of radius `sqrt(d)`, and with probability `goal_z_ratio` is
//!   `B(g)` of a goal drawn from the data instead (detached).
//!
//! The next action `a'` comes from the data, so the successor measure is that of the policy
//! that made the data (scripted experts with noise, random actions), not of an optimal one;
//! an agent training online (DreamerV3, later) can replace it.

use crate::checkpoint::{self, CheckpointError};
use burn::config::Config;
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, ElementConversion, Tensor};
use std::path::Path;

/// Hyper-parameters of the FB representation; saved as `config.json` beside its weights.
#[derive(Config, Debug, PartialEq)]
pub struct FbConfig {
    /// Size of the state input of F (39 for the normalised observation).
    pub state_dim: usize,
    /// Size of the action (4 for the Sawyer).
    pub action_dim: usize,
    /// Size of the goal features B reads.
    pub goal_dim: usize,
    /// Dimension `d` of the representation.
    #[config(default = 50)]
    pub z_dim: usize,
    /// Width of the hidden layers of F and B.
    #[config(default = 256)]
    pub hidden: usize,
    /// Hidden layers after the embedding layer.
    #[config(default = 2)]
    pub depth: usize,
    /// Discount of the successor measure.
    #[config(default = 0.98)]
    pub gamma: f64,
    /// Weight of the orthonormality loss.
    #[config(default = 1.0)]
    pub ortho_coef: f64,
    /// Soft-update rate of the target networks.
    #[config(default = 0.01)]
    pub tau: f64,
    /// Share of task vectors taken from `B` of replayed goals (the rest: the sphere).
    #[config(default = 0.5)]
    pub goal_z_ratio: f64,
}

/// A fixed affine standardisation `(x - mean) / std`, stored with the weights, not trained.
#[derive(Module, Debug)]
pub struct Standardize<B: Backend> {
    mean: Param<Tensor<B, 1>>,
    inv_std: Param<Tensor<B, 1>>,
}

impl<B: Backend> Standardize<B> {
    fn identity(dim: usize, device: &B::Device) -> Self {
        Standardize {
            mean: Param::from_tensor(Tensor::zeros([dim], device)).set_require_grad(false),
            inv_std: Param::from_tensor(Tensor::ones([dim], device)).set_require_grad(false),
        }
    }

    /// Sets the statistics; a standard deviation below `1e-3` counts as `1e-3` (constant inputs).
    fn set(&mut self, mean: &[f32], std: &[f32], device: &B::Device) {
        let inv: Vec<f32> = std.iter().map(|s| 1.0 / s.max(1e-3)).collect();
        self.mean = Param::from_tensor(Tensor::from_floats(mean, device)).set_require_grad(false);
        self.inv_std =
            Param::from_tensor(Tensor::from_floats(inv.as_slice(), device)).set_require_grad(false);
    }

    /// `[N, D]` -> `[N, D]`.
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        (x - self.mean.val().unsqueeze::<2>()) * self.inv_std.val().unsqueeze::<2>()
    }
}

/// An MLP whose first layer is an embedding (linear, layer norm, tanh: bounded features whatever
/// the input's scale), then `depth` ReLU layers and a linear output.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    embed: Linear<B>,
    norm: LayerNorm<B>,
    hidden: Vec<Linear<B>>,
    out: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    fn new(input: usize, hidden: usize, depth: usize, output: usize, device: &B::Device) -> Self {
        Mlp {
            embed: LinearConfig::new(input, hidden).init(device),
            norm: LayerNormConfig::new(hidden).init(device),
            hidden: (0..depth)
                .map(|_| LinearConfig::new(hidden, hidden).init(device))
                .collect(),
            out: LinearConfig::new(hidden, output).init(device),
        }
    }

    /// `[N, input]` -> `[N, output]`.
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut h = self.norm.forward(self.embed.forward(x)).tanh();
        for l in &self.hidden {
            h = burn::tensor::activation::relu(l.forward(h));
        }
        self.out.forward(h)
    }
}

/// Projects rows onto the sphere of radius `sqrt(d)`.
pub fn project_sphere<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let d = x.dims()[1] as f64;
    let norm = x.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-8);
    x / norm * d.sqrt()
}

/// The forward and backward networks.
#[derive(Module, Debug)]
pub struct FbModel<B: Backend> {
    state_norm: Standardize<B>,
    goal_norm: Standardize<B>,
    forward_net: Mlp<B>,
    backward_net: Mlp<B>,
    z_dim: usize,
}

impl FbConfig {
    /// Builds F and B with fresh weights and identity input standardisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> FbModel<B> {
        FbModel {
            state_norm: Standardize::identity(self.state_dim, device),
            goal_norm: Standardize::identity(self.goal_dim, device),
            forward_net: Mlp::new(
                self.state_dim + self.action_dim + self.z_dim,
                self.hidden,
                self.depth,
                self.z_dim,
                device,
            ),
            backward_net: Mlp::new(self.goal_dim, self.hidden, self.depth, self.z_dim, device),
            z_dim: self.z_dim,
        }
    }
}

impl<B: Backend> FbModel<B> {
    /// The representation's dimension `d`.
    pub fn z_dim(&self) -> usize {
        self.z_dim
    }

    /// Sets the standardisation of states and goal features (per-dimension mean and std of the
    /// training data).
    pub fn set_normalization(
        &mut self,
        state: (&[f32], &[f32]),
        goal: (&[f32], &[f32]),
        device: &B::Device,
    ) {
        self.state_norm.set(state.0, state.1, device);
        self.goal_norm.set(goal.0, goal.1, device);
    }

    /// `F(s, a, z)`: states `[N, S]` (raw, standardised inside), actions `[N, A]`, task
    /// vectors `[N, d]` -> `[N, d]`.
    pub fn forward_map(
        &self,
        state: Tensor<B, 2>,
        action: Tensor<B, 2>,
        z: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let s = self.state_norm.forward(state);
        self.forward_net.forward(Tensor::cat(vec![s, action, z], 1))
    }

    /// `B(g)`: goal features `[N, G]` (raw) -> `[N, d]` on the sphere of radius `sqrt(d)`.
    pub fn backward_map(&self, goal: Tensor<B, 2>) -> Tensor<B, 2> {
        project_sphere(self.backward_net.forward(self.goal_norm.forward(goal)))
    }

    /// The FB reward `F(s, a, z)^T z` for one task vector `z` (`[d]`): `[N]`.
    pub fn reward(
        &self,
        state: Tensor<B, 2>,
        action: Tensor<B, 2>,
        z: Tensor<B, 1>,
    ) -> Tensor<B, 1> {
        let n = state.dims()[0];
        let zz = z.clone().unsqueeze::<2>().repeat_dim(0, n);
        let f = self.forward_map(state, action, zz);
        f.matmul(z.unsqueeze_dim::<2>(1)).squeeze_dim::<1>(1)
    }
}

/// One batch of transitions for [`FbTrainer::step`].
#[derive(Clone, Debug)]
pub struct FbBatch<B: Backend> {
    /// `[N, S]` states.
    pub state: Tensor<B, 2>,
    /// `[N, A]` actions taken in them.
    pub action: Tensor<B, 2>,
    /// `[N, S]` next states.
    pub next_state: Tensor<B, 2>,
    /// `[N, A]` the data's action in the next state (the policy whose successor measure is
    /// learned).
    pub next_action: Tensor<B, 2>,
    /// `[N, G]` goal features of the next frame.
    pub next_goal: Tensor<B, 2>,
    /// `[N, G]` goal features of frames drawn from the data, for task vectors `z = B(g)`.
    pub goal: Tensor<B, 2>,
}

/// The parts of the loss and the state of `B`, averaged over one batch.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FbStats {
    pub loss: f64,
    /// Bellman residual on the off-diagonal pairs.
    pub fb_offdiag: f64,
    /// `-mean M_ii`.
    pub fb_diag: f64,
    /// Orthonormality loss.
    pub ortho: f64,
    /// Mean `|F^T z|` over the batch (the scale of the reward).
    pub q_abs: f64,
}

/// Masks `(I, 1 - I)` for `N x N` matrices.
fn masks<B: Backend>(n: usize, device: &B::Device) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let eye = Tensor::<B, 2>::eye(n, device);
    let off = eye.clone().neg() + 1.0;
    (eye, off)
}

/// `(0.5 * mean_{i != j} (M - gamma M')_ij^2, -mean_i M_ii)`.
pub fn fb_loss<B: Backend>(
    m: Tensor<B, 2>,
    target: Tensor<B, 2>,
    gamma: f64,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let n = m.dims()[0];
    let (eye, off) = masks::<B>(n, &m.device());
    let pairs = (n * (n - 1)).max(1) as f64;
    let diff = m.clone() - target * gamma;
    let offdiag = (diff.powf_scalar(2.0) * off).sum() * (0.5 / pairs);
    let diag = (m * eye).sum() * (-1.0 / n as f64);
    (offdiag, diag)
}

/// `0.5 * mean_{i != j} C_ij^2 - mean_i C_ii` with `C = B B^T`, for `B` `[N, d]`.
pub fn ortho_loss<B: Backend>(b: Tensor<B, 2>) -> Tensor<B, 1> {
    let n = b.dims()[0];
    let (eye, off) = masks::<B>(n, &b.device());
    let pairs = (n * (n - 1)).max(1) as f64;
    let c = b.clone().matmul(b.transpose());
    (c.clone().powf_scalar(2.0) * off).sum() * (0.5 / pairs) - (c * eye).sum() * (1.0 / n as f64)
}

/// How far `E[B B^T]` (a `d x d` matrix, estimated on `b`, `[N, d]`) is from the identity:
/// `(max |C_ii - 1|, mean over i != j of |C_ij|)`.
pub fn covariance_deviation<B: Backend>(b: Tensor<B, 2>) -> (f64, f64) {
    let n = b.dims()[0];
    covariance_figures(b.clone().transpose().matmul(b) / n as f64)
}

/// [`covariance_deviation`]'s two figures for an already estimated `C = E[B B^T]` (`d x d`),
/// for estimates summed over more goals than one batch holds.
pub fn covariance_figures<B: Backend>(c: Tensor<B, 2>) -> (f64, f64) {
    let d = c.dims()[0];
    let (eye, off) = masks::<B>(d, &c.device());
    let diag_dev = ((c.clone() * eye.clone()) - eye).abs().max();
    let off_mean = (c * off).abs().sum() / ((d * (d - 1)).max(1) as f64);
    (scalar(diag_dev), scalar(off_mean))
}

/// The losses on `batch` without an update, for validation: task vectors are `B` of the batch's
/// goals and the online networks stand in for the targets. Also returns
/// [`covariance_deviation`] of `B` over the next frames.
pub fn evaluate<B: Backend>(
    model: &FbModel<B>,
    config: &FbConfig,
    batch: FbBatch<B>,
) -> (FbStats, (f64, f64)) {
    let z = model.backward_map(batch.goal);
    let f = model.forward_map(batch.state, batch.action, z.clone());
    let b = model.backward_map(batch.next_goal);
    let ft = model.forward_map(batch.next_state, batch.next_action, z.clone());
    let q_abs = (f.clone() * z).sum_dim(1).abs().mean();
    let target = ft.matmul(b.clone().transpose());
    let (offdiag, diag) = fb_loss(f.matmul(b.clone().transpose()), target, config.gamma);
    let ortho = ortho_loss(b.clone());
    let (offdiag, diag, ortho) = (scalar(offdiag), scalar(diag), scalar(ortho));
    let stats = FbStats {
        loss: offdiag + diag + config.ortho_coef * ortho,
        fb_offdiag: offdiag,
        fb_diag: diag,
        ortho,
        q_abs: scalar(q_abs),
    };
    (stats, covariance_deviation(b))
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f64>()
}

/// Flattened float parameters of a module, in visiting order.
fn flat_params<B: Backend, M: Module<B>>(m: &M) -> Vec<Tensor<B, 1>> {
    struct Collect<B: Backend>(Vec<Tensor<B, 1>>);
    impl<B: Backend> ModuleVisitor<B> for Collect<B> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            let t = p.val();
            let n = t.shape().num_elements();
            self.0.push(t.reshape([n]));
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// `target <- (1 - tau) target + tau source`, parameter by parameter (same structure).
pub fn soft_update<B: Backend, M: Module<B>>(target: M, source: &M, tau: f64) -> M {
    struct Polyak<B: Backend> {
        src: Vec<Tensor<B, 1>>,
        next: usize,
        tau: f64,
    }
    impl<B: Backend> ModuleMapper<B> for Polyak<B> {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, t, mapper) = p.consume();
            let s = self.src[self.next].clone().reshape(t.shape());
            self.next += 1;
            let mixed = t * (1.0 - self.tau) + s * self.tau;
            Param::from_mapped_value(id, mixed, mapper)
        }
    }
    let mut p = Polyak {
        src: flat_params::<B, M>(source),
        next: 0,
        tau,
    };
    target.map(&mut p)
}

/// The FB model, its target networks and Adam.
pub struct FbTrainer<B: AutodiffBackend> {
    pub model: FbModel<B>,
    pub target: FbModel<B::InnerBackend>,
    pub config: FbConfig,
    optim: OptimizerAdaptor<Adam, FbModel<B>, B>,
    pub lr: f64,
}

impl<B: AutodiffBackend> FbTrainer<B> {
    /// Starts from `model` (fresh or with its standardisation set); the target is a copy.
    pub fn new(model: FbModel<B>, config: FbConfig, lr: f64) -> Self {
        // Touch every parameter first: a clone of a lazily initialised module draws its own.
        flat_params::<B, FbModel<B>>(&model);
        FbTrainer {
            target: model.valid(),
            model,
            config,
            optim: AdamConfig::new().init(),
            lr,
        }
    }

    /// Makes the target networks a copy of the model again (after its standardisation is set).
    pub fn sync_target(&mut self) {
        self.target = self.model.valid();
    }

    /// Task vectors for a batch: on the sphere, or `B(g)` of replayed goals (detached).
    fn sample_z(&self, goal: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, _] = goal.dims();
        let device = goal.device();
        let d = self.config.z_dim;
        let sphere = project_sphere(Tensor::<B, 2>::random(
            [n, d],
            Distribution::Normal(0.0, 1.0),
            &device,
        ));
        let from_goal = self.model.backward_map(goal).detach();
        let pick = Tensor::<B, 2>::random(
            [n, 1],
            Distribution::Bernoulli(self.config.goal_z_ratio),
            &device,
        );
        from_goal * pick.clone() + sphere * (pick.neg() + 1.0)
    }

    /// One Adam step on the FB and orthonormality losses, then the soft target update.
    pub fn step(&mut self, batch: FbBatch<B>) -> FbStats {
        let z = self.sample_z(batch.goal);
        let target = {
            let f = self.target.forward_map(
                batch.next_state.inner(),
                batch.next_action.inner(),
                z.clone().inner(),
            );
            let b = self.target.backward_map(batch.next_goal.clone().inner());
            Tensor::<B, 2>::from_inner(f.matmul(b.transpose()))
        };
        let f = self.model.forward_map(batch.state, batch.action, z.clone());
        let b = self.model.backward_map(batch.next_goal);
        let q_abs = (f.clone() * z).sum_dim(1).abs().mean();
        let m = f.matmul(b.clone().transpose());
        let (offdiag, diag) = fb_loss(m, target, self.config.gamma);
        let ortho = ortho_loss(b);
        let loss = offdiag.clone() + diag.clone() + ortho.clone() * self.config.ortho_coef;
        let stats = FbStats {
            loss: scalar(loss.clone()),
            fb_offdiag: scalar(offdiag),
            fb_diag: scalar(diag),
            ortho: scalar(ortho),
            q_abs: scalar(q_abs),
        };
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.lr, self.model.clone(), grads);
        self.target = soft_update(self.target.clone(), &self.model.valid(), self.config.tau);
        stats
    }

    /// Saves the model (config, weights, `meta`), the target networks and Adam's state.
    pub fn save(&self, dir: &Path, meta: &serde_json::Value) -> Result<(), CheckpointError> {
        checkpoint::save(dir, &self.model, &self.config, meta)?;
        checkpoint::save_record::<_, B::InnerBackend>(
            dir,
            "target",
            self.target.clone().into_record(),
        )?;
        checkpoint::save_record::<_, B>(dir, "optimizer", self.optim.to_record())
    }

    /// Restores a run saved by [`save`](Self::save).
    pub fn resume(dir: &Path, lr: f64, device: &B::Device) -> Result<Self, CheckpointError> {
        let ck = checkpoint::FbCheckpoint::<B>::load(dir, None, device)?;
        let mut t = FbTrainer::new(ck.model, ck.config, lr);
        let target = checkpoint::load_record::<_, B::InnerBackend>(dir, "target", device)?;
        t.target = t.target.load_record(target);
        let optim = checkpoint::load_record::<_, B>(dir, "optimizer", device)?;
        t.optim = t.optim.load_record(optim);
        Ok(t)
    }
}
