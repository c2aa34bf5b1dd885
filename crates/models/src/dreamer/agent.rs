//! The DreamerV3 agent: world model, actor, critic and slow critic trained together (one loss,
//! one optimiser, as in the reference), and acting in the environment with a running model
//! state per environment.

use super::actor_critic::{
    actor_critic_loss, imagine, soft_update, Actor, ActorCriticConfig, Critic,
};
use super::dist::TwoHot;
use super::meta::DreamerMeta;
use super::moments::Moments;
use super::optim::{warmup_lr, LaProp, LaPropConfig};
use super::rssm::{RssmConfig, State};
use super::world::{Batch, WorldLoss, WorldModel, WorldModelConfig};
use super::{scalar, Preset};
use burn::config::Config;
use burn::module::{AutodiffModule, Module};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;

#[derive(Config, Debug, PartialEq)]
pub struct AgentConfig {
    pub world: WorldModelConfig,
    pub actor_critic: ActorCriticConfig,
    #[config(default = "LaPropConfig::new()")]
    pub optimizer: LaPropConfig,
    /// Learning rate (after warm-up) of the single optimiser.
    #[config(default = 4e-5)]
    pub lr: f64,
    #[config(default = 1000)]
    pub warmup: usize,
    /// Scales of the policy and value losses in the total.
    #[config(default = 1.0)]
    pub policy_scale: f64,
    #[config(default = 1.0)]
    pub value_scale: f64,
    /// Weight of the state vector's reconstruction in the world model's loss (`None`: 1, the
    /// reference's). With the state a decoder target only, the goal's few dimensions are a
    /// small error beside the image's thousands of pixels, and a larger weight makes the model
    /// state carry them. An `Option` so configs from before it load.
    pub vector_scale: Option<f64>,
}

impl AgentConfig {
    /// The reference's sizes for `preset`, for `action_dim` actions and (when `vector_dim > 0`)
    /// the state vector besides 64x64 frames.
    pub fn preset(preset: Preset, action_dim: usize, vector_dim: usize) -> Self {
        let s = preset.sizes();
        Self::sized(
            s.deter, s.hidden, s.classes, s.depth, s.units, action_dim, vector_dim,
        )
    }

    /// Any sizes (tests use tiny ones).
    #[allow(clippy::too_many_arguments)]
    pub fn sized(
        deter: usize,
        hidden: usize,
        classes: usize,
        depth: usize,
        units: usize,
        action_dim: usize,
        vector_dim: usize,
    ) -> Self {
        let embed = WorldModelConfig::embed_dim(depth, units, vector_dim);
        let rssm = RssmConfig::new(deter, hidden, classes, action_dim, embed);
        let feat = rssm.feat_dim();
        AgentConfig::new(
            WorldModelConfig::new(rssm, depth, units).with_vector_dim(vector_dim),
            ActorCriticConfig::new(feat, action_dim, units),
        )
    }

    /// The state vector as a decoder target only, weighted by `scale`: the model reads frames
    /// alone (its embedding loses the vector part) and reconstructs the state from `[h, z]`.
    /// Privileged information at training time only; the agent acts from pixels. Needs a
    /// config built with `vector_dim > 0`.
    pub fn with_state_target(mut self, scale: f64) -> Self {
        let w = &mut self.world;
        w.vector_input = Some(false);
        w.rssm.embed_dim = WorldModelConfig::embed_dim(w.depth, w.units, 0);
        self.vector_scale = Some(scale);
        self
    }

    /// The state vector as the entries `dims` of each step's state, in that order (its size
    /// becomes their number): with [`Self::with_state_target`], a target of those entries
    /// alone, such as reach's goal (`obs[36:39]`).
    pub fn with_vector_dims(mut self, dims: Vec<usize>) -> Self {
        self.world.vector_dim = dims.len();
        self.world.vector_dims = Some(dims);
        self
    }

    /// The world model's loss as this agent trains it: the vector term weighted by
    /// `vector_scale`. `wl.total` is the mean over steps of sums that hold the vector error
    /// once, so adding `(scale - 1)` times its mean is the same mean with it `scale` times.
    pub fn world_total<B: Backend>(&self, wl: &WorldLoss<B>) -> Tensor<B, 1> {
        match (&wl.vector, self.vector_scale) {
            (Some(v), Some(scale)) if scale != 1.0 => wl.total.clone() + v.clone() * (scale - 1.0),
            _ => wl.total.clone(),
        }
    }

