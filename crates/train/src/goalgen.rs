//! The goal-video generator: [`train_goalgen`] on the data of
//! `genreward_episodes::write_goal_data` (each training seed's expert goal video as a VAE latent,
//! beside its first frame).
//!
//! Every `checkpoint_every` steps it measures, on the validation seeds: the flow-matching loss at
//! fixed times and noise (comparable between runs), and the latent error of samples drawn with 1
//! step and with the sampler's default steps against the expert's latent (frames 1 and after).
//! At the end it writes `samples.mp4`: for one validation seed per task, the expert's goal video
//! (decoded from its latent) above the generated one.

use crate::error::{bail, During};
use crate::json::finite;
use crate::train_loop::TrainLoop;
use crate::vae::write_side_by_side;
use crate::Result;
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use genreward_episodes::{GoalDataInfo, GoalSplit};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::clip::{normalize as clip_normalize, ClipModel};
use genreward_models::goalgen::{seeded_normal, GoalGen, GoalGenConfig, GoalGenTrainer};
use genreward_models::DeviceKind;
use genreward_reward::features::vae_fingerprint;
use genreward_reward::generate::task_index;
use genreward_reward::GoalGenerator;
use genreward_sim::TaskKind;
use genreward_stats::median;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// What [`train_goalgen`] trains, on what, and where it writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainGoalGenConfig {
    /// A folder written by `write_goal_data` (goal_data.json, train/, val/).
    pub data: PathBuf,
    /// Output folder: config.json, model.mpk, optimizer.mpk, meta.json, metrics.jsonl,
    /// samples.mp4.
    pub out: PathBuf,
    /// The VAE the data was encoded with (`None`: the one goal_data.json names, else the
    /// shipped one); its fingerprint must match the data's.
    pub vae: Option<PathBuf>,
    /// Optimiser steps in all (when resuming: counting the steps already done).
    pub steps: usize,
    /// Stop after this many minutes even if `steps` is not reached.
    pub minutes: Option<f64>,
    /// Videos per batch.
    pub batch: usize,
    pub lr: f64,
    /// Steps of linear learning-rate warm-up.
    pub warmup: usize,
    /// The learning rate falls linearly to 0 over the last this many of `steps` (0: constant).
    #[serde(default)]
    pub decay: usize,
    pub seed: u64,
    /// Save the checkpoint and validate every N steps.
    pub checkpoint_every: usize,
    /// Continue the run saved in `out` (its model config wins over the one here).
    pub resume: bool,
    pub device: DeviceKind,
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    /// The first latent's global paths (`GoalGenConfig::scene`); resuming a checkpoint without
    /// them adds them.
    #[serde(default)]
    pub scene: bool,
    /// CLIP weights whose text tower reads each task's sentence (`TaskKind::goal_text`) into the
    /// conditioning (`GoalGenConfig::text_dim`); resuming a checkpoint without the text path
    /// adds it, and one made with other CLIP weights is refused.
    #[serde(default)]
    pub clip: Option<PathBuf>,
    /// Euler steps and guidance weight of the validation samples and `samples.mp4`.
    pub sample_steps: usize,
    pub guidance: f64,
    /// Validation videos per task measured at each checkpoint (all: 0).
    pub val_per_task: usize,
    /// The command line that asked for the run, recorded in `meta.json`.
    #[serde(default)]
    pub command: Vec<String>,
}

impl TrainGoalGenConfig {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 || self.batch == 0 || self.checkpoint_every == 0 {
            bail!("the steps, batch and checkpoint interval must be at least 1");
        }
        if self.sample_steps == 0 {
            bail!("the sampler needs at least 1 step");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!(
                "the learning rate must be a positive number (got {})",
                self.lr
            );
        }
        if !self.guidance.is_finite() {
            bail!(
                "the guidance weight must be a number (got {})",
                self.guidance
            );
        }
        self.model_config()
            .check()
            .map_err(crate::TrainError::Invalid)
    }

    fn model_config(&self) -> GoalGenConfig {
        GoalGenConfig::new()
            .with_width(self.width)
            .with_depth(self.depth)
            .with_heads(self.heads)
            .with_tasks(TaskKind::ALL.len())
            .with_scene(Some(self.scene))
    }
}

