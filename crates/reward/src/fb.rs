//! The frame-level reward: `r_fb = F(s, a, z)^T z` with `z = B(goal frame)`.
//!
//! The goal frame is one of the goal video's 16 sampled frames ([`crate::goal_frame`] picks
//! it, the user may override); its goal features ([`crate::features`]) go through `B` once.
//! Every step's state (the 39-d observation) and action then go through `F`, in batches when a
//! whole recorded episode is scored.

use crate::features::{GoalEncoder, StateKind};
use crate::RewardError;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use genreward_models::backend::{gpu_device, Cpu, Gpu};
use genreward_models::{DeviceKind, FbCheckpoint, FbConfig, FbModel};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the shipped FB representation lives inside the repository.
pub const SHIPPED_FB: &str = "assets/models/fb";

/// The FB checkpoint used when no `--fb` is given: `$GENREWARD_FB` if set, else
/// `assets/models/fb` of this checkout.
pub fn default_fb_dir() -> PathBuf {
    crate::load::shipped_dir("GENREWARD_FB", SHIPPED_FB)
}

/// `r_fb` toward one goal frame at a time, on backend `B`.
#[derive(Debug)]
pub struct FbReward<B: Backend> {
    model: FbModel<B>,
    /// The goal features' encoder (the one the model was trained with).
    encoder: GoalEncoder<B>,
    goal_dim: usize,
    z: Tensor<B, 1>,
    state_dim: usize,
    action_dim: usize,
    state: StateKind,
    device: B::Device,
    /// Milliseconds of the last [`score`](Self::score) call.
    pub last_ms: f64,
}

impl<B: Backend> FbReward<B> {
    /// `r_fb` toward `goal_frame` (at the encoder's frame size); `config` is the model's, `state`
    /// what its F reads. Fails when the encoder's features do not have the size the model reads.
    pub fn new(
        model: FbModel<B>,
        config: &FbConfig,
        state: StateKind,
        encoder: GoalEncoder<B>,
        goal_frame: &[u8],
        device: B::Device,
    ) -> Result<Self, RewardError> {
        let dim = encoder.dim();
        let state_ok = match state {
            StateKind::Obs39 => config.state_dim == genreward_sim::OBS_DIM,
            StateKind::Frame => config.state_dim == dim,
            // The agent's model state: its size is checked against the agent's when scored.
            StateKind::Model => true,
        };
        if dim != config.goal_dim || !state_ok {
            return Err(RewardError::Invalid(format!(
                "the FB model reads {} goal features and a {}-d state ({}), the {} encoder gives {dim} features",
                config.goal_dim,
                config.state_dim,
                state.name(),
                encoder.kind()
            )));
        }
        let z = Tensor::zeros([config.z_dim], &device);
        let mut r = FbReward {
            state_dim: config.state_dim,
            action_dim: config.action_dim,
            state,
            goal_dim: config.goal_dim,
            model,
            encoder,
            z,
            device,
            last_ms: 0.0,
        };
        r.set_goal(goal_frame)?;
        Ok(r)
    }

    /// Aims at another goal frame (at the encoder's frame size): `z = B(features(frame))`.
    pub fn set_goal(&mut self, goal_frame: &[u8]) -> Result<(), RewardError> {
        let feats = self.encoder.features(&[goal_frame])?;
        let g = Tensor::<B, 2>::from_data(TensorData::new(feats, [1, self.goal_dim]), &self.device);
        self.z = self.model.backward_map(g).reshape([self.model.z_dim()]);
        Ok(())
    }

    /// F's states of frames (any size; brought to the encoder's as the goal video's are), for a
    /// model whose state is [`StateKind::Frame`].
    pub fn frame_states(&self, frames: &[&[u8]], w: u32, h: u32) -> Result<Vec<f32>, RewardError> {
        let size = self.encoder.frame_size();
        let prepped = frames
            .iter()
            .map(|f| crate::prep::to_model_input(f, w, h, size))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&[u8]> = prepped.iter().map(Vec::as_slice).collect();
        self.encoder.features(&refs)
    }

    /// The goal-feature encoder (`vae` or `dino`, see [`GoalEncoder::meta`]).
    pub fn encoder(&self) -> &GoalEncoder<B> {
        &self.encoder
    }

    /// The task vector `z = B(goal)`.
    pub fn z(&self) -> Vec<f32> {
        self.z
            .clone()
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32")
    }