    /// Other latent sizes: `stoch` categoricals and `blocks` GRU blocks (the presets use 32
    /// and 8; tests use fewer).
    pub fn with_latents(mut self, stoch: usize, blocks: usize) -> Self {
        self.world.rssm.stoch = stoch;
        self.world.rssm.blocks = blocks;
        self.actor_critic.feat_dim = self.world.rssm.feat_dim();
        self
    }

    /// What a config read from a file must hold for [`init`](Self::init) and training: GRU
    /// blocks that divide the deterministic state, and an imagination horizon of at least one.
    pub fn check(&self) -> Result<(), String> {
        let r = &self.world.rssm;
        if r.blocks == 0 || !r.deter.is_multiple_of(r.blocks) {
            return Err(format!(
                "deter ({}) must be a multiple of blocks ({})",
                r.deter, r.blocks
            ));
        }
        if self.actor_critic.horizon == 0 {
            return Err("the imagination horizon must be at least 1".into());
        }
        Ok(())
    }

    /// Reads and checks the config saved in `dir`.
    pub fn read(dir: &std::path::Path) -> Result<Self, crate::CheckpointError> {
        let cfg: AgentConfig = crate::checkpoint::read_config(dir, "DreamerV3 agent")?;
        cfg.check()
            .map_err(|reason| crate::CheckpointError::BadConfig {
                path: dir.join(crate::checkpoint::CONFIG_FILE),
                kind: "DreamerV3 agent",
                reason,
            })?;
        Ok(cfg)
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Agent<B> {
        let critic = self.actor_critic.critic(device);
        // The slow critic starts as a copy of the critic, as in the reference.
        let slow = soft_update(self.actor_critic.critic(device), &critic, 1.0);
        Agent {
            world: self.world.init(device),
            actor: self.actor_critic.actor(device),
            critic,
            slow,
        }
    }
}

#[derive(Module, Debug)]
pub struct Agent<B: Backend> {
    pub world: WorldModel<B>,
    pub actor: Actor<B>,
    pub critic: Critic<B>,
    /// The slow critic (not trained by the optimiser: it follows the critic).
    pub slow: Critic<B>,
}

/// One training step's figures.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TrainMetrics {
    pub loss: f64,
    pub image: f64,
    pub vector: Option<f64>,
    pub reward: f64,
    pub cont: f64,
    pub dynamics: f64,
    pub representation: f64,
    pub policy: f64,
    pub value: f64,
    pub imagined_return: f64,
    pub entropy: f64,
    pub return_scale: f64,
    pub lr: f64,
}

/// The agent with its optimiser and statistics: what a training run (and its checkpoint) holds.
pub struct Learner<B: AutodiffBackend> {
    /// Always `Some` between calls (taken while the optimiser steps).
    agent: Option<Agent<B>>,
    pub cfg: AgentConfig,
    pub moments: Moments,
    pub updates: usize,
    optim: OptimizerAdaptor<LaProp, Agent<B>, B>,
    twohot: TwoHot<B>,
}

impl<B: AutodiffBackend> Learner<B> {
    pub fn new(cfg: AgentConfig, device: &B::Device) -> Self {
        let agent = cfg.init(device);
        Learner::new_with(cfg, agent, device)
    }

    fn new_with(cfg: AgentConfig, agent: Agent<B>, device: &B::Device) -> Self {
        Learner {
            agent: Some(agent),
            optim: cfg.optimizer.init(),
            moments: Moments::default(),
            updates: 0,
            twohot: TwoHot::dreamer(device),
            cfg,
        }
    }

    /// One update on a batch of sequences: the world model's loss, imagination from every
    /// posterior state, the actor-critic losses, one backward pass and one optimiser step; then
    /// the slow critic follows.
    pub fn train(&mut self, batch: &Batch<B>) -> TrainMetrics {
        self.train_with_states(batch).0
    }

