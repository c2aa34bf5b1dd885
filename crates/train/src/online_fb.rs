//! The FB representation trained online on a DreamerV3 agent's replay (an FB reading the
//! agent's model state, or an FB checkpoint trained on), as in the paper: F reads the agent's
//! model state `[h, z]` (or the 39-d observation), B the goal features (the VAE's per-frame
//! latent mean) of the reward camera's frames, and the representation freezes after a number
//! of environment steps (the paper: 100k).
//!
//! Every agent update hands the replayed sequences and their posterior model states to
//! [`OnlineFb::train`]: the transitions `(s_t, a_t) -> (s_{t+1}, a_{t+1})` inside an episode
//! (the next action is the agent's own, so the successor measure is that of the agent's
//! behaviour), with the goal features of frame `t + 1`. `r_fb = F(s, a, z)^T z` with
//! `z = B(goal frame)` is paid from the model state the agent acts from, recomputed as `B`
//! trains and fixed once it freezes.

use crate::error::{bail, During};
use crate::Result;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use genreward_models::dreamer::Step;
use genreward_models::{FbBatch, FbConfig, FbStats, FbTrainer};
use genreward_reward::features::GoalEncoder;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What F reads as the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FbState {
    /// The 39-d observation (the shipped FB's state).
    Obs39,
    /// DreamerV3's model state `[h, z]` (posterior) of the step.
    Dreamer,
}

impl FbState {
    pub fn name(self) -> &'static str {
        match self {
            FbState::Obs39 => "obs39",
            FbState::Dreamer => "dreamer",
        }
    }
}

impl std::str::FromStr for FbState {
    type Err = crate::TrainError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "obs39" => Ok(FbState::Obs39),
            "dreamer" => Ok(FbState::Dreamer),
            other => bail!("unknown FB state '{other}' (known: obs39, dreamer)"),
        }
    }
}

/// Adam's learning rate of the online FB (the offline `train fb`'s default).
pub const FB_LR: f64 = 1e-4;

/// An online FB checkpoint's `meta.json` (and what it reads of the checkpoint it starts from).
/// Every field has a default, so any FB checkpoint's meta reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnlineFbMeta {
    /// `"fb"`.
    pub kind: String,
    /// What F reads (`obs39`, `dreamer`).
    pub state: String,
    pub online: bool,
    /// What B reads: `genreward_reward::features::GoalEncoder::meta`.
    pub goal_features: serde_json::Value,
    pub freeze_after: Option<usize>,
    pub frozen: bool,
    /// Optimiser steps taken online.
    pub updates: usize,
    pub env_steps: usize,
}

/// What a run's report says about its online FB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnlineFbSummary {
    pub dir: PathBuf,
    pub freeze_after: usize,
    pub frozen: bool,
    pub state: FbState,
    pub updates: usize,
}

/// An FB representation training on the agent's replay until it freezes.
pub struct OnlineFb<B: AutodiffBackend> {
    trainer: FbTrainer<B>,
    encoder: GoalEncoder<B::InnerBackend>,
    pub state: FbState,
    /// Goal features of each environment's goal frame.
    goals: Vec<Vec<f32>>,
    /// `z = B(goal frame)` per environment `[envs, d]`, kept in step with B.
    z: Tensor<B::InnerBackend, 2>,
    /// Environment steps after which the representation stops training.
    pub freeze_after: usize,
    pub frozen: bool,
    /// Optimiser steps taken.
    pub updates: usize,
    /// Whether the goal features' standardisation has been set (from the first batch).
    normalized: bool,
    /// Where it is saved (`<out>/fb`).
    pub dir: PathBuf,
    device: B::Device,
}

