//! The FB representation on dataset episodes: [`train_fb`].
//!
//! Data: the episodes of `genreward_episodes::write_dataset` (frames, 39-d observations,
//! actions). F reads the state ([`TrainFbConfig::state`]: the observation, or the goal features
//! of the current frame; standardised with the training data's mean and std) and the action; B
//! reads the goal features of the next frame: a DINO tower's CLS feature with
//! [`TrainFbConfig::dino`] (the paper's choice), else the video VAE's per-frame latent mean
//! (4 x 8 x 8 = 256 values), the fallback that works with nothing downloaded.

use crate::error::{bail, During};
use crate::json::nan_if_null;
use crate::train_loop::TrainLoop;
use crate::Result;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use genreward_episodes::{load_trajectories, Trajectory};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::fb::{evaluate, FbBatch, FbConfig, FbModel, FbStats, FbTrainer};
use genreward_models::DeviceKind;
use genreward_reward::features::{GoalEncoder, StateKind};
use genreward_sim::{ACT_DIM, OBS_DIM};
use genreward_stats::median;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// What [`train_fb`] trains, on what, and where it writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainFbConfig {
    /// Dataset folders (searched recursively for obs_/state_/action_<seed>.npy).
    pub data: Vec<PathBuf>,
    /// Validation folders (empty: a `val` folder beside the first data folder, if any).
    pub val: Vec<PathBuf>,
    /// Output folder: config.json, model.mpk, target.mpk, optimizer.mpk, meta.json,
    /// metrics.jsonl.
    pub out: PathBuf,
    /// The video VAE whose per-frame latents are B's goal features (`None`: the shipped one);
    /// with `dino`, only its frame size is used (frames are read at it).
    pub vae: Option<PathBuf>,
    /// DINO weights: B's goal features are the tower's CLS feature, as in the paper.
    pub dino: Option<PathBuf>,
    /// The side frames are resized to for DINO (`None`: the tower's image size).
    pub dino_size: Option<usize>,
    /// Optimiser steps in all (when resuming: counting the steps already done).
    pub steps: usize,
    /// Freeze the representation after N optimiser steps: no step past N is taken, now or by a
    /// later resumption, and the checkpoint records it.
    pub freeze_after: Option<usize>,
    /// Stop after this many minutes even if `steps` is not reached.
    pub minutes: Option<f64>,
    /// Transitions per batch (at least 2).
    pub batch: usize,
    pub lr: f64,
    /// Dimension d of the representation.
    pub z_dim: usize,
    pub hidden: usize,
    pub gamma: f64,
    pub ortho_coef: f64,
    pub tau: f64,
    pub seed: u64,
    /// Save the checkpoint and measure the validation loss every N steps.
    pub checkpoint_every: usize,
    /// Continue the run saved in `out`.
    pub resume: bool,
    pub device: DeviceKind,
    /// What F reads as the state: the observation or the current frame's goal features.
    pub state: StateKind,
    /// The command line that asked for the run, recorded in `meta.json`.
    #[serde(default)]
    pub command: Vec<String>,
}

impl TrainFbConfig {
    /// Checks the numbers and the state.
    pub fn validate(&self) -> Result<()> {
        FbInput::of(self.state)?;
        for (name, v) in [
            ("learning rate", self.lr),
            ("discount", self.gamma),
            ("target rate", self.tau),
            ("orthonormality weight", self.ortho_coef),
        ] {
            if !v.is_finite() || v < 0.0 {
                bail!("the {name} must be a non-negative number (got {v})");
            }
        }
        if self.gamma >= 1.0 || self.tau > 1.0 {
            bail!("the discount must be below 1 and the target rate at most 1");
        }
        if self.batch < 2 || self.z_dim == 0 || self.hidden == 0 || self.checkpoint_every == 0 {
            bail!("the batch must be at least 2 transitions, and the representation's dimension, the hidden width and the checkpoint interval at least 1");
        }
        if self.data.is_empty() {
            bail!("no training data given");
        }
        Ok(())
    }