    /// [`train`](Self::train), also returning the posterior model states `[h, z]` of the batch
    /// as the world model saw them before the step (rows `b * T + t`, without autodiff): what
    /// an FB representation reading DreamerV3's model state trains on.
    pub fn train_with_states(
        &mut self,
        batch: &Batch<B>,
    ) -> (TrainMetrics, Tensor<B::InnerBackend, 2>) {
        // Taken for the optimiser step (which consumes it) and put back below.
        let agent = self.take_agent();
        let (wl, obs) = agent.world.loss_and_states(batch, &self.twohot);
        let states = obs.feat.clone().inner();
        let start = State {
            deter: obs.deter.detach(),
            stoch: obs.stoch.detach(),
        };
        let ac = &self.cfg.actor_critic;
        let traj = imagine(&agent.world, &agent.actor, start, ac.horizon);
        let acl = actor_critic_loss(
            ac,
            &agent.world,
            &agent.actor,
            &agent.critic,
            &agent.slow,
            &self.twohot,
            &traj,
            &mut self.moments,
        );
        let total = self.cfg.world_total(&wl)
            + acl.policy.clone() * self.cfg.policy_scale
            + acl.value.clone() * self.cfg.value_scale;
        let metrics = TrainMetrics {
            loss: scalar(total.clone()),
            image: scalar(wl.image),
            vector: wl.vector.map(scalar),
            reward: scalar(wl.reward),
            cont: scalar(wl.cont),
            dynamics: scalar(wl.dynamics),
            representation: scalar(wl.representation),
            policy: scalar(acl.policy),
            value: scalar(acl.value),
            imagined_return: acl.mean_return,
            entropy: acl.entropy,
            return_scale: acl.scale,
            lr: warmup_lr(self.cfg.lr, self.updates, self.cfg.warmup),
        };
        let rate = ac.slow_rate;
        let grads = GradientsParams::from_grads(total.backward(), &agent);
        let mut agent = self.optim.step(metrics.lr, agent, grads);
        agent.slow = soft_update(agent.slow, &agent.critic, rate);
        self.agent = Some(agent);
        self.updates += 1;
        (metrics, states)
    }
}

/// The running model state of a batch of environments while acting.
pub struct Acting<B: Backend> {
    pub state: State<B>,
    pub prev_action: Tensor<B, 2>,
    /// The encoder's embedding of the last observation `[N, E]` (`None` before the first).
    pub embed: Option<Tensor<B, 2>>,
}

impl<B: Backend> Agent<B> {
    /// Acts on one observation per environment: frames `[N, 3, 64, 64]` in [0, 1], state vectors
    /// `[N, V]` when the model reads them, `is_first` `[N, 1]`. Returns actions `[N, A]` clipped
    /// to [-1, 1] (sampled, or the policy's mean when `greedy`) and updates `acting`.
    pub fn act(
        &self,
        acting: &mut Acting<B>,
        image: Tensor<B, 4>,
        vector: Option<Tensor<B, 2>>,
        is_first: Tensor<B, 2>,
        greedy: bool,
    ) -> Tensor<B, 2> {
        let embed = self.world.encode(image, vector);
        let state = std::mem::replace(
            &mut acting.state,
            State {
                deter: Tensor::zeros([1, 1], &embed.device()),
                stoch: Tensor::zeros([1, 1], &embed.device()),
            },
        );
        acting.embed = Some(embed.clone());
        let (state, _) =
            self.world
                .rssm
                .obs_step(state, acting.prev_action.clone(), embed, is_first);
        let policy = self.actor.forward(state.feat());
        let action = if greedy { policy.mean } else { policy.sample() }
            .clamp(-1.0, 1.0)
            .detach();
        acting.state = state.detach();
        acting.prev_action = action.clone();
        action
    }

    /// What the agent makes of the present and where it believes it is heading: the frames
    /// decoded from its current model state (`[N, 3, 64, 64]` in [0, 1]) and from the state it
    /// imagines `horizon` steps ahead, acting with its policy's mean in the world model alone
    /// (no frame seen after now).
    pub fn imagine_ahead(
        &self,
        acting: &Acting<B>,
        horizon: usize,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let now = self.world.decode_image(acting.state.feat());
        let mut state = acting.state.clone();
        for _ in 0..horizon {
            let action = self.actor.forward(state.feat()).mean.clamp(-1.0, 1.0);
            state = self.world.rssm.img_step(&state, action).0;
        }
        (now, self.world.decode_image(state.feat()))
    }