impl<B: AutodiffBackend> OnlineFb<B> {
    /// A fresh representation for a `state_dim`-d state, or (`start`) the FB checkpoint to go on
    /// training, or (`resume`) the one saved in `dir` by an earlier run; `envs` environments
    /// aim at `goal_frame` until [`set_goal`](Self::set_goal) says otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        state: FbState,
        state_dim: usize,
        encoder: GoalEncoder<B::InnerBackend>,
        goal_frame: &[u8],
        envs: usize,
        start: Option<&Path>,
        dir: &Path,
        resume: bool,
        freeze_after: usize,
        device: &B::Device,
    ) -> Result<Self> {
        let goal = encoder.features(&[goal_frame])?;
        let meta_of = |v: serde_json::Value, d: &Path| -> Result<OnlineFbMeta> {
            serde_json::from_value(v)
                .during(|| format!("{}: meta.json is not an FB checkpoint's", d.display()))
        };
        let (trainer, meta) = if resume && dir.join("config.json").is_file() {
            let t = FbTrainer::<B>::resume(dir, FB_LR, device)
                .during(|| format!("cannot resume the FB representation in {}", dir.display()))?;
            let meta = meta_of(genreward_models::checkpoint::read_meta(dir), dir)?;
            (t, Some(meta))
        } else if let Some(from) = start {
            let ck = genreward_models::FbCheckpoint::<B>::load(from, None, device)
                .during(|| format!("cannot load the FB representation in {}", from.display()))?;
            let meta = meta_of(ck.meta, from)?;
            (FbTrainer::new(ck.model, ck.config, FB_LR), Some(meta))
        } else {
            let cfg = FbConfig::new(state_dim, genreward_sim::ACT_DIM, encoder.dim());
            (FbTrainer::new(cfg.init(device), cfg, FB_LR), None)
        };
        let c = &trainer.config;
        if c.state_dim != state_dim || c.goal_dim != encoder.dim() {
            bail!(
                "the FB representation reads a {}-d state and {} goal features; this run gives {state_dim} ({}) and {}",
                c.state_dim,
                c.goal_dim,
                state.name(),
                encoder.dim()
            );
        }
        let inner = device.clone();
        let normalized = meta.is_some();
        let meta = meta.unwrap_or_default();
        let mut fb = OnlineFb {
            frozen: meta.frozen,
            updates: meta.updates,
            // A started or resumed model keeps its standardisation.
            normalized,
            trainer,
            encoder,
            state,
            goals: vec![goal; envs],
            z: Tensor::zeros([1, 1], &inner),
            freeze_after,
            dir: dir.to_path_buf(),
            device: inner,
        };
        fb.refresh_z();
        Ok(fb)
    }

    fn refresh_z(&mut self) {
        let (n, d) = (self.goals.len(), self.encoder.dim());
        let g = Tensor::<B::InnerBackend, 2>::from_data(
            TensorData::new(self.goals.concat(), [n, d]),
            &self.device,
        );
        self.z = self.trainer.model.valid().backward_map(g);
    }

    /// Aims environment `env` at another goal frame (at the VAE's size).
    pub fn set_goal(&mut self, env: usize, goal_frame: &[u8]) -> Result<()> {
        self.goals[env] = self.encoder.features(&[goal_frame])?;
        self.refresh_z();
        Ok(())
    }

    /// Goal features of frames at the VAE's size, one row each.
    pub fn features(&self, frames: &[&[u8]]) -> Result<Vec<Vec<f32>>> {
        let d = self.encoder.dim();
        Ok(self
            .encoder
            .features(frames)?
            .chunks(d)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// `r_fb = F(s, a, z)^T z` of one state `[envs, S]` and action `[envs, 4]` per environment,
    /// each toward its own goal.
    pub fn reward(
        &self,
        states: Tensor<B::InnerBackend, 2>,
        actions: Tensor<B::InnerBackend, 2>,
    ) -> Vec<f64> {
        let f = self
            .trainer
            .model
            .valid()
            .forward_map(states, actions, self.z.clone());
        (f * self.z.clone())
            .sum_dim(1)
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap_or_default()
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// One optimiser step on the transitions inside episodes of the replayed `seqs` (their
    /// model states `states`, rows `b * T + t`, for [`FbState::Dreamer`]); freezes once
    /// `env_steps` reaches `freeze_after`. `None` when frozen or no transition fits.
    pub fn train(
        &mut self,
        seqs: &[Vec<&Step>],
        states: &Tensor<B::InnerBackend, 2>,
        env_steps: usize,
    ) -> Option<FbStats> {
        if self.frozen {
            return None;
        }
        if env_steps >= self.freeze_after {
            self.frozen = true;
            return None;
        }
        let t = seqs.first()?.len();
        // Row k of the flattened batch goes to row k + 1 unless an episode starts there.
        let (mut from, mut to) = (Vec::new(), Vec::new());
        for (b, seq) in seqs.iter().enumerate() {
            for i in 0..t.saturating_sub(1) {
                if !seq[i + 1].is_first {
                    from.push((b * t + i) as i64);
                    to.push((b * t + i + 1) as i64);
                }
            }
        }
        let n = from.len();
        if n < 2 {
            return None;
        }
        let flat: Vec<&Step> = seqs.iter().flatten().copied().collect();
        let d = &self.device;
        let rows = |x: Tensor<B::InnerBackend, 2>, idx: &[i64]| {
            let i = Tensor::<B::InnerBackend, 1, Int>::from_data(
                TensorData::new(idx.to_vec(), [idx.len()]),
                d,
            );
            Tensor::<B, 2>::from_inner(x.select(0, i))
        };
        let table = |f: &dyn Fn(&Step) -> &[f32]| {
            let w = f(flat[0]).len();
            let v: Vec<f32> = flat.iter().flat_map(|s| f(s).iter().copied()).collect();
            Tensor::<B::InnerBackend, 2>::from_data(TensorData::new(v, [flat.len(), w]), d)
        };
        let state_table = match self.state {
            FbState::Dreamer => states.clone(),
            FbState::Obs39 => table(&|s| s.vector.as_slice()),
        };
        let actions = table(&|s| s.action.as_slice());
        let goals = table(&|s| s.goal.as_slice());
        if !self.normalized {
            // The goal features' standardisation, from the first batch, kept from then on.
            let g = goals.clone();
            let mean = g.clone().mean_dim(0);
            let std = (g - mean.clone()).powi_scalar(2).mean_dim(0).sqrt();
            let v =
                |x: Tensor<B::InnerBackend, 2>| x.into_data().to_vec::<f32>().unwrap_or_default();
            let (mean, std) = (v(mean), v(std));
            let dim = self.trainer.config.state_dim;
            let (zero, one) = (vec![0.0; dim], vec![1.0; dim]);
            self.trainer
                .model
                .set_normalization((&zero, &one), (&mean, &std), d);
            self.trainer.sync_target();
            self.normalized = true;
        }
        // Goals for the task vectors: the same next frames in another order.
        let shuffled: Vec<i64> = (0..n).map(|k| to[(k * 7919 + 13) % n]).collect();
        let batch = FbBatch {
            state: rows(state_table.clone(), &from),
            action: rows(actions.clone(), &from),
            next_state: rows(state_table, &to),
            next_action: rows(actions, &to),
            next_goal: rows(goals.clone(), &to),
            goal: rows(goals, &shuffled),
        };
        let stats = self.trainer.step(batch);
        self.updates += 1;
        self.refresh_z();
        Some(stats)
    }

    /// Saves the representation (with its target networks and Adam's state) into its folder.
    pub fn save(&self, env_steps: usize) -> Result<()> {
        let meta = OnlineFbMeta {
            kind: "fb".into(),
            state: self.state.name().into(),
            online: true,
            goal_features: self.encoder.meta(),
            freeze_after: Some(self.freeze_after),
            frozen: self.frozen,
            updates: self.updates,
            env_steps,
        };
        self.trainer
            .save(&self.dir, &serde_json::to_value(meta)?)
            .during(|| {
                format!(
                    "cannot save the FB representation in {}",
                    self.dir.display()
                )
            })
    }

    /// What the run's summary and metrics say about it.
    pub fn describe(&self) -> OnlineFbSummary {
        OnlineFbSummary {
            dir: self.dir.clone(),
            freeze_after: self.freeze_after,
            frozen: self.frozen,
            state: self.state,
            updates: self.updates,
        }
    }
}