    /// The validation folders: the ones given, else a `val` folder beside the first data one.
    fn val_dirs(&self) -> Vec<PathBuf> {
        if !self.val.is_empty() {
            return self.val.clone();
        }
        match self
            .data
            .first()
            .and_then(|d| d.parent().map(|p| p.join("val")))
        {
            Some(v) if v.is_dir() && v != self.data[0] => vec![v],
            _ => Vec::new(),
        }
    }
}

/// What F reads in a dataset-trained FB (a [`StateKind`] the episodes can give).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FbInput {
    Obs39,
    Frame,
}

impl FbInput {
    fn of(state: StateKind) -> Result<FbInput> {
        match state {
            StateKind::Obs39 => Ok(FbInput::Obs39),
            StateKind::Frame => Ok(FbInput::Frame),
            StateKind::Model => bail!(
                "dataset episodes hold no agent's model state: an FB on DreamerV3's model state trains online beside the agent (crate::dreamer)"
            ),
        }
    }
}

/// The validation figures of an FB run: the losses on held-out transitions without an update,
/// and how near identity `E[B B^T]` is (per batch, and over every validation frame).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FbValidation {
    pub step: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_cov_diag_max_dev: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_cov_offdiag_mean_abs: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_fb_diag: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_fb_offdiag: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_full_cov_diag_max_dev: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_full_cov_offdiag_mean_abs: f64,
    pub val_full_frames: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_ortho: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_q_abs: f64,
}

/// What [`train_fb`] did (the last line `train fb` prints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FbReport {
    pub device: DeviceKind,
    pub out: String,
    /// Steps done in all (a resumed run's included).
    pub steps: usize,
    /// Median over the last 50 steps.
    pub steps_per_sec: f64,
    pub train_seconds: f64,
    /// The last validation (`None` without validation data).
    pub validation: Option<FbValidation>,
}

/// An FB checkpoint's `meta.json` as [`train_fb`] writes it (and the fields it reads back when
/// resuming). Every field has a default, so the shipped `assets/models/fb` and online FB
/// checkpoints read too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FbMeta {
    pub step: usize,
    pub train_seconds: f64,
    pub command: Vec<String>,
    pub data: Vec<String>,
    pub train_episodes: usize,
    pub train_transitions: usize,
    pub val_episodes: usize,
    /// What F reads (`obs39`, `frame`, `dreamer`).
    pub state: String,
    /// What B reads: `genreward_reward::features::GoalEncoder::meta`.
    pub goal_features: serde_json::Value,
    pub batch: usize,
    pub lr: f64,
    pub device: String,
    pub freeze_after: Option<usize>,
    pub frozen: bool,
    pub validation: Option<FbValidation>,
    pub genreward_version: String,
}

impl FbMeta {
    /// `dir/meta.json`: `None` when there is none; an error when it does not parse.
    pub fn read(dir: &Path) -> Result<Option<FbMeta>> {
        let path = dir.join(genreward_models::checkpoint::META_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(&text).map_err(|e| {
            crate::TrainError::Invalid(format!(
                "{} is not an FB checkpoint's meta: {e}",
                path.display()
            ))
        })?))
    }

    /// What identifies the goal features: kind, the weights' fingerprints and DINO's side.
    fn features_key(&self) -> [serde_json::Value; 4] {
        let f = &self.goal_features;
        ["kind", "vae_fingerprint", "dino_fingerprint", "size"].map(|k| f[k].clone())
    }
}

/// Episodes as the FB trainer samples them: states, actions, and goal features per frame.
struct FbData {
    /// Per episode, `T * state_dim` values: observations, or the frames' goal features.
    states: Vec<Vec<f32>>,
    state_dim: usize,
    actions: Vec<Vec<[f32; ACT_DIM]>>,
    /// Per episode, `T * goal_dim` values.
    features: Vec<Vec<f32>>,
    goal_dim: usize,
}

impl FbData {
    /// Transitions `(episode, t)` with a next step to learn from.
    fn transitions(&self) -> usize {
        self.actions.iter().map(|s| s.len().saturating_sub(1)).sum()
    }