    /// `r_fb` of `n` steps: `states` holds `n * state_dim` values, `actions` `n * action_dim`.
    /// Fails (one line) when the sizes do not fit the model or an input or output is not finite
    /// (a recorded run with NaN in it, a broken checkpoint).
    pub fn score(&mut self, states: &[f32], actions: &[f32]) -> Result<Vec<f64>, RewardError> {
        let t0 = Instant::now();
        let n = states.len() / self.state_dim.max(1);
        if states.len() != n * self.state_dim || actions.len() != n * self.action_dim {
            return Err(RewardError::Invalid(format!(
                "r_fb needs {} state and {} action values per step; got {} and {}",
                self.state_dim,
                self.action_dim,
                states.len(),
                actions.len()
            )));
        }
        if let Some(i) = states.iter().chain(actions).position(|v| !v.is_finite()) {
            let step = if i < states.len() {
                i / self.state_dim
            } else {
                (i - states.len()) / self.action_dim
            };
            return Err(RewardError::Invalid(format!(
                "r_fb: step {step}'s state or action is not finite"
            )));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let s = Tensor::<B, 2>::from_data(
            TensorData::new(states.to_vec(), [n, self.state_dim]),
            &self.device,
        );
        let a = Tensor::<B, 2>::from_data(
            TensorData::new(actions.to_vec(), [n, self.action_dim]),
            &self.device,
        );
        let r: Vec<f32> = self
            .model
            .reward(s, a, self.z.clone())
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32");
        self.last_ms = t0.elapsed().as_secs_f64() * 1e3;
        if let Some(i) = r.iter().position(|v| !v.is_finite()) {
            return Err(RewardError::Invalid(format!(
                "r_fb is not finite at step {i}: the FB checkpoint is broken"
            )));
        }
        Ok(r.into_iter().map(f64::from).collect())
    }
}

/// `r_fb` behind a trait object, so a caller can pick the backend at run time.
pub trait StepTerm: Send {
    /// The term's name in `steps.jsonl` (`r_fb`).
    fn name(&self) -> &'static str;
    /// The term for `n` steps (flat states and actions, see [`FbReward::score`]).
    fn score(&mut self, states: &[f32], actions: &[f32]) -> Result<Vec<f64>, RewardError>;
    /// Aims at another goal frame (at the VAE's size).
    fn set_goal(&mut self, goal_frame: &[u8]) -> Result<(), RewardError>;
    /// What F reads as the state: pass [`score`](Self::score) observations, or the
    /// [`frame_states`](Self::frame_states) of the step's camera frames.
    fn state_kind(&self) -> StateKind;
    /// F's states of camera frames (`w x h`, any size), for [`StateKind::Frame`].
    fn frame_states(&self, frames: &[&[u8]], w: u32, h: u32) -> Result<Vec<f32>, RewardError>;
    /// Milliseconds of the last call.
    fn last_ms(&self) -> f64;
    /// The goal features B reads, as the checkpoint's `meta.json` names them (kind, weights,
    /// fingerprint); `null` for a term without an encoder.
    fn goal_features(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

impl<B: Backend> StepTerm for FbReward<B>
where
    FbReward<B>: Send,
{
    fn name(&self) -> &'static str {
        "r_fb"
    }
    fn score(&mut self, states: &[f32], actions: &[f32]) -> Result<Vec<f64>, RewardError> {
        FbReward::score(self, states, actions)
    }
    fn set_goal(&mut self, goal_frame: &[u8]) -> Result<(), RewardError> {
        FbReward::set_goal(self, goal_frame)
    }
    fn state_kind(&self) -> StateKind {
        self.state
    }
    fn frame_states(&self, frames: &[&[u8]], w: u32, h: u32) -> Result<Vec<f32>, RewardError> {
        FbReward::frame_states(self, frames, w, h)
    }
    fn last_ms(&self) -> f64 {
        self.last_ms
    }
    fn goal_features(&self) -> serde_json::Value {
        self.encoder.meta()
    }
}

/// Loads the FB checkpoint in `fb` and the goal-feature encoder it was trained with, checked
/// against the weights at hand: the VAE in `vae`, and for DINO features `dino` (or the folder
/// the checkpoint recorded).
pub fn load_fb<B: Backend>(
    fb: &Path,
    vae: &Path,
    dino: Option<&Path>,
    device: &B::Device,
) -> Result<(FbCheckpoint<B>, GoalEncoder<B>), RewardError> {
    let ck = FbCheckpoint::<B>::load(fb, None, device)?;
    let encoder = GoalEncoder::from_meta(&ck.meta, fb, vae, dino, device)?;
    Ok((ck, encoder))
}

/// `r_fb` toward `goal_frame` (a frame at the VAE's size) on the backend `device` names; `dino`
/// overrides where the DINO weights of a DINO-feature checkpoint are.
pub fn fb_term(
    fb: &Path,
    vae: &Path,
    dino: Option<&Path>,
    goal_frame: &[u8],
    device: DeviceKind,
) -> Result<Box<dyn StepTerm>, RewardError> {
    fn build<B: Backend>(
        fb: &Path,
        vae: &Path,
        dino: Option<&Path>,
        frame: &[u8],
        device: B::Device,
    ) -> Result<FbReward<B>, RewardError>
    where
        FbReward<B>: Send,
    {
        let (ck, encoder) = load_fb::<B>(fb, vae, dino, &device)?;
        let state: StateKind = ck.meta["state"].as_str().unwrap_or("obs39").parse()?;
        FbReward::new(ck.model, &ck.config, state, encoder, frame, device)
    }
    Ok(match device {
        DeviceKind::Cpu => Box::new(build::<Cpu>(fb, vae, dino, goal_frame, Default::default())?),
        DeviceKind::Wgpu => Box::new(build::<Gpu>(fb, vae, dino, goal_frame, gpu_device())?),
    })
}