    /// A fresh acting state for `n` environments (`action_dim` actions).
    pub fn start_acting(&self, n: usize, action_dim: usize, device: &B::Device) -> Acting<B> {
        Acting {
            state: self.world.rssm.initial(n, device),
            prev_action: Tensor::zeros([n, action_dim], device),
            embed: None,
        }
    }
}

impl<B: AutodiffBackend> Learner<B> {
    /// The agent. `agent` is `None` only inside [`Learner::train_with_states`], which puts it
    /// back before returning: no caller can observe it empty.
    pub fn agent(&self) -> &Agent<B> {
        match &self.agent {
            Some(a) => a,
            None => unreachable!("the agent is put back before train_with_states returns"),
        }
    }

    fn take_agent(&mut self) -> Agent<B> {
        match self.agent.take() {
            Some(a) => a,
            None => unreachable!("the agent is put back before train_with_states returns"),
        }
    }

    /// The agent without autodiff, for acting.
    pub fn acting_agent(&self) -> Agent<B::InnerBackend> {
        self.agent().valid()
    }
}

impl<B: AutodiffBackend> Learner<B> {
    /// Writes the agent (weights, config, `meta` with the percentile statistics and the update
    /// count filled in) and the optimiser's state into `dir`.
    pub fn save(
        &self,
        dir: &std::path::Path,
        meta: &DreamerMeta,
    ) -> Result<(), crate::CheckpointError> {
        let mut meta = meta.clone();
        meta.moments = Some(self.moments.clone());
        meta.updates = self.updates;
        let meta = serde_json::to_value(&meta).map_err(|e| crate::CheckpointError::Write {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        crate::checkpoint::save::<B::InnerBackend, _, _>(
            dir,
            &self.acting_agent(),
            &self.cfg,
            &meta,
        )?;
        crate::checkpoint::save_record::<_, B>(dir, "optimizer", self.optim.to_record())
    }

    /// Continues the run saved in `dir` (its config, weights, optimiser state and statistics).
    pub fn resume(
        dir: &std::path::Path,
        device: &B::Device,
    ) -> Result<Self, crate::CheckpointError> {
        let cfg = AgentConfig::read(dir)?;
        let mut learner = Learner::loaded(cfg, dir, device)?;
        let optim = crate::checkpoint::load_record::<_, B>(dir, "optimizer", device)?;
        learner.optim = learner.optim.load_record(optim);
        learner.updates = DreamerMeta::read(dir)?.updates;
        Ok(learner)
    }
}

impl<B: AutodiffBackend> Learner<B> {
    /// Starts a new run from the agent saved in `dir` (`train dreamer --init`): its weights and
    /// return normaliser, a fresh optimiser (so a learning rate and warm-up of the new run's
    /// own), and the update count from 0. `lr` and `warmup`, when given, replace the saved ones.
    pub fn warm_start(
        dir: &std::path::Path,
        lr: Option<f64>,
        warmup: usize,
        device: &B::Device,
    ) -> Result<Self, crate::CheckpointError> {
        let mut cfg = AgentConfig::read(dir)?;
        if let Some(lr) = lr {
            cfg.lr = lr;
        }
        cfg.warmup = warmup;
        Learner::loaded(cfg, dir, device)
    }

    /// A learner with the weights and return normaliser saved in `dir`, a fresh optimiser and
    /// the update count at 0.
    fn loaded(
        cfg: AgentConfig,
        dir: &std::path::Path,
        device: &B::Device,
    ) -> Result<Self, crate::CheckpointError> {
        let agent = crate::checkpoint::load_weights(dir, cfg.init(device), device)?;
        let mut learner = Learner::new_with(cfg, agent, device);
        if let Some(m) = DreamerMeta::read(dir)?.moments {
            learner.moments = m;
        }
        Ok(learner)
    }
}

/// Loads a saved agent for acting (`rollout --policy agent:DIR`, the app).
pub fn load_agent<B: Backend>(
    dir: &std::path::Path,
    device: &B::Device,
) -> Result<(Agent<B>, AgentConfig), crate::CheckpointError> {
    let cfg = AgentConfig::read(dir)?;
    let agent = crate::checkpoint::load_weights(dir, cfg.init(device), device)?;
    Ok((agent, cfg))
}