    fn state(&self, e: usize, t: usize) -> &[f32] {
        &self.states[e][t * self.state_dim..(t + 1) * self.state_dim]
    }

    fn feature(&self, e: usize, t: usize) -> &[f32] {
        &self.features[e][t * self.goal_dim..(t + 1) * self.goal_dim]
    }

    fn new(input: FbInput, goal_dim: usize) -> FbData {
        FbData {
            states: Vec::new(),
            state_dim: match input {
                FbInput::Obs39 => OBS_DIM,
                FbInput::Frame => goal_dim,
            },
            actions: Vec::new(),
            features: Vec::new(),
            goal_dim,
        }
    }

    /// Adds an episode with the goal features `feats` of its frames.
    fn push(&mut self, ep: Trajectory, feats: Vec<f32>, input: FbInput) {
        self.states.push(match input {
            FbInput::Obs39 => ep.states.iter().flatten().copied().collect(),
            FbInput::Frame => feats.clone(),
        });
        self.features.push(feats);
        self.actions.push(ep.actions);
    }

    /// A batch of `n` transitions drawn uniformly (episodes of any length).
    fn batch<B: burn::tensor::backend::Backend>(
        &self,
        n: usize,
        rng: &mut ChaCha8Rng,
        device: &B::Device,
    ) -> FbBatch<B> {
        let (g, sd) = (self.goal_dim, self.state_dim);
        let (mut s, mut a, mut s2, mut a2) = (
            Vec::with_capacity(n * sd),
            Vec::with_capacity(n * ACT_DIM),
            Vec::with_capacity(n * sd),
            Vec::with_capacity(n * ACT_DIM),
        );
        let (mut next_goal, mut goal) = (Vec::with_capacity(n * g), Vec::with_capacity(n * g));
        let pick = |rng: &mut ChaCha8Rng| loop {
            let e = rng.random_range(0..self.actions.len());
            let len = self.actions[e].len();
            if len >= 2 {
                return (e, rng.random_range(0..len - 1));
            }
        };
        for _ in 0..n {
            let (e, t) = pick(rng);
            s.extend_from_slice(self.state(e, t));
            a.extend_from_slice(&self.actions[e][t]);
            s2.extend_from_slice(self.state(e, t + 1));
            a2.extend_from_slice(&self.actions[e][t + 1]);
            next_goal.extend_from_slice(self.feature(e, t + 1));
            let (e, t) = pick(rng);
            goal.extend_from_slice(self.feature(e, t + 1));
        }
        let t =
            |v: Vec<f32>, d: usize| Tensor::<B, 2>::from_data(TensorData::new(v, [n, d]), device);
        FbBatch {
            state: t(s, sd),
            action: t(a, ACT_DIM),
            next_state: t(s2, sd),
            next_action: t(a2, ACT_DIM),
            next_goal: t(next_goal, g),
            goal: t(goal, g),
        }
    }
}

/// Per-dimension mean and standard deviation of rows.
fn mean_std<'a>(rows: impl Iterator<Item = &'a [f32]>, dim: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut sum, mut sq, mut n) = (vec![0f64; dim], vec![0f64; dim], 0usize);
    for r in rows {
        for (k, &v) in r.iter().enumerate() {
            sum[k] += v as f64;
            sq[k] += (v as f64) * (v as f64);
        }
        n += 1;
    }
    let n = n.max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&sum)
        .map(|(q, s)| ((q / n - (s / n).powi(2)).max(0.0)).sqrt() as f32)
        .collect();
    (mean, std)
}

