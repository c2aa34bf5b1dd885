//! The video VAE on the command line: `dataset` (training data in one command), `train vae`,
//! `reconstruct`.

use crate::score::{median, parse_device, vae_dir};
use anyhow::{bail, Context, Result};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::frames::{clips_to_tensor, tensor_to_frames};
use genreward_models::train::{eval_mse, VaeTrainer};
use genreward_models::vae::psnr_db;
use genreward_models::{VideoVae, VideoVaeConfig};
use genreward_record::{load_video, read_npy_u8, NpyWriter, VideoWriter};
use genreward_render::{render_envs, Frame, Renderer, ViewSpec};
use genreward_reward::prep::to_model_input;
use genreward_reward::{uniform_indices, WINDOW};
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// dataset

/// The behaviours the VAE is trained on: the expert, the expert with Gaussian action noise at
/// three levels, and uniform random actions.
pub const VARIANTS: [(&str, PolicyKind, f64); 5] = [
    ("expert", PolicyKind::Expert, 0.0),
    ("noise0.1", PolicyKind::Expert, 0.1),
    ("noise0.3", PolicyKind::Expert, 0.3),
    ("noise0.6", PolicyKind::Expert, 0.6),
    ("random", PolicyKind::Random, 0.0),
];

/// Episodes of one task and behaviour stepped together: each step renders every environment's
/// frame in one batch, then each actor acts on its own environment.
pub struct Lockstep {
    envs: Vec<Env>,
    actors: Vec<Policy>,
}

impl Lockstep {
    /// One episode per placement seed, `steps` long, with `kind` (plus `noise`) acting.
    pub fn new(task: TaskKind, kind: PolicyKind, noise: f64, seeds: &[u32], steps: usize) -> Self {
        let envs = seeds
            .iter()
            .map(|&s| {
                let mut e = Env::new(task, s, PhysicsConfig::default());
                e.set_max_path_length(steps);
                e
            })
            .collect();
        let actors = seeds
            .iter()
            .map(|&s| {
                let mut p = Policy::for_run(kind, task, noise, s);
                p.reset(task, s, 0);
                p
            })
            .collect();
        Lockstep { envs, actors }
    }

    /// Renders the frame each policy is about to see (one batch), then steps every episode.
    pub fn render_and_step(
        &mut self,
        renderer: &mut Renderer,
        view: ViewSpec,
    ) -> Result<Vec<Frame>> {
        let worlds: Vec<_> = self.envs.iter().map(|e| e.world()).collect();
        let shots = render_envs(renderer, &worlds, view)?;
        for (e, p) in self.envs.iter_mut().zip(&mut self.actors) {
            let obs = *e.last_obs();
            let act = Actor::act(
                p,
                &Observation {
                    state: &obs,
                    pixels: None,
                },
            );
            e.step(act)?;
        }
        Ok(shots)
    }
}

/// Offset of the validation seeds from the training seeds.
pub const VAL_SEED_OFFSET: u32 = 500;

#[derive(clap::Args, Debug)]
pub struct DatasetArgs {
    /// Output folder: train/<task>/<variant>/obs_<seed>.npy and val/... .
    #[arg(long)]
    out: PathBuf,
    /// Training episodes per task and behaviour (seeds seed, seed+1, ...).
    #[arg(long, default_value_t = 6, allow_negative_numbers = true)]
    train_episodes: usize,
    /// Validation episodes per task and behaviour (seeds seed+500, ...).
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    val_episodes: usize,
    /// First training seed.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    seed: u32,
    /// Steps per episode (the paper's 256).
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    steps: usize,
    #[arg(long, default_value = "corner2")]
    camera: String,
    #[arg(long, default_value = "64x64")]
    size: String,
    /// Comma-separated task names, or all.
    #[arg(long, default_value = "all")]
    tasks: String,
}

#[derive(serde::Serialize)]
struct DatasetManifest {
    genreward_version: &'static str,
    command: Vec<String>,
    camera: ViewSpec,
    steps: usize,
    tasks: Vec<String>,
    variants: Vec<(String, String, f64)>,
    train_seeds: (u32, u32),
    val_seeds: (u32, u32),
    frames: usize,
    seconds: f64,
}