/// What [`train_goalgen`] did (the last line `train goalgen` prints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoalGenReport {
    pub device: DeviceKind,
    pub out: String,
    /// Steps done in all (a resumed run's included).
    pub steps: usize,
    pub train_seconds: f64,
    /// Median over the last 20 steps.
    pub videos_per_sec: f64,
    pub train_videos: usize,
    pub val_videos: usize,
    /// The last validation figures (`None` when not finite).
    pub val_loss: Option<f64>,
    pub val_mse_1step: Option<f64>,
    pub val_mse: Option<f64>,
    pub params: usize,
}

/// A generator checkpoint's `meta.json` as [`train_goalgen`] writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GoalGenMeta {
    pub step: usize,
    pub train_seconds: f64,
    pub val_loss: Option<f64>,
    pub val_mse_1step: Option<f64>,
    pub val_mse: Option<f64>,
    pub command: Vec<String>,
    pub data: String,
    pub train_videos: usize,
    pub val_videos: usize,
    /// The task embedding's rows, in order (the null task follows).
    pub tasks: Vec<String>,
    /// Goal videos were this many frames (the 16 sampled from them) at this camera.
    pub length: usize,
    pub camera: Option<genreward_render::ViewSpec>,
    pub vae: String,
    pub vae_fingerprint: String,
    /// The sampler of the validation figures and samples.mp4.
    pub sample_steps: usize,
    pub guidance: f64,
    pub batch: usize,
    pub lr: f64,
    pub device: String,
    pub params: usize,
    pub genreward_version: String,
    /// The CLIP weights whose text tower embedded `sentences` (the text path), if any.
    pub clip: Option<String>,
    /// The task sentences the text path reads, in the order of `tasks` (empty without it).
    pub sentences: Vec<String>,
}

#[derive(Serialize)]
struct TrainLine {
    step: usize,
    loss: f64,
    lr: f64,
    videos_per_sec: f64,
    elapsed_s: f64,
}

#[derive(Serialize)]
struct ValLine {
    step: usize,
    val_loss: f64,
    val_mse_1step: f64,
    val_mse: f64,
}

/// Validation figures.
#[derive(Clone, Copy)]
struct Val {
    loss: f64,
    mse1: f64,
    mse: f64,
}

const NO_VAL: Val = Val {
    loss: f64::NAN,
    mse1: f64::NAN,
    mse: f64::NAN,
};

/// Largest difference, per number, between a checkpoint's task-sentence embeddings and the ones
/// the given CLIP weights make, above which they are other weights (f32 rounding stays far
/// below).
const SENTENCE_TOLERANCE: f32 = 1e-4;

/// The task sentences (`TaskKind::goal_text`, in `TaskKind::ALL`'s order).
pub fn task_sentences() -> Vec<&'static str> {
    TaskKind::ALL.iter().map(|t| t.goal_text()).collect()
}

/// The task sentences through the text tower of the CLIP weights in `dir`, each of unit length:
/// `[tasks, embed_dim]`, as [`GoalGen::set_sentences`] takes them.
pub fn clip_sentences<B: Backend>(
    dir: &std::path::Path,
    device: &B::Device,
) -> Result<Tensor<B, 2>> {
    let clip = ClipModel::<B>::load(dir, device).map_err(|e| {
        crate::TrainError::Invalid(format!(
            "cannot read the CLIP weights in {}: {e}",
            dir.display()
        ))
    })?;
    Ok(clip_normalize(clip.encode_text(&task_sentences())))
}