/// Validation figures, averaged over 8 fixed batches of held-out transitions: the FB losses
/// without an update ([`evaluate`]) and how near identity `E[B B^T]` is.
fn validate<B: burn::tensor::backend::Backend>(
    model: &FbModel<B>,
    config: &FbConfig,
    val: &FbData,
    device: &B::Device,
    step: usize,
) -> FbValidation {
    let mut rng = ChaCha8Rng::seed_from_u64(12345);
    let runs: Vec<_> = (0..8)
        .map(|_| evaluate(model, config, val.batch::<B>(256, &mut rng, device)))
        .collect();
    type Run = (FbStats, (f64, f64));
    let mean = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
    let (full_diag, full_off, frames) = full_covariance(model, val, device);
    FbValidation {
        step,
        val_cov_diag_max_dev: mean(&|r| r.1 .0),
        val_cov_offdiag_mean_abs: mean(&|r| r.1 .1),
        val_fb_diag: mean(&|r| r.0.fb_diag),
        val_fb_offdiag: mean(&|r| r.0.fb_offdiag),
        val_full_cov_diag_max_dev: full_diag,
        val_full_cov_offdiag_mean_abs: full_off,
        val_full_frames: frames,
        val_loss: mean(&|r| r.0.loss),
        val_ortho: mean(&|r| r.0.ortho),
        val_q_abs: mean(&|r| r.0.q_abs),
    }
}

/// `E[B B^T]` over every validation frame (not a batch's estimate, whose sampling noise alone
/// puts off-diagonal entries near 1/sqrt(batch)): its largest diagonal deviation from 1 and mean
/// |off-diagonal|, and the number of frames.
fn full_covariance<B: burn::tensor::backend::Backend>(
    model: &FbModel<B>,
    val: &FbData,
    device: &B::Device,
) -> (f64, f64, usize) {
    let dim = val.goal_dim;
    let mut sum: Option<burn::tensor::Tensor<B, 2>> = None;
    let mut n = 0;
    for feats in &val.features {
        for chunk in feats.chunks(2048 * dim) {
            let rows = chunk.len() / dim;
            let g = burn::tensor::Tensor::<B, 2>::from_data(
                burn::tensor::TensorData::new(chunk.to_vec(), [rows, dim]),
                device,
            );
            let b = model.backward_map(g);
            let c = b.clone().transpose().matmul(b);
            sum = Some(match sum {
                Some(s) => s + c,
                None => c,
            });
            n += rows;
        }
    }
    match sum {
        Some(c) => {
            let (d, o) = genreward_models::fb::covariance_figures(c / n as f64);
            (d, o, n)
        }
        None => (f64::NAN, f64::NAN, 0),
    }
}

/// Goal features of every frame of every episode (ticking `bar` per episode).
fn featurize<B: burn::tensor::backend::Backend>(
    eps: Vec<Trajectory>,
    encoder: &GoalEncoder<B>,
    input: FbInput,
    bar: &ProgressBar,
) -> Result<FbData> {
    let mut data = FbData::new(input, encoder.dim());
    for ep in eps {
        let refs: Vec<&[u8]> = ep.frames.iter().map(Vec::as_slice).collect();
        let feats = encoder.features(&refs)?;
        bar.inc(1);
        data.push(ep, feats, input);
    }
    Ok(data)
}

/// The key goal features are cached under (DINO features only: they are slow on a CPU).
#[derive(Serialize, Deserialize, PartialEq)]
struct CacheKey {
    key: serde_json::Value,
    episode_lengths: Vec<usize>,
}

/// [`featurize`], with the features kept in `out/features_<name>.npy` (and what they are of in
/// `features_<name>.json`) when `key` is given, and read back from there when the key and the
/// episodes' lengths match.
#[allow(clippy::too_many_arguments)]
fn cached_featurize<B: burn::tensor::backend::Backend>(
    out: &Path,
    name: &str,
    key: Option<&serde_json::Value>,
    eps: Vec<Trajectory>,
    encoder: &GoalEncoder<B>,
    input: FbInput,
    bar: &ProgressBar,
) -> Result<FbData> {
    let Some(key) = key else {
        return featurize(eps, encoder, input, bar);
    };
    let (npy, json) = (
        out.join(format!("features_{name}.npy")),
        out.join(format!("features_{name}.json")),
    );
    let lens: Vec<usize> = eps.iter().map(|e| e.frames.len()).collect();
    let want = CacheKey {
        key: key.clone(),
        episode_lengths: lens.clone(),
    };
    let saved: Option<CacheKey> = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let dim = encoder.dim();
    if saved.as_ref() == Some(&want) {
        if let Ok((shape, values)) = genreward_record::read_npy_f32(&npy) {
            let frames: usize = lens.iter().sum();
            if shape == [frames, dim] {
                tracing::info!("goal features of {name} read from {}", npy.display());
                bar.inc(eps.len() as u64);
                let mut data = FbData::new(input, dim);
                let mut at = 0;
                for ep in eps {
                    let n = ep.frames.len() * dim;
                    let feats = values[at..at + n].to_vec();
                    at += n;
                    data.push(ep, feats, input);
                }
                return Ok(data);
            }
        }
    }
    let data = featurize(eps, encoder, input, bar)?;
    std::fs::create_dir_all(out).during(|| format!("cannot create {}", out.display()))?;
    let all: Vec<f32> = data.features.iter().flatten().copied().collect();
    genreward_record::write_npy_f32(&npy, &[all.len() / dim.max(1), dim], &all)?;
    std::fs::write(&json, serde_json::to_string(&want)?)
        .during(|| format!("cannot write {}", json.display()))?;
    Ok(data)
}