pub fn parse_tasks(s: &str) -> Result<Vec<TaskKind>> {
    if s.trim() == "all" {
        return Ok(TaskKind::ALL.to_vec());
    }
    s.split(',')
        .map(|t| Ok(t.trim().parse::<TaskKind>()?))
        .collect()
}

pub fn dataset(a: DatasetArgs) -> Result<()> {
    let view = ViewSpec::parse(&a.camera, &a.size).map_err(anyhow::Error::msg)?;
    let tasks = parse_tasks(&a.tasks)?;
    if a.train_episodes + a.val_episodes == 0 || a.steps == 0 {
        bail!("--train-episodes + --val-episodes and --steps must be at least 1");
    }
    if a.train_episodes as u32 > VAL_SEED_OFFSET {
        bail!("--train-episodes must be at most {VAL_SEED_OFFSET} (validation seeds start there)");
    }
    let mut renderer = Renderer::new()?;
    let t0 = Instant::now();
    let n = a.train_episodes + a.val_episodes;
    let bar = ProgressBar::new((tasks.len() * VARIANTS.len() * n * a.steps) as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} frames ({per_sec}, eta {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut frames = 0;
    for &task in &tasks {
        for (name, kind, noise) in VARIANTS {
            bar.set_message(format!("{task} {name}"));
            // Every episode of this (task, behaviour) steps in lockstep; one render call a step.
            let seeds: Vec<(u32, &str)> = (0..a.train_episodes)
                .map(|k| (a.seed + k as u32, "train"))
                .chain((0..a.val_episodes).map(|k| (a.seed + VAL_SEED_OFFSET + k as u32, "val")))
                .collect();
            let plain: Vec<u32> = seeds.iter().map(|&(s, _)| s).collect();
            let mut episodes = Lockstep::new(task, kind, noise, &plain, a.steps);
            let mut writers = Vec::with_capacity(n);
            for &(s, split) in &seeds {
                let dir = a.out.join(split).join(task.name()).join(name);
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                writers.push(NpyWriter::create(
                    &dir.join(format!("obs_{s}.npy")),
                    view.height,
                    view.width,
                )?);
            }
            for _ in 0..a.steps {
                let shots = episodes.render_and_step(&mut renderer, view)?;
                for (w, f) in writers.iter_mut().zip(&shots) {
                    w.write_frame(&f.rgb)?;
                }
                frames += n;
                bar.inc(n as u64);
            }
            for w in writers {
                w.finish()?;
            }
        }
    }
    bar.finish_and_clear();
    let m = DatasetManifest {
        genreward_version: env!("CARGO_PKG_VERSION"),
        command: std::env::args().collect(),
        camera: view,
        steps: a.steps,
        tasks: tasks.iter().map(|t| t.name().to_string()).collect(),
        variants: VARIANTS
            .iter()
            .map(|(n, k, s)| (n.to_string(), k.to_string(), *s))
            .collect(),
        train_seeds: (a.seed, a.seed + a.train_episodes as u32),
        val_seeds: (
            a.seed + VAL_SEED_OFFSET,
            a.seed + VAL_SEED_OFFSET + a.val_episodes as u32,
        ),
        frames,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let path = a.out.join("dataset.json");
    std::fs::write(&path, serde_json::to_string_pretty(&m)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "{}",
        serde_json::json!({"out": a.out.display().to_string(), "frames": frames,
            "seconds": m.seconds, "frames_per_sec": frames as f64 / m.seconds})
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// episodes on disk

/// One episode's frames at the model's size.
pub struct Episode {
    pub frames: Vec<Vec<u8>>,
}

/// Every `.npy` under `dirs` (recursively), as episodes at `size x size`.
pub fn load_episodes(dirs: &[PathBuf], size: u32) -> Result<Vec<Episode>> {
    let mut files = Vec::new();
    for d in dirs {
        if d.is_file() {
            files.push(d.clone());
            continue;
        }
        if !d.is_dir() {
            bail!("data folder '{}' does not exist", d.display());
        }
        collect_npy(d, &mut files)?;
    }
    files.sort();
    if files.is_empty() {
        bail!(
            "no .npy episodes under {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    files
        .iter()
        .map(|f| {
            let (shape, data) = read_npy_u8(f)?;
            if shape.len() != 4 || shape[3] != 3 || shape[0] == 0 {
                bail!(
                    "'{}' is not a [T, H, W, 3] uint8 array with T >= 1",
                    f.display()
                );
            }
            let (h, w) = (shape[1] as u32, shape[2] as u32);
            let n = (h * w * 3) as usize;
            Ok(Episode {
                frames: data
                    .chunks_exact(n)
                    .map(|c| to_model_input(c, w, h, size))
                    .collect(),
            })
        })
        .collect()
}

fn collect_npy(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            collect_npy(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "npy") {
            out.push(p);
        }
    }
    Ok(())
}

/// A training clip: `len` frames of one episode, `stride` steps apart.
fn random_clip<'a>(
    eps: &'a [Episode],
    len: usize,
    max_stride: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<&'a [u8]> {
    let ep = &eps[rng.random_range(0..eps.len())];
    let n = ep.frames.len();
    let max_stride = max_stride
        .min((n.saturating_sub(1)) / (len - 1).max(1))
        .max(1);
    let stride = rng.random_range(1..=max_stride);
    let span = (len - 1) * stride;
    let start = if n > span {
        rng.random_range(0..n - span)
    } else {
        0
    };
    (0..len)
        .map(|i| ep.frames[(start + i * stride).min(n - 1)].as_slice())
        .collect()
}

/// The reward's own view of an episode: 16 frames sampled uniformly over all of it.
fn reward_window(ep: &Episode) -> Vec<&[u8]> {
    uniform_indices(ep.frames.len(), WINDOW)
        .into_iter()
        .map(|i| ep.frames[i].as_slice())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// train vae

#[derive(clap::Args, Debug, Clone)]
pub struct TrainVaeArgs {
    /// Folders (searched recursively) or files of uint8 [T, H, W, 3] .npy episodes.
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Validation episodes (default: a `val` folder beside the first --data folder, if any).
    #[arg(long, num_args = 1..)]
    val: Vec<PathBuf>,
    /// Output folder: the checkpoint (config.json, model.mpk, optimizer.mpk, meta.json),
    /// metrics.jsonl and recon.mp4.
    #[arg(long)]
    out: PathBuf,
    /// Optimiser steps in all (with --resume: counting the steps already done).
    #[arg(long, default_value_t = 3000, allow_negative_numbers = true)]
    steps: usize,
    /// Stop after this many minutes of training even if --steps is not reached.
    #[arg(long)]
    minutes: Option<f64>,
    /// Clips per batch.
    #[arg(long, default_value_t = 4, allow_negative_numbers = true)]
    batch: usize,
    /// Frames per training clip.
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    clip: usize,
    /// Largest step between a clip's frames (the reward's windows are ~17 steps apart).
    #[arg(long, default_value_t = 17, allow_negative_numbers = true)]
    max_stride: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Save the checkpoint and measure validation PSNR every N steps.
    #[arg(long, default_value_t = 250, allow_negative_numbers = true)]
    checkpoint_every: usize,
    /// Continue the run saved in --out.
    #[arg(long)]
    resume: bool,
    /// cpu (burn-flex) or wgpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Latent channels per frame and position.
    #[arg(long, default_value_t = 4)]
    latent: usize,
    /// Channels at full, half and quarter-and-below resolution, e.g. 32,64,64.
    #[arg(long, default_value = "32,64,64")]
    channels: String,
    /// Residual causal 3D blocks in encoder and decoder.
    #[arg(long, default_value_t = 2)]
    temporal_blocks: usize,
    /// Model input size (frames are resized to it).
    #[arg(long, default_value_t = 64)]
    frame_size: usize,
    #[arg(long, default_value_t = 1e-4)]
    kl_weight: f64,
}

fn parse_channels(s: &str) -> Result<[usize; 3]> {
    let v: Vec<usize> = s
        .split(',')
        .map(|x| x.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--channels must be three numbers like 32,64,64"))?;
    match v.as_slice() {
        [a, b, c] if *a > 0 && *b > 0 && *c > 0 => Ok([*a, *b, *c]),
        _ => bail!("--channels must be three positive numbers like 32,64,64"),
    }
}

#[derive(serde::Serialize)]
struct TrainLine {
    step: usize,
    loss: f64,
    mse: f64,
    kl: f64,
    train_psnr_db: f64,
    frames_per_sec: f64,
    elapsed_s: f64,
}

struct TrainJob {
    a: TrainVaeArgs,
    config: VideoVaeConfig,
    train: Vec<Episode>,
    val: Vec<Episode>,
}

impl BackendJob for TrainJob {
    type Output = Result<serde_json::Value>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let TrainJob {
            a,
            config,
            train,
            val,
        } = self;
        B::seed(&device, a.seed);
        let (mut trainer, mut step, mut elapsed) = if a.resume {
            let t = VaeTrainer::<B>::resume(&a.out, a.lr, &device)?;
            let meta: serde_json::Value = std::fs::read_to_string(a.out.join("meta.json"))
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            let step = meta["step"].as_u64().unwrap_or(0) as usize;
            let secs = meta["train_seconds"].as_f64().unwrap_or(0.0);
            (t, step, secs)
        } else {
            (VaeTrainer::<B>::new(config.clone(), a.lr, &device), 0, 0.0)
        };
        let size = trainer.config.frame_size;
        let mut rng = ChaCha8Rng::seed_from_u64(a.seed.wrapping_add(step as u64));
        let metrics_path = a.out.join("metrics.jsonl");
        let mut metrics = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .with_context(|| format!("cannot write {}", metrics_path.display()))?;
        let bar = ProgressBar::new(a.steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:25}] {pos}/{len} steps (eta {eta})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_position(step as u64);
        let stop = crate::interrupt_flag();
        let deadline = a
            .minutes
            .map(|m| Instant::now() + std::time::Duration::from_secs_f64(m * 60.0));
        let mut last_val = f64::NAN;
        // Validation PSNR, logged to the metrics file (NaN without validation data).
        let validate = |model: &VideoVae<B::InnerBackend>,
                        step: usize,
                        metrics: &mut std::fs::File|
         -> Result<f64> {
            if val.is_empty() {
                return Ok(f64::NAN);
            }
            let v = val_psnr(model, &val, size);
            writeln!(
                metrics,
                "{}",
                serde_json::json!({"step": step, "val_psnr_db": v})
            )?;
            Ok(v)
        };
        let mut window = Vec::new();
        let t_start = Instant::now();
        let elapsed0 = elapsed;
        let save =
            |trainer: &VaeTrainer<B>, step: usize, elapsed: f64, val_psnr: f64| -> Result<()> {
                let meta = serde_json::json!({
                    "step": step,
                    "train_seconds": elapsed,
                    "val_psnr_db": if val_psnr.is_finite() { Some(val_psnr) } else { None },
                    "command": std::env::args().collect::<Vec<_>>(),
                    "data": a.data.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
                    "val": a.val.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
                    "train_episodes": train.len(),
                    "val_episodes": val.len(),
                    "batch": a.batch, "clip": a.clip, "max_stride": a.max_stride, "lr": a.lr,
                    "device": a.device,
                    "genreward_version": env!("CARGO_PKG_VERSION"),
                });
                trainer.save(&a.out, &meta)?;
                Ok(())
            };
        while step < a.steps {
            if stop.load(std::sync::atomic::Ordering::SeqCst)
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                break;
            }
            let t = Instant::now();
            let clips: Vec<Vec<&[u8]>> = (0..a.batch)
                .map(|_| random_clip(&train, a.clip, a.max_stride, &mut rng))
                .collect();
            let flat: Vec<&[u8]> = clips.iter().flatten().copied().collect();
            let batch = clips_to_tensor::<B>(&flat, a.batch, a.clip, size, &device);
            let s = trainer.step(batch);
            step += 1;
            let dt = t.elapsed().as_secs_f64();
            window.push((a.batch * a.clip) as f64 / dt);
            if window.len() > 20 {
                window.remove(0);
            }
            let fps = median(&window);
            bar.set_position(step as u64);
            bar.set_message(format!(
                "loss {:.4}  psnr {:.1} dB  val {:.1} dB  {:.0} frames/s",
                s.loss,
                psnr_db(s.mse),
                last_val,
                fps
            ));
            if !s.loss.is_finite() {
                bail!(
                    "the training loss became {} at step {step}; lower --lr",
                    s.loss
                );
            }
            elapsed = elapsed0 + t_start.elapsed().as_secs_f64();
            if step % 10 == 0 || step == 1 {
                let line = TrainLine {
                    step,
                    loss: s.loss,
                    mse: s.mse,
                    kl: s.kl,
                    train_psnr_db: psnr_db(s.mse),
                    frames_per_sec: fps,
                    elapsed_s: elapsed,
                };
                writeln!(metrics, "{}", serde_json::to_string(&line)?)?;
            }
            if step % a.checkpoint_every == 0 {
                last_val = validate(&trainer.model.valid(), step, &mut metrics)?;
                save(&trainer, step, elapsed, last_val)?;
            }
        }
        bar.finish_and_clear();
        let model = trainer.model.valid();
        last_val = validate(&model, step, &mut metrics)?;
        save(&trainer, step, elapsed, last_val)?;
        // A side-by-side video a person can judge: validation episodes, input above,
        // reconstruction below.
        let show: Vec<&Episode> = if val.is_empty() {
            train.iter().take(2).collect()
        } else {
            val.iter().step_by((val.len() / 3).max(1)).take(3).collect()
        };
        let mut top = Vec::new();
        for ep in show {
            top.extend(ep.frames.iter().cloned());
        }
        let (recon, _) = reconstruct_frames(&model, &top, size);
        write_side_by_side(&a.out.join("recon.mp4"), &top, &recon, size as u32, 4)?;
        Ok(serde_json::json!({
            "out": a.out.display().to_string(),
            "steps": step,
            "train_seconds": elapsed,
            "val_psnr_db": if last_val.is_finite() { Some(last_val) } else { None },
            "frames_per_sec": median(&window),
            "device": a.device,
        }))
    }
}

/// The device a model's weights live on.
fn model_device<B: Backend>(model: &VideoVae<B>) -> B::Device {
    use burn::module::Module;
    model
        .devices()
        .into_iter()
        .next()
        .expect("a model with weights")
}

/// Validation PSNR: every validation episode seen as the reward sees it (16 frames sampled
/// uniformly), mean squared error over all of them.
fn val_psnr<B: Backend>(model: &VideoVae<B>, val: &[Episode], size: usize) -> f64 {
    let device = &model_device(model);
    let mut total = 0.0;
    for chunk in val.chunks(4) {
        let flat: Vec<&[u8]> = chunk.iter().flat_map(reward_window).collect();
        let x = clips_to_tensor::<B>(&flat, chunk.len(), WINDOW, size, device);
        total += eval_mse(model, x) * chunk.len() as f64;
    }
    psnr_db(total / val.len() as f64)
}

/// Reconstructs consecutive frames in 16-frame chunks; returns the frames and the PSNR over all.
pub fn reconstruct_frames<B: Backend>(
    model: &VideoVae<B>,
    frames: &[Vec<u8>],
    size: usize,
) -> (Vec<Vec<u8>>, f64) {
    let device = &model_device(model);
    let mut out = Vec::with_capacity(frames.len());
    let mut se = 0.0;
    for chunk in frames.chunks(WINDOW) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        let x = clips_to_tensor::<B>(&refs, 1, refs.len(), size, device);
        let r = model.forward(x.clone(), false).recon;
        let rf = tensor_to_frames(r);
        for (a, b) in chunk.iter().zip(&rf) {
            se += a
                .iter()
                .zip(b)
                .map(|(&x, &y)| {
                    let d = (x as f64 - y as f64) / 255.0;
                    d * d
                })
                .sum::<f64>();
        }
        out.extend(rf);
    }
    let n = frames.iter().map(Vec::len).sum::<usize>().max(1) as f64;
    let mse01 = se / n;
    (out, 10.0 * (1.0 / mse01.max(1e-12)).log10())
}

/// Writes input above reconstruction, each `size x size`, scaled up `scale` times (nearest).
pub fn write_side_by_side(
    path: &Path,
    top: &[Vec<u8>],
    bottom: &[Vec<u8>],
    size: u32,
    scale: u32,
) -> Result<()> {
    let (w, h) = (size * scale, 2 * size * scale);
    let mut writer = VideoWriter::create(path, w, h, 16)?;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    for (a, b) in top.iter().zip(bottom) {
        for y in 0..h {
            let (src, sy) = if y < size * scale {
                (a, y / scale)
            } else {
                (b, (y - size * scale) / scale)
            };
            for x in 0..w {
                let s = ((sy * size + x / scale) * 3) as usize;
                let d = ((y * w + x) * 3) as usize;
                buf[d..d + 3].copy_from_slice(&src[s..s + 3]);
            }
        }
        writer.write_frame(&buf)?;
    }
    writer.finish()?;
    Ok(())
}

pub fn train_vae(a: TrainVaeArgs) -> Result<()> {
    let device = parse_device(&a.device)?;
    if a.steps == 0 || a.batch == 0 || a.clip < 2 || a.checkpoint_every == 0 || a.max_stride == 0 {
        bail!("--steps, --batch, --checkpoint-every and --max-stride must be at least 1 and --clip at least 2");
    }
    if !(a.lr > 0.0 && a.lr.is_finite()) {
        bail!("--lr must be a positive number");
    }
    if a.frame_size == 0 || a.frame_size % 8 != 0 {
        bail!("--frame-size must be a positive multiple of 8");
    }
    let config = VideoVaeConfig::new()
        .with_latent_channels(a.latent)
        .with_channels(parse_channels(&a.channels)?)
        .with_temporal_blocks(a.temporal_blocks)
        .with_frame_size(a.frame_size)
        .with_kl_weight(a.kl_weight);
    let size = if a.resume {
        genreward_reward::load::vae_frame_size(&a.out)?
    } else {
        a.frame_size as u32
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let train = load_episodes(&a.data, size)?;
    let val_dirs = if a.val.is_empty() {
        a.data
            .first()
            .and_then(|d| d.parent().map(|p| p.join("val")))
            .filter(|p| p.is_dir())
            .into_iter()
            .collect()
    } else {
        a.val.clone()
    };
    let val = if val_dirs.is_empty() {
        Vec::new()
    } else {
        load_episodes(&val_dirs, size)?
    };
    eprintln!(
        "training on {} episodes ({} frames), validating on {}",
        train.len(),
        train.iter().map(|e| e.frames.len()).sum::<usize>(),
        val.len()
    );
    let out = run_on(
        device,
        TrainJob {
            a,
            config,
            train,
            val,
        },
    )?;
    println!("{out}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// reconstruct

#[derive(clap::Args, Debug)]
pub struct ReconstructArgs {
    /// VAE checkpoint folder (default: the shipped assets/models/vae).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Any readable video (.mp4, .gif, .npy, a folder of .png).
    #[arg(long)]
    video: PathBuf,
    /// The side-by-side video (.mp4 or .gif): input above, reconstruction below.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "cpu")]
    device: String,
}

struct ReconJob {
    vae: PathBuf,
    frames: Vec<Vec<u8>>,
    out: PathBuf,
}

impl BackendJob for ReconJob {
    type Output = Result<f64>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let enc = genreward_reward::load_encoder::<B>(&self.vae, device)?;
        let size = enc.size();
        let model = enc.model().valid();
        let (recon, psnr) = reconstruct_frames(&model, &self.frames, size as usize);
        write_side_by_side(&self.out, &self.frames, &recon, size, 4)?;
        Ok(psnr)
    }
}

pub fn reconstruct(a: ReconstructArgs) -> Result<()> {
    let device = parse_device(&a.device)?;
    genreward_record::VideoFormat::from_path(&a.out)?;
    let vae = vae_dir(&a.vae);
    let size = genreward_reward::load::vae_frame_size(&vae)?;
    let video = load_video(&a.video)?;
    let frames: Vec<Vec<u8>> = video
        .frames
        .iter()
        .map(|f| to_model_input(f, video.width, video.height, size))
        .collect();
    let psnr = run_on(
        device,
        ReconJob {
            vae,
            frames,
            out: a.out.clone(),
        },
    )?;
    println!(
        "{}",
        serde_json::json!({"psnr_db": psnr, "frames": video.len(), "out": a.out.display().to_string()})
    );
    Ok(())
}