/// Ridge weight of the scene prior's least-squares fit (on unit-scale latents; measured on the
/// validation seeds with numpy: 0.1 scores 0.089, 1 scores 0.100, 10 scores 0.114).
pub const SCENE_PRIOR_RIDGE: f64 = 0.1;

/// The scene prior fitted in closed form on `split`: ridge regression from a video's flattened
/// first latent to its flattened latent, each centred on its task's mean, so the prior is the
/// video's *deviation* from its task's mean that the scene predicts (the transformer supplies
/// the mean; a model resumed without the prior already does). Returns the weight `[C*H*W,
/// C*T*H*W]` and the per-task bias `[tasks + 1, C*T*H*W]` (`-W^T mean_first` per task, the null
/// task's from the mean over all), as [`GoalGen::set_scene_prior`] takes them, and the
/// training set's mean squared error over frames 1 and after before and after the fit.
///
/// Adam alone learns this map slowly: the first latents' entries are strongly correlated, and
/// 3,000 Adam steps of the linear map reach 0.14 on the validation seeds where the closed form
/// reaches 0.09 (measured with numpy, docs/goal-generator.md).
pub fn fit_scene_prior(split: &GoalSplit, tasks: usize) -> Result<(Vec<f32>, Vec<f32>, [f64; 2])> {
    use nalgebra::DMatrix;
    let [c, t, h, w] = split.latent_shape;
    let (frame, video) = (c * h * w, c * t * h * w);
    let n = split.len();
    if n == 0 {
        bail!("the scene prior needs goal videos to fit");
    }
    let first = |i: usize| {
        let l = split.latent(i);
        (0..c).flat_map(move |ch| l[ch * t * h * w..ch * t * h * w + h * w].iter().copied())
    };
    // Task means of the first latent and of the video (f64 sums).
    let mut count = vec![0usize; tasks];
    let mut mean_f = vec![vec![0f64; frame]; tasks];
    let mut mean_y = vec![vec![0f64; video]; tasks];
    for i in 0..n {
        let k = task_index(split.tasks[i]);
        count[k] += 1;
        for (m, v) in mean_f[k].iter_mut().zip(first(i)) {
            *m += v as f64;
        }
        for (m, &v) in mean_y[k].iter_mut().zip(split.latent(i)) {
            *m += v as f64;
        }
    }
    let mut all_f = vec![0f64; frame];
    for k in 0..tasks {
        let nk = count[k].max(1) as f64;
        for (a, m) in all_f.iter_mut().zip(mean_f[k].iter_mut()) {
            *a += *m / n as f64;
            *m /= nk;
        }
        mean_y[k].iter_mut().for_each(|m| *m /= nk);
    }
    // X^T X and X^T Y over centred rows, in chunks.
    let mut xtx = DMatrix::<f64>::zeros(frame, frame);
    let mut xty = DMatrix::<f64>::zeros(frame, video);
    let mut before = 0.0;
    let frames_after = |row: &[f64]| -> f64 {
        (0..c)
            .flat_map(|ch| row[ch * t * h * w + h * w..(ch + 1) * t * h * w].iter())
            .map(|v| v * v)
            .sum()
    };
    for chunk in (0..n).collect::<Vec<_>>().chunks(2048) {
        let mut x = DMatrix::<f64>::zeros(chunk.len(), frame);
        let mut y = DMatrix::<f64>::zeros(chunk.len(), video);
        for (r, &i) in chunk.iter().enumerate() {
            let k = task_index(split.tasks[i]);
            for (j, v) in first(i).enumerate() {
                x[(r, j)] = v as f64 - mean_f[k][j];
            }
            let mut row = vec![0f64; video];
            for (j, &v) in split.latent(i).iter().enumerate() {
                row[j] = v as f64 - mean_y[k][j];
                y[(r, j)] = row[j];
            }
            before += frames_after(&row);
        }
        xtx += x.transpose() * &x;
        xty += x.transpose() * y;
    }
    for j in 0..frame {
        xtx[(j, j)] += SCENE_PRIOR_RIDGE;
    }
    let Some(chol) = xtx.cholesky() else {
        bail!("the scene prior's normal equations are not positive definite");
    };
    let weight = chol.solve(&xty);
    // The fit's error on the training set (a second pass, for the log and the test).
    let mut after = 0.0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(2048) {
        let mut x = DMatrix::<f64>::zeros(chunk.len(), frame);
        for (r, &i) in chunk.iter().enumerate() {
            let k = task_index(split.tasks[i]);
            for (j, v) in first(i).enumerate() {
                x[(r, j)] = v as f64 - mean_f[k][j];
            }
        }
        let p = x * &weight;
        for (r, &i) in chunk.iter().enumerate() {
            let k = task_index(split.tasks[i]);
            let row: Vec<f64> = (0..video)
                .map(|j| split.latent(i)[j] as f64 - mean_y[k][j] - p[(r, j)])
                .collect();
            after += frames_after(&row);
        }
    }
    let per = (n * c * (t - 1) * h * w) as f64;
    let bias_of = |mf: &[f64]| -> Vec<f32> {
        (0..video)
            .map(|j| -(0..frame).map(|i| weight[(i, j)] * mf[i]).sum::<f64>() as f32)
            .collect()
    };
    let mut bias = Vec::with_capacity((tasks + 1) * video);
    for mf in &mean_f {
        bias.extend(bias_of(mf));
    }
    bias.extend(bias_of(&all_f));
    // nalgebra is column-major: row i of W (input i) is W[(i, ..)].
    let w: Vec<f32> = (0..frame)
        .flat_map(|i| (0..video).map(move |j| (i, j)))
        .map(|(i, j)| weight[(i, j)] as f32)
        .collect();
    Ok((w, bias, [before / per, after / per]))
}