/// Trains (or, when resuming, goes on training) an FB representation on dataset episodes:
/// checkpoints every `checkpoint_every` steps and at the end, with validation figures. `bar`
/// shows the episodes featurised, then the steps; `stop`, once set, ends the run after the
/// step in hand (saved).
pub fn train_fb(cfg: &TrainFbConfig, bar: &ProgressBar, stop: Arc<AtomicBool>) -> Result<FbReport> {
    cfg.validate()?;
    let vae = cfg
        .vae
        .clone()
        .unwrap_or_else(genreward_reward::default_vae_dir);
    let size = genreward_reward::load::vae_frame_size(&vae)?;
    let val_dirs = cfg.val_dirs();
    let train = load_trajectories(&cfg.data, size)?;
    let val = if val_dirs.is_empty() {
        Vec::new()
    } else {
        load_trajectories(&val_dirs, size)?
    };
    tracing::info!(
        "training on {} episodes ({} steps), validating on {}",
        train.len(),
        train.iter().map(|t| t.states.len()).sum::<usize>(),
        val.len()
    );
    run_on(
        cfg.device,
        FbJob {
            cfg,
            val_dirs,
            vae,
            train,
            val,
            bar,
            stop,
        },
    )
}

struct FbJob<'a> {
    cfg: &'a TrainFbConfig,
    /// The validation folders in use.
    val_dirs: Vec<PathBuf>,
    vae: PathBuf,
    train: Vec<Trajectory>,
    val: Vec<Trajectory>,
    bar: &'a ProgressBar,
    stop: Arc<AtomicBool>,
}

/// The featurised data and what the run knows before training.
struct Prepared {
    train: FbData,
    val: FbData,
    features_meta: serde_json::Value,
    saved: Option<FbMeta>,
}

/// One metrics line every 50 steps.
#[derive(Serialize)]
struct StepLine {
    #[serde(flatten)]
    stats: FbStats,
    step: usize,
    steps_per_sec: f64,
    elapsed_s: f64,
}

