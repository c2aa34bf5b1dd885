//! The video VAE on the command line: `train vae` and `reconstruct` (the data: `dataset.rs`).

use crate::dataset::{load_episodes, Episode};
use crate::score::{median, parse_device, vae_dir};
use crate::train_loop::TrainLoop;
use anyhow::{bail, Context, Result};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::frames::{clips_to_tensor, tensor_to_frames};
use genreward_models::train::{eval_mse, VaeTrainer};
use genreward_models::vae::psnr_db;
use genreward_models::{VideoVae, VideoVaeConfig};
use genreward_record::{load_video, VideoWriter};
use genreward_reward::prep::to_model_input;
use genreward_reward::{uniform_indices, WINDOW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// Channels at 1/2, 1/4 and 1/8 resolution, e.g. 16,32,64.
    #[arg(long, default_value = "16,32,64")]
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
        .map_err(|_| anyhow::anyhow!("--channels must be three numbers like 16,32,64"))?;
    match v.as_slice() {
        [a, b, c] if *a > 0 && *b > 0 && *c > 0 => Ok([*a, *b, *c]),
        _ => bail!("--channels must be three positive numbers like 16,32,64"),
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
        let mut lp = TrainLoop::open(&a.out, a.steps, a.minutes, a.resume)?;
        let mut trainer = if a.resume {
            VaeTrainer::<B>::resume(&a.out, a.lr, &device)?
        } else {
            VaeTrainer::<B>::new(config.clone(), a.lr, &device)
        };
        let size = trainer.config.frame_size;
        let mut rng = ChaCha8Rng::seed_from_u64(a.seed.wrapping_add(lp.step as u64));
        let mut last_val = f64::NAN;
        // Validation PSNR, logged to the metrics file (NaN without validation data).
        let validate = |model: &VideoVae<B::InnerBackend>, lp: &mut TrainLoop| -> Result<f64> {
            if val.is_empty() {
                return Ok(f64::NAN);
            }
            let v = val_psnr(model, &val, size);
            lp.log(&serde_json::json!({"step": lp.step, "val_psnr_db": v}))?;
            Ok(v)
        };
        let mut window = Vec::new();
        let save = |trainer: &VaeTrainer<B>, lp: &TrainLoop, val_psnr: f64| -> Result<()> {
            let meta = serde_json::json!({
                "step": lp.step,
                "train_seconds": lp.elapsed(),
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
        while !lp.done() {
            let t = Instant::now();
            let clips: Vec<Vec<&[u8]>> = (0..a.batch)
                .map(|_| random_clip(&train, a.clip, a.max_stride, &mut rng))
                .collect();
            let flat: Vec<&[u8]> = clips.iter().flatten().copied().collect();
            let batch = clips_to_tensor::<B>(&flat, a.batch, a.clip, size, &device);
            let s = trainer.step(batch);
            let dt = t.elapsed().as_secs_f64();
            window.push((a.batch * a.clip) as f64 / dt);
            if window.len() > 20 {
                window.remove(0);
            }
            let fps = median(&window);
            lp.advance(format!(
                "loss {:.4}  psnr {:.1} dB  val {:.1} dB  {:.0} frames/s",
                s.loss,
                psnr_db(s.mse),
                last_val,
                fps
            ));
            let step = lp.step;
            if !s.loss.is_finite() {
                bail!(
                    "the training loss became {} at step {step}; lower --lr",
                    s.loss
                );
            }
            if step % 10 == 0 || step == 1 {
                let line = TrainLine {
                    step,
                    loss: s.loss,
                    mse: s.mse,
                    kl: s.kl,
                    train_psnr_db: psnr_db(s.mse),
                    frames_per_sec: fps,
                    elapsed_s: lp.elapsed(),
                };
                lp.log(&line)?;
            }
            if step % a.checkpoint_every == 0 {
                last_val = validate(&trainer.model.valid(), &mut lp)?;
                save(&trainer, &lp, last_val)?;
            }
        }
        lp.finish();
        let model = trainer.model.valid();
        last_val = validate(&model, &mut lp)?;
        save(&trainer, &lp, last_val)?;
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
            "steps": lp.step,
            "train_seconds": lp.elapsed(),
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
    if a.frame_size == 0 || !a.frame_size.is_multiple_of(8) {
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