/// Trains (or, with `resume`, goes on training) the goal-video generator. `bar` shows the
/// steps; `stop`, once set, ends the run after the step in hand (saved).
pub fn train_goalgen(
    cfg: &TrainGoalGenConfig,
    bar: &ProgressBar,
    stop: Arc<AtomicBool>,
) -> Result<GoalGenReport> {
    cfg.validate()?;
    let info = GoalDataInfo::read(&cfg.data)?;
    let vae = match &cfg.vae {
        Some(v) => v.clone(),
        None => {
            let named = PathBuf::from(&info.vae);
            if named.is_dir() {
                named
            } else {
                genreward_reward::default_vae_dir()
            }
        }
    };
    let fingerprint = vae_fingerprint(&vae)?;
    if fingerprint != info.vae_fingerprint {
        bail!(
            "the goal data in {} was encoded by another VAE (fingerprint {}; '{}' is {fingerprint})",
            cfg.data.display(),
            info.vae_fingerprint,
            vae.display()
        );
    }
    let train = GoalSplit::read(&cfg.data, "train")?;
    let val = GoalSplit::read(&cfg.data, "val").ok();
    tracing::info!(
        "training on {} goal videos, validating on {}",
        train.len(),
        val.as_ref().map_or(0, GoalSplit::len)
    );
    let sentences = match &cfg.clip {
        Some(dir) => {
            let t = clip_sentences::<genreward_models::backend::Cpu>(dir, &Default::default())?;
            let shape = t.dims();
            let v = t
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| {
                    crate::TrainError::Invalid(format!("the CLIP text embeddings: {e:?}"))
                })?;
            Some((v, shape))
        }
        None => None,
    };
    let prev_clip = if cfg.resume {
        std::fs::read_to_string(cfg.out.join("meta.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<GoalGenMeta>(&s).ok())
            .and_then(|m| m.clip)
    } else {
        None
    };
    std::fs::create_dir_all(&cfg.out).during(|| format!("cannot create {}", cfg.out.display()))?;
    run_on(
        cfg.device,
        Job {
            cfg,
            info,
            vae,
            fingerprint,
            train,
            val,
            bar,
            stop,
            prev_clip,
            sentences,
        },
    )
}

struct Job<'a> {
    cfg: &'a TrainGoalGenConfig,
    info: GoalDataInfo,
    vae: PathBuf,
    fingerprint: String,
    train: GoalSplit,
    val: Option<GoalSplit>,
    bar: &'a ProgressBar,
    stop: Arc<AtomicBool>,
    /// The CLIP weights a resumed run's `meta.json` names, kept when `--clip` is not given again.
    prev_clip: Option<String>,
    /// The task sentences through `--clip`'s text tower, `[tasks, D]`, read before anything is
    /// written.
    sentences: Option<(Vec<f32>, [usize; 2])>,
}

