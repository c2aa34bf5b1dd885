//! The FB representation on the command line: `genreward train fb`.
//!
//! Data: the episodes of `genreward dataset` (frames, 39-d observations, actions). F reads the
//! state (`--state`: the observation, or the goal features of the current frame; standardised
//! with the training data's mean and std) and the action; B reads the goal features of the next
//! frame: a DINO tower's CLS feature with `--dino DIR` (the paper's choice), else the shipped
//! video VAE's per-frame latent mean (4 x 8 x 8 = 256 values), the fallback that works with
//! nothing downloaded.

use crate::dataset::{load_trajectories, Trajectory};
use crate::score::{median, parse_device, vae_dir};
use crate::train_loop::TrainLoop;
use anyhow::{bail, Result};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::fb::{evaluate, FbBatch, FbConfig, FbModel, FbStats, FbTrainer};
use genreward_reward::features::{GoalEncoder, StateKind};
use genreward_sim::{ACT_DIM, OBS_DIM};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct TrainFbArgs {
    /// Dataset folders (searched recursively for obs_/state_/action_<seed>.npy).
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Validation folders (default: a `val` folder beside the first --data folder, if any).
    #[arg(long, num_args = 1..)]
    val: Vec<PathBuf>,
    /// Output folder: config.json, model.mpk, target.mpk, optimizer.mpk, meta.json,
    /// metrics.jsonl.
    #[arg(long)]
    out: PathBuf,
    /// The video VAE whose per-frame latents are B's goal features (default: the shipped one);
    /// with --dino, only its frame size is used (frames are read at it).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// DINO weights (transformers' Dinov2Model or DINOv3ViTModel layout: model.safetensors +
    /// config.json): B's goal features are the tower's CLS feature, as in the paper.
    #[arg(long)]
    dino: Option<PathBuf>,
    /// The side frames are resized to for DINO (a multiple of its patch size; default: the
    /// tower's image_size, 224 for the released ViTs).
    #[arg(long, requires = "dino")]
    dino_size: Option<usize>,
    /// Optimiser steps in all (with --resume: counting the steps already done).
    #[arg(long, default_value_t = 20000, allow_negative_numbers = true)]
    steps: usize,
    /// Freeze the representation after N optimiser steps, as the paper does (at 100k steps of
    /// its online training): no step past N is taken, now or by a later --resume, and the
    /// checkpoint records it. Offline this caps --steps; it carries over to online training.
    #[arg(long)]
    freeze_after: Option<usize>,
    /// Stop after this many minutes even if --steps is not reached.
    #[arg(long)]
    minutes: Option<f64>,
    /// Transitions per batch.
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    batch: usize,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Dimension d of the representation.
    #[arg(long, default_value_t = 50)]
    z_dim: usize,
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    #[arg(long, default_value_t = 0.98)]
    gamma: f64,
    #[arg(long, default_value_t = 1.0)]
    ortho_coef: f64,
    #[arg(long, default_value_t = 0.01)]
    tau: f64,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Save the checkpoint and measure the validation loss every N steps.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    checkpoint_every: usize,
    /// Continue the run saved in --out.
    #[arg(long)]
    resume: bool,
    /// cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// What F reads as the state: obs39 (the 39-d observation) or frame (the goal features of
    /// the current camera frame, from the same VAE as B's goals).
    #[arg(long, default_value = "obs39")]
    state: String,
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

struct FbJob {
    a: TrainFbArgs,
    vae: PathBuf,
    train: Vec<Trajectory>,
    val: Vec<Trajectory>,
}

/// Goal features of every frame of every episode (ticking `bar` per episode).
fn featurize<B: burn::tensor::backend::Backend>(
    eps: Vec<Trajectory>,
    encoder: &GoalEncoder<B>,
    state: StateKind,
    bar: &indicatif::ProgressBar,
) -> FbData {
    let goal_dim = encoder.dim();
    let mut data = FbData {
        states: Vec::new(),
        state_dim: match state {
            StateKind::Obs39 => OBS_DIM,
            StateKind::Frame => goal_dim,
            StateKind::Model => unreachable!("train fb refuses --state dreamer"),
        },
        actions: Vec::new(),
        features: Vec::new(),
        goal_dim,
    };
    for ep in eps {
        let refs: Vec<&[u8]> = ep.frames.iter().map(Vec::as_slice).collect();
        let feats = encoder.features(&refs);
        bar.inc(1);
        data.states.push(match state {
            StateKind::Obs39 => ep.states.iter().flatten().copied().collect(),
            StateKind::Frame => feats.clone(),
            StateKind::Model => unreachable!("train fb refuses --state dreamer"),
        });
        data.features.push(feats);
        data.actions.push(ep.actions);
    }
    data
}

/// [`featurize`], with the features kept in `out/features_<name>.npy` (and what they are of in
/// `features_<name>.json`) when `key` is given, and read back from there when the key and the
/// episodes' lengths match.
fn cached_featurize<B: burn::tensor::backend::Backend>(
    out: &std::path::Path,
    name: &str,
    key: Option<&serde_json::Value>,
    eps: Vec<Trajectory>,
    encoder: &GoalEncoder<B>,
    state: StateKind,
    bar: &indicatif::ProgressBar,
) -> Result<FbData> {
    let Some(key) = key else {
        return Ok(featurize(eps, encoder, state, bar));
    };
    let (npy, json) = (
        out.join(format!("features_{name}.npy")),
        out.join(format!("features_{name}.json")),
    );
    let lens: Vec<usize> = eps.iter().map(|e| e.frames.len()).collect();
    let want = serde_json::json!({"key": key, "episode_lengths": lens});
    let saved: Option<serde_json::Value> = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let dim = encoder.dim();
    if saved.as_ref() == Some(&want) {
        if let Ok((shape, values)) = genreward_record::read_npy_f32(&npy) {
            let frames: usize = lens.iter().sum();
            if shape == [frames, dim] {
                eprintln!("goal features of {name} read from {}", npy.display());
                bar.inc(eps.len() as u64);
                let mut data = FbData {
                    states: Vec::new(),
                    state_dim: match state {
                        StateKind::Obs39 => OBS_DIM,
                        StateKind::Frame => dim,
                        StateKind::Model => unreachable!("train fb refuses --state dreamer"),
                    },
                    actions: Vec::new(),
                    features: Vec::new(),
                    goal_dim: dim,
                };
                let mut at = 0;
                for ep in eps {
                    let n = ep.frames.len() * dim;
                    let feats = values[at..at + n].to_vec();
                    at += n;
                    data.states.push(match state {
                        StateKind::Obs39 => ep.states.iter().flatten().copied().collect(),
                        StateKind::Frame => feats.clone(),
                        StateKind::Model => unreachable!("train fb refuses --state dreamer"),
                    });
                    data.features.push(feats);
                    data.actions.push(ep.actions);
                }
                return Ok(data);
            }
        }
    }
    let data = featurize(eps, encoder, state, bar);
    std::fs::create_dir_all(out)?;
    let all: Vec<f32> = data.features.iter().flatten().copied().collect();
    genreward_record::write_npy_f32(&npy, &[all.len() / dim.max(1), dim], &all)?;
    std::fs::write(&json, serde_json::to_string(&want)?)?;
    Ok(data)
}

/// Validation figures, averaged over 8 fixed batches of held-out transitions: the FB losses
/// without an update ([`evaluate`]) and how near identity `E[B B^T]` is.
fn validate<B: burn::tensor::backend::Backend>(
    model: &FbModel<B>,
    config: &FbConfig,
    val: &FbData,
    device: &B::Device,
) -> serde_json::Value {
    let mut rng = ChaCha8Rng::seed_from_u64(12345);
    let runs: Vec<_> = (0..8)
        .map(|_| evaluate(model, config, val.batch::<B>(256, &mut rng, device)))
        .collect();
    type Run = (FbStats, (f64, f64));
    let mean = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
    let (full_diag, full_off, frames) = full_covariance(model, val, device);
    serde_json::json!({
        "val_full_cov_diag_max_dev": full_diag,
        "val_full_cov_offdiag_mean_abs": full_off,
        "val_full_frames": frames,
        "val_loss": mean(&|r| r.0.loss),
        "val_fb_offdiag": mean(&|r| r.0.fb_offdiag),
        "val_fb_diag": mean(&|r| r.0.fb_diag),
        "val_ortho": mean(&|r| r.0.ortho),
        "val_q_abs": mean(&|r| r.0.q_abs),
        "val_cov_diag_max_dev": mean(&|r| r.1 .0),
        "val_cov_offdiag_mean_abs": mean(&|r| r.1 .1),
    })
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

impl BackendJob for FbJob {
    type Output = Result<serde_json::Value>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let FbJob { a, vae, train, val } = self;
        B::seed(&device, a.seed);
        let t0 = Instant::now();
        let encoder = match &a.dino {
            Some(dir) => GoalEncoder::<B::InnerBackend>::dino(
                dir,
                a.dino_size,
                genreward_reward::load::vae_frame_size(&vae)?,
                &device,
            )?,
            None => GoalEncoder::<B::InnerBackend>::vae(&vae, device.clone())?,
        };
        let features_meta = encoder.meta();
        if a.resume {
            let saved: serde_json::Value = std::fs::read_to_string(a.out.join("meta.json"))
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            let key = |v: &serde_json::Value| {
                let f = &v["goal_features"];
                (
                    f["kind"].clone(),
                    f["vae_fingerprint"].clone(),
                    f["dino_fingerprint"].clone(),
                    f["size"].clone(),
                )
            };
            if !saved.is_null()
                && key(&saved) != key(&serde_json::json!({"goal_features": features_meta}))
            {
                bail!(
                    "the FB run in {} was trained on other goal features ({}); resume it with the same --vae/--dino/--dino-size",
                    a.out.display(),
                    saved["goal_features"]
                );
            }
        }
        let state: StateKind = a.state.parse()?;
        let bar = indicatif::ProgressBar::new((train.len() + val.len()) as u64).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {bar:30} {pos}/{len} episodes [{elapsed_precise} < {eta_precise}]",
            )
            .expect("template"),
        );
        bar.set_message(format!("{} goal features", encoder.kind()));
        // DINO features are slow on a CPU (hours for a ViT-S at 224 on the full dataset): they
        // are kept in --out and reused by --resume or a rerun with the same data and weights.
        let cache = (encoder.kind() == genreward_reward::features::FEATURES_DINO).then(|| {
            serde_json::json!({"goal_features": features_meta.clone(), "data": a.data, "val": a.val})
        });
        let train = cached_featurize(
            &a.out,
            "train",
            cache.as_ref(),
            train,
            &encoder,
            state,
            &bar,
        )?;
        let val = cached_featurize(&a.out, "val", cache.as_ref(), val, &encoder, state, &bar)?;
        bar.finish_and_clear();
        eprintln!(
            "{} goal features ({}-d) of {} frames in {:.0} s",
            encoder.kind(),
            train.goal_dim,
            train
                .features
                .iter()
                .chain(&val.features)
                .map(Vec::len)
                .sum::<usize>()
                / train.goal_dim,
            t0.elapsed().as_secs_f64()
        );
        // A frozen run stays frozen: the saved limit holds unless a lower one is given.
        let saved_freeze = if a.resume {
            genreward_models::checkpoint::read_meta(&a.out)["freeze_after"]
                .as_u64()
                .map(|v| v as usize)
        } else {
            None
        };
        let freeze_after = match (a.freeze_after, saved_freeze) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        let steps = freeze_after.map_or(a.steps, |f| a.steps.min(f));
        let mut lp = TrainLoop::open(&a.out, steps, a.minutes, a.resume)?;
        if let Some(f) = freeze_after {
            if lp.step >= f {
                eprintln!(
                    "the FB representation in {} is frozen at step {} (--freeze-after {f}): not trained further",
                    a.out.display(),
                    lp.step
                );
            }
        }
        let mut trainer = if a.resume {
            let t = FbTrainer::<B>::resume(&a.out, a.lr, &device)?;
            if t.config.goal_dim != train.goal_dim || t.config.state_dim != train.state_dim {
                bail!(
                    "the FB run in {} reads {} goal features and a {}-d state; with --state {} the VAE gives {} and {}",
                    a.out.display(),
                    t.config.goal_dim,
                    t.config.state_dim,
                    state.name(),
                    train.goal_dim,
                    train.state_dim
                );
            }
            t
        } else {
            let config = FbConfig::new(train.state_dim, ACT_DIM, train.goal_dim)
                .with_z_dim(a.z_dim)
                .with_hidden(a.hidden)
                .with_gamma(a.gamma)
                .with_ortho_coef(a.ortho_coef)
                .with_tau(a.tau);
            let mut model = config.init::<B>(&device);
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
            model.set_normalization((&s.0, &s.1), (&g.0, &g.1), &device);
            FbTrainer::new(model, config, a.lr)
        };
        let mut rng = ChaCha8Rng::seed_from_u64(a.seed.wrapping_add(lp.step as u64));
        let meta = |lp: &TrainLoop, val_stats: &serde_json::Value| {
            serde_json::json!({
                "step": lp.step,
                "train_seconds": lp.elapsed(),
                "command": std::env::args().collect::<Vec<_>>(),
                "data": a.data.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
                "train_episodes": train.states.len(),
                "train_transitions": train.transitions(),
                "val_episodes": val.states.len(),
                "state": state.name(),
                "goal_features": features_meta,
                "batch": a.batch, "lr": a.lr, "device": a.device,
                "freeze_after": freeze_after,
                "frozen": freeze_after.is_some_and(|f| lp.step >= f),
                "validation": val_stats,
                "genreward_version": env!("CARGO_PKG_VERSION"),
            })
        };
        if lp.step == 0 {
            // The untrained model's figures, to read the trained ones against.
            validate_logged(&trainer, &val, &device, &mut lp)?;
        }
        let mut window = Vec::new();
        let mut ema_loss = f64::NAN;
        let mut last_saved = None;
        while !lp.done() {
            let t = Instant::now();
            let batch = train.batch::<B>(a.batch, &mut rng, &device);
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
                    "the FB loss became {} at step {}; lower --lr",
                    s.loss,
                    lp.step
                );
            }
            if lp.step % 50 == 0 || lp.step == 1 {
                let mut line = serde_json::to_value(s)?;
                line["step"] = lp.step.into();
                line["steps_per_sec"] = median(&window).into();
                line["elapsed_s"] = lp.elapsed().into();
                lp.log(&line)?;
            }
            if lp.step % a.checkpoint_every == 0 {
                let v = validate_logged(&trainer, &val, &device, &mut lp)?;
                trainer.save(&a.out, &meta(&lp, &v))?;
                last_saved = Some((lp.step, v));
            }
        }
        lp.finish();
        // The last checkpoint is written again unless the loop just wrote it.
        let val_stats = match last_saved {
            Some((step, v)) if step == lp.step => v,
            _ => {
                let v = validate_logged(&trainer, &val, &device, &mut lp)?;
                trainer.save(&a.out, &meta(&lp, &v))?;
                v
            }
        };
        Ok(serde_json::json!({
            "out": a.out.display().to_string(),
            "steps": lp.step,
            "train_seconds": lp.elapsed(),
            "steps_per_sec": median(&window),
            "validation": val_stats,
            "device": a.device,
        }))
    }
}