impl FbJob<'_> {
    /// The goal encoder, the check that a resumed run reads the same goal features, and every
    /// episode's features.
    fn prepare<B: AutodiffBackend>(self_: &mut Self, device: &B::Device) -> Result<Prepared> {
        let c = self_.cfg;
        let input = FbInput::of(c.state)?;
        let t0 = Instant::now();
        let encoder = match &c.dino {
            Some(dir) => GoalEncoder::<B::InnerBackend>::dino(
                dir,
                c.dino_size,
                genreward_reward::load::vae_frame_size(&self_.vae)?,
                device,
            )?,
            None => GoalEncoder::<B::InnerBackend>::vae(&self_.vae, device.clone())?,
        };
        let features_meta = encoder.meta();
        let saved = if c.resume {
            FbMeta::read(&c.out)?
        } else {
            None
        };
        if let Some(saved) = &saved {
            let now = FbMeta {
                goal_features: features_meta.clone(),
                ..FbMeta::default()
            };
            if saved.features_key() != now.features_key() {
                bail!(
                    "the FB run in {} was trained on other goal features ({}); resume it with the same VAE, DINO weights and DINO size",
                    c.out.display(),
                    saved.goal_features
                );
            }
        }
        let bar = self_.bar;
        bar.set_length((self_.train.len() + self_.val.len()) as u64);
        bar.set_position(0);
        bar.set_message(format!("{} goal features (episodes)", encoder.kind()));
        // DINO features are slow on a CPU (hours for a ViT-S at 224 on the full dataset): they
        // are kept in `out` and reused by a resumption or a rerun with the same data and weights.
        let cache = (encoder.kind() == genreward_reward::features::FEATURES_DINO).then(|| {
            serde_json::json!({"goal_features": features_meta.clone(), "data": c.data, "val": self_.val_dirs})
        });
        let train_eps = std::mem::take(&mut self_.train);
        let val_eps = std::mem::take(&mut self_.val);
        let train = cached_featurize(
            &c.out,
            "train",
            cache.as_ref(),
            train_eps,
            &encoder,
            input,
            bar,
        )?;
        let val = cached_featurize(&c.out, "val", cache.as_ref(), val_eps, &encoder, input, bar)?;
        tracing::info!(
            "{} goal features ({}-d) of {} frames in {:.0} s",
            encoder.kind(),
            train.goal_dim,
            train
                .features
                .iter()
                .chain(&val.features)
                .map(Vec::len)
                .sum::<usize>()
                / train.goal_dim.max(1),
            t0.elapsed().as_secs_f64()
        );
        Ok(Prepared {
            train,
            val,
            features_meta,
            saved,
        })
    }

    /// The trainer: the saved one when resuming (checked against the data), else a fresh
    /// model standardised on the training data.
    fn trainer<B: AutodiffBackend>(
        &self,
        train: &FbData,
        device: &B::Device,
    ) -> Result<FbTrainer<B>> {
        let c = self.cfg;
        if c.resume {
            let t = FbTrainer::<B>::resume(&c.out, c.lr, device)?;
            if t.config.goal_dim != train.goal_dim || t.config.state_dim != train.state_dim {
                bail!(
                    "the FB run in {} reads {} goal features and a {}-d state; with state {} the encoder gives {} and {}",
                    c.out.display(),
                    t.config.goal_dim,
                    t.config.state_dim,
                    c.state.name(),
                    train.goal_dim,
                    train.state_dim
                );
            }
            return Ok(t);
        }
        let config = FbConfig::new(train.state_dim, ACT_DIM, train.goal_dim)
            .with_z_dim(c.z_dim)
            .with_hidden(c.hidden)
            .with_gamma(c.gamma)
            .with_ortho_coef(c.ortho_coef)
            .with_tau(c.tau);
        let mut model = config.init::<B>(device);
        let s = mean_std(
            train
                .states
                .iter()
                .flat_map(|f| f.chunks_exact(train.state_dim)),
            train.state_dim,
        );
        let g = mean_std(
            train
                .features
                .iter()
                .flat_map(|f| f.chunks_exact(train.goal_dim)),
            train.goal_dim,
        );
        model.set_normalization((&s.0, &s.1), (&g.0, &g.1), device);
        Ok(FbTrainer::new(model, config, c.lr))
    }

    fn meta(
        &self,
        p: &Prepared,
        lp: &TrainLoop,
        freeze_after: Option<usize>,
        validation: Option<FbValidation>,
    ) -> FbMeta {
        let c = self.cfg;
        FbMeta {
            step: lp.step,
            train_seconds: lp.elapsed(),
            command: c.command.clone(),
            data: c.data.iter().map(|d| d.display().to_string()).collect(),
            train_episodes: p.train.states.len(),
            train_transitions: p.train.transitions(),
            val_episodes: p.val.states.len(),
            state: c.state.name().to_string(),
            goal_features: p.features_meta.clone(),
            batch: c.batch,
            lr: c.lr,
            device: c.device.to_string(),
            freeze_after,
            frozen: freeze_after.is_some_and(|f| lp.step >= f),
            validation,
            genreward_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl BackendJob for FbJob<'_> {
    type Output = Result<FbReport>;
    fn run<B: AutodiffBackend>(mut self, device: B::Device) -> Self::Output {
        let c = self.cfg;
        B::seed(&device, c.seed);
        let p = FbJob::prepare::<B>(&mut self, &device)?;
        // A frozen run stays frozen: the saved limit holds unless a lower one is given.
        let saved_freeze = p.saved.as_ref().and_then(|m| m.freeze_after);
        let freeze_after = match (c.freeze_after, saved_freeze) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        let steps = freeze_after.map_or(c.steps, |f| c.steps.min(f));
        let mut lp = TrainLoop::open(
            &c.out,
            steps,
            c.minutes,
            c.resume,
            self.bar,
            self.stop.clone(),
        )?;
        if let Some(f) = freeze_after.filter(|f| lp.step >= *f) {
            tracing::warn!(
                "the FB representation in {} is frozen at step {} (freeze after {f}): not trained further",
                c.out.display(),
                lp.step
            );
        }
        let mut trainer = self.trainer::<B>(&p.train, &device)?;
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed.wrapping_add(lp.step as u64));
        if lp.step == 0 {
            // The untrained model's figures, to read the trained ones against.
            validate_logged(&trainer, &p.val, &device, &mut lp)?;
        }
        let mut window = Vec::new();
        let mut ema_loss = f64::NAN;
        let mut last_saved = None;
        while !lp.done() {
            let t = Instant::now();
            let batch = p.train.batch::<B>(c.batch, &mut rng, &device);
            let s = trainer.step(batch);
            window.push(1.0 / t.elapsed().as_secs_f64());
            if window.len() > 50 {
                window.remove(0);
            }
            ema_loss = if ema_loss.is_finite() {
                0.98 * ema_loss + 0.02 * s.loss
            } else {
                s.loss
            };
            lp.advance(format!(
                "loss {ema_loss:.3}  |F.z| {:.2}  {:.0} steps/s",
                s.q_abs,
                median(&window)
            ));
            if !s.loss.is_finite() {
                bail!(
                    "the FB loss became {} at step {}; lower the learning rate",
                    s.loss,
                    lp.step
                );
            }
            if lp.step % 50 == 0 || lp.step == 1 {
                lp.log(&StepLine {
                    stats: s,
                    step: lp.step,
                    steps_per_sec: median(&window),
                    elapsed_s: lp.elapsed(),
                })?;
            }
            if lp.step % c.checkpoint_every == 0 {
                let v = validate_logged(&trainer, &p.val, &device, &mut lp)?;
                let meta = serde_json::to_value(self.meta(&p, &lp, freeze_after, v.clone()))?;
                trainer.save(&c.out, &meta)?;
                last_saved = Some((lp.step, v));
            }
        }
        lp.finish();
        // The last checkpoint is written again unless the loop just wrote it.
        let validation = match last_saved {
            Some((step, v)) if step == lp.step => v,
            _ => {
                let v = validate_logged(&trainer, &p.val, &device, &mut lp)?;
                let meta = serde_json::to_value(self.meta(&p, &lp, freeze_after, v.clone()))?;
                trainer.save(&c.out, &meta)?;
                v
            }
        };
        Ok(FbReport {
            device: c.device,
            out: c.out.display().to_string(),
            steps: lp.step,
            steps_per_sec: median(&window),
            train_seconds: lp.elapsed(),
            validation,
        })
    }
}

/// Validation on the held-out episodes (or nothing without them), logged to the metrics file.
fn validate_logged<B: AutodiffBackend>(
    trainer: &FbTrainer<B>,
    val: &FbData,
    device: &B::Device,
    lp: &mut TrainLoop,
) -> Result<Option<FbValidation>> {
    if val.states.is_empty() {
        return Ok(None);
    }
    let v = validate(
        &trainer.model.valid(),
        &trainer.config,
        val,
        device,
        lp.step,
    );
    lp.log(&v)?;
    Ok(Some(v))
}