/// The learning rate's factor at step `step` (0-based) of `steps`: a linear warm-up over
/// `warmup` steps, then 1, then a linear fall to 0 over the last `decay` steps.
fn lr_factor(step: usize, warmup: usize, decay: usize, steps: usize) -> f64 {
    let up = ((step + 1) as f64 / warmup.max(1) as f64).min(1.0);
    let down = if decay == 0 {
        1.0
    } else {
        (steps.saturating_sub(step) as f64 / decay as f64).min(1.0)
    };
    up.min(down)
}

/// Rows `idx` of a split as a `[N, C, T, h, w]` latent tensor and their task indices.
fn batch_of<B: Backend>(
    split: &GoalSplit,
    idx: &[usize],
    device: &B::Device,
) -> (Tensor<B, 5>, Vec<usize>) {
    let mut v = Vec::with_capacity(idx.len() * split.latent_len());
    for &i in idx {
        v.extend_from_slice(split.latent(i));
    }
    let [c, t, h, w] = split.latent_shape;
    let x = Tensor::from_data(TensorData::new(v, [idx.len(), c, t, h, w]), device);
    (x, idx.iter().map(|&i| task_index(split.tasks[i])).collect())
}

fn task_tensor<B: Backend>(tasks: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = tasks.iter().map(|&k| k as i64).collect();
    Tensor::from_data(TensorData::new(v, [tasks.len()]), device)
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f64>()
}

/// The validation rows: the first `per_task` of every task (all with 0).
fn val_rows(val: &GoalSplit, per_task: usize) -> Vec<usize> {
    let mut seen = std::collections::HashMap::new();
    (0..val.len())
        .filter(|&i| {
            let n = seen.entry(val.tasks[i]).or_insert(0usize);
            *n += 1;
            per_task == 0 || *n <= per_task
        })
        .collect()
}