/// Validation on the held-out episodes (or nothing without them), logged to the metrics file.
fn validate_logged<B: AutodiffBackend>(
    trainer: &FbTrainer<B>,
    val: &FbData,
    device: &B::Device,
    lp: &mut TrainLoop,
) -> Result<serde_json::Value> {
    if val.states.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    let mut v = validate(&trainer.model.valid(), &trainer.config, val, device);
    v["step"] = lp.step.into();
    lp.log(&v)?;
    Ok(v)
}

pub fn train_fb(mut a: TrainFbArgs) -> Result<()> {
    let device = parse_device(&a.device)?;
    if a.state.parse::<StateKind>()? == StateKind::Model {
        bail!("train fb learns from dataset episodes, which hold no agent's model state; an FB on DreamerV3's model state trains in train dreamer --fb-state dreamer");
    }
    for (name, v) in [
        ("--lr", a.lr),
        ("--gamma", a.gamma),
        ("--tau", a.tau),
        ("--ortho-coef", a.ortho_coef),
    ] {
        if !v.is_finite() || v < 0.0 {
            bail!("{name} must be a non-negative number (got {v})");
        }
    }
    if a.gamma >= 1.0 || a.tau > 1.0 {
        bail!("--gamma must be below 1 and --tau at most 1");
    }
    if a.batch < 2 || a.z_dim == 0 || a.hidden == 0 || a.checkpoint_every == 0 {
        bail!("--batch must be at least 2, and --z-dim, --hidden, --checkpoint-every at least 1");
    }
    if a.val.is_empty() {
        if let Some(v) = a.data[0].parent().map(|p| p.join("val")) {
            if v.is_dir() && v != a.data[0] {
                a.val.push(v);
            }
        }
    }
    let vae = vae_dir(&a.vae);
    let size = genreward_reward::load::vae_frame_size(&vae)?;
    let train = load_trajectories(&a.data, size)?;
    let val = if a.val.is_empty() {
        Vec::new()
    } else {
        load_trajectories(&a.val, size)?
    };
    eprintln!(
        "training on {} episodes ({} steps), validating on {}",
        train.len(),
        train.iter().map(|t| t.states.len()).sum::<usize>(),
        val.len()
    );
    let out = run_on(device, FbJob { a, vae, train, val })?;
    println!("{out}");
    Ok(())
}