impl Job<'_> {
    /// Starts the scene prior at its least-squares fit on the training videos.
    fn fit_prior<B: AutodiffBackend>(
        &self,
        t: &mut GoalGenTrainer<B>,
        device: &B::Device,
    ) -> Result<()> {
        let (w, bias, [before, after]) = fit_scene_prior(&self.train, t.config.tasks)?;
        let frame = w.len() / (bias.len() / (t.config.tasks + 1));
        let video = bias.len() / (t.config.tasks + 1);
        t.set_scene_prior(
            Tensor::from_data(TensorData::new(w, [frame, video]), device),
            Tensor::from_data(TensorData::new(bias, [t.config.tasks + 1, video]), device),
        )
        .map_err(crate::TrainError::Invalid)?;
        tracing::info!(
            "scene prior fitted by least squares: the training videos' deviation from their task's mean, {before:.4} -> {after:.4} (mean square, frames 1 and after)"
        );
        Ok(())
    }

    /// Gives the model the text path reading `table` (the task sentences through the given
    /// CLIP): added when it lacks one, checked against the embeddings it holds when it has one.
    fn read_sentences<B: AutodiffBackend>(
        &self,
        t: &mut GoalGenTrainer<B>,
        table: Tensor<B, 2>,
        device: &B::Device,
    ) -> Result<()> {
        let [_, dim] = table.dims();
        let added = t
            .add_text(dim, device)
            .map_err(crate::TrainError::Invalid)?;
        if added {
            t.model
                .set_sentences(table)
                .map_err(crate::TrainError::Invalid)?;
            tracing::info!(
                "the task sentences' CLIP embeddings ({dim} numbers) join the conditioning"
            );
            return Ok(());
        }
        let held = t.model.sentences().expect("a text path");
        let rows = held.dims()[0] - 1;
        let gap = (held.narrow(0, 0, rows) - table)
            .abs()
            .max()
            .into_scalar()
            .elem::<f32>();
        if !(gap <= SENTENCE_TOLERANCE) {
            bail!(
                "the generator in {} was trained on task sentences embedded by other CLIP weights (they differ by up to {gap:.3e}); give the same --clip or none",
                self.cfg.out.display()
            );
        }
        Ok(())
    }

    fn meta(&self, lp: &TrainLoop, v: Val, params: usize, text: bool) -> GoalGenMeta {
        let c = self.cfg;
        GoalGenMeta {
            step: lp.step,
            train_seconds: lp.elapsed(),
            val_loss: finite(v.loss),
            val_mse_1step: finite(v.mse1),
            val_mse: finite(v.mse),
            command: c.command.clone(),
            data: c.data.display().to_string(),
            train_videos: self.train.len(),
            val_videos: self.val.as_ref().map_or(0, GoalSplit::len),
            tasks: TaskKind::ALL.iter().map(|t| t.name().to_string()).collect(),
            length: self.info.length,
            camera: Some(self.info.camera),
            vae: self.vae.display().to_string(),
            vae_fingerprint: self.fingerprint.clone(),
            sample_steps: c.sample_steps,
            guidance: c.guidance,
            batch: c.batch,
            lr: c.lr,
            device: c.device.to_string(),
            params,
            genreward_version: env!("CARGO_PKG_VERSION").to_string(),
            clip: match &c.clip {
                Some(dir) => Some(dir.display().to_string()),
                None => self.prev_clip.clone(),
            },
            sentences: if text {
                task_sentences().into_iter().map(String::from).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// The validation figures, logged; NaN without validation data.
    fn validate<B: Backend>(
        &self,
        model: &GoalGen<B>,
        device: &B::Device,
        lp: &mut TrainLoop,
    ) -> Result<Val> {
        let Some(val) = &self.val else {
            return Ok(NO_VAL);
        };
        let rows = val_rows(val, self.cfg.val_per_task);
        let (mut loss, mut mse1, mut mse) = (0.0, 0.0, 0.0);
        for (k, chunk) in rows.chunks(32).enumerate() {
            let (x1, tasks) = batch_of::<B>(val, chunk, device);
            let n = chunk.len();
            let dims = x1.dims();
            let task = task_tensor::<B>(&tasks, device);
            // Fixed times spread over (0, 1) and fixed noise: the same numbers at every check.
            let t: Vec<f32> = (0..n)
                .map(|i| ((i * 7 + k) % 16) as f32 / 16.0 + 1.0 / 32.0)
                .collect();
            let t = Tensor::<B, 1>::from_data(TensorData::new(t, [n]), device);
            let x0 = seeded_normal::<B, 5>(dims, 1000 + k as u64, device);
            loss += scalar(model.loss(x1.clone(), task.clone(), x0, t)) * n as f64;
            let first = genreward_models::goalgen::first_latent(x1.clone());
            let err = |steps: usize| {
                let g = model.generate(
                    first.clone(),
                    task.clone(),
                    7 + k as u64,
                    steps,
                    self.cfg.guidance,
                );
                let f = dims[2];
                scalar((g - x1.clone()).narrow(2, 1, f - 1).powf_scalar(2.0).mean())
            };
            mse1 += err(1) * n as f64;
            mse += err(self.cfg.sample_steps) * n as f64;
        }
        let n = rows.len() as f64;
        let v = Val {
            loss: loss / n,
            mse1: mse1 / n,
            mse: mse / n,
        };
        lp.log(&ValLine {
            step: lp.step,
            val_loss: v.loss,
            val_mse_1step: v.mse1,
            val_mse: v.mse,
        })?;
        Ok(v)
    }

    /// `samples.mp4`: for the first validation (else training) video of every task, the
    /// expert's goal decoded from its latent above the generated one.
    fn write_samples<B: Backend>(
        &self,
        model: GoalGen<B>,
        config: GoalGenConfig,
        device: &B::Device,
    ) -> Result<()> {
        let split = self.val.as_ref().unwrap_or(&self.train);
        let mut rows = Vec::new();
        for task in TaskKind::ALL {
            if let Some(i) = (0..split.len()).find(|&i| split.tasks[i] == task) {
                rows.push(i);
            }
        }
        let encoder = genreward_reward::load_encoder::<B>(&self.vae, device.clone())?;
        let size = encoder.size();
        let gen = GoalGenerator::new(model, config, encoder);
        let (x1, _) = batch_of::<B>(split, &rows, device);
        let expert = gen.decode(x1);
        let firsts: Vec<&[u8]> = rows.iter().map(|&i| split.first_frame(i)).collect();
        let tasks: Vec<TaskKind> = rows.iter().map(|&i| split.tasks[i]).collect();
        // One sample as drawn: the samples show what the model makes, not a reduction of it.
        let settings = genreward_reward::GenSettings {
            steps: Some(self.cfg.sample_steps),
            guidance: Some(self.cfg.guidance),
            samples: 1,
            ..Default::default()
        };
        let made = gen.generate(&firsts, &tasks, &settings)?;
        let top: Vec<Vec<u8>> = expert.into_iter().flatten().collect();
        let bottom: Vec<Vec<u8>> = made.into_iter().flat_map(|g| g.frames).collect();
        write_side_by_side(&self.cfg.out.join("samples.mp4"), &top, &bottom, size, 4)
    }
}

impl BackendJob for Job<'_> {
    type Output = Result<GoalGenReport>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let c = self.cfg;
        B::seed(&device, c.seed);
        let mut lp = TrainLoop::open(
            &c.out,
            c.steps,
            c.minutes,
            c.resume,
            self.bar,
            self.stop.clone(),
        )?;
        let draw_seed = c.seed.wrapping_add(lp.step as u64);
        let sentences = self.sentences.as_ref().map(|(v, shape)| {
            Tensor::<B, 2>::from_data(TensorData::new(v.clone(), *shape), &device)
        });
        // The step the learning-rate warm-up counts from: 0, or where the scene paths joined.
        let mut warm_from = 0;
        let mut trainer = if c.resume {
            let mut t = GoalGenTrainer::<B>::resume(&c.out, c.lr, draw_seed, &device)?;
            if t.optim_restarted {
                tracing::info!(
                    "{} holds no Adam state (a shipped checkpoint?); Adam starts afresh",
                    c.out.display()
                );
            }
            if c.scene && t.add_scene(&device) {
                tracing::info!(
                    "added the first latent's global paths to the resumed model; Adam restarts"
                );
                self.fit_prior(&mut t, &device)?;
            }
            if let Some(table) = sentences.clone() {
                self.read_sentences(&mut t, table, &device)?;
            }
            if t.optim_restarted {
                tracing::info!("the learning rate warms up over {} steps", c.warmup);
                warm_from = lp.step;
            }
            t
        } else {
            let mut t = GoalGenTrainer::<B>::new(c.model_config(), c.lr, draw_seed, &device);
            if t.config.has_scene() {
                self.fit_prior(&mut t, &device)?;
            }
            if let Some(table) = sentences.clone() {
                self.read_sentences(&mut t, table, &device)?;
                // A fresh model: Adam has nothing to restart from.
                t.optim_restarted = false;
            }
            t
        };
        let shape = &self.train.latent_shape;
        let mc = &trainer.config;
        if [mc.channels, mc.frames, mc.side, mc.side] != *shape {
            bail!(
                "the generator reads latents of {:?}, the data holds {:?}",
                [mc.channels, mc.frames, mc.side, mc.side],
                shape
            );
        }
        let params = trainer.model.num_params();
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed ^ 0x5eed ^ lp.step as u64);
        let mut v = NO_VAL;
        let mut window = Vec::new();
        while !lp.done() {
            let t0 = Instant::now();
            let idx: Vec<usize> = (0..c.batch)
                .map(|_| rng.random_range(0..self.train.len()))
                .collect();
            let (x1, tasks) = batch_of::<B>(&self.train, &idx, &device);
            trainer.lr = c.lr
                * lr_factor(lp.step, c.warmup, c.decay, c.steps).min(lr_factor(
                    lp.step - warm_from,
                    c.warmup,
                    0,
                    c.steps,
                ));
            let s = trainer.step(x1, &tasks);
            window.push(c.batch as f64 / t0.elapsed().as_secs_f64());
            if window.len() > 20 {
                window.remove(0);
            }
            let vps = median(&window);
            lp.advance(format!(
                "loss {:.4}  val {:.4}  mse {:.4}/{:.4}  {:.0} videos/s",
                s.loss, v.loss, v.mse1, v.mse, vps
            ));
            let step = lp.step;
            if !s.loss.is_finite() {
                bail!(
                    "the training loss became {} at step {step}; lower the learning rate",
                    s.loss
                );
            }
            if step % 10 == 0 || step == 1 {
                lp.log(&TrainLine {
                    step,
                    loss: s.loss,
                    lr: trainer.lr,
                    videos_per_sec: vps,
                    elapsed_s: lp.elapsed(),
                })?;
            }
            if step % c.checkpoint_every == 0 {
                v = self.validate(&trainer.model.valid(), &device, &mut lp)?;
                self.save(&trainer, &lp, v, params)?;
            }
        }
        lp.finish();
        let model = trainer.model.valid();
        v = self.validate(&model, &device, &mut lp)?;
        self.save(&trainer, &lp, v, params)?;
        self.write_samples(model, trainer.config.clone(), &device)?;
        Ok(GoalGenReport {
            device: c.device,
            out: c.out.display().to_string(),
            steps: lp.step,
            train_seconds: lp.elapsed(),
            videos_per_sec: median(&window),
            train_videos: self.train.len(),
            val_videos: self.val.as_ref().map_or(0, GoalSplit::len),
            val_loss: finite(v.loss),
            val_mse_1step: finite(v.mse1),
            val_mse: finite(v.mse),
            params,
        })
    }
}

impl Job<'_> {
    fn save<B: AutodiffBackend>(
        &self,
        trainer: &GoalGenTrainer<B>,
        lp: &TrainLoop,
        v: Val,
        params: usize,
    ) -> Result<()> {
        let text = trainer.config.text_dim.is_some();
        let meta = serde_json::to_value(self.meta(lp, v, params, text))?;
        trainer.save(&self.cfg.out, &meta)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::lr_factor;

    #[test]
    fn the_learning_rate_warms_up_holds_and_decays_to_zero() {
        assert_eq!(lr_factor(0, 4, 0, 100), 0.25);
        assert_eq!(lr_factor(3, 4, 0, 100), 1.0);
        assert_eq!(lr_factor(50, 4, 10, 100), 1.0);
        assert_eq!(lr_factor(95, 4, 10, 100), 0.5);
        assert_eq!(lr_factor(99, 4, 10, 100), 0.1);
    }
}
