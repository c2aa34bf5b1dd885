//! The video VAE: [`train_vae`] (on the episodes of `genreward_episodes::write_dataset`) and
//! [`reconstruct`] (any video through a checkpoint, input above reconstruction).

use crate::error::{bail, During};
use crate::json::{finite, nan_if_null};
use crate::train_loop::TrainLoop;
use crate::Result;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use genreward_episodes::{load_episodes, Episode};
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::frames::{clips_to_tensor, tensor_to_frames};
use genreward_models::train::{eval_mse, VaeTrainer};
use genreward_models::vae::psnr_db;
use genreward_models::{DeviceKind, VideoVae, VideoVaeConfig};
use genreward_record::{load_video, VideoWriter};
use genreward_reward::prep::to_model_input;
use genreward_reward::{uniform_indices, WINDOW};
use genreward_stats::median;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
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

/// What [`train_vae`] trains, on what, and where it writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainVaeConfig {
    /// Folders (searched recursively) or files of uint8 `[T, H, W, 3]` .npy episodes.
    pub data: Vec<PathBuf>,
    /// Validation episodes (empty: a `val` folder beside the first data folder, if any).
    pub val: Vec<PathBuf>,
    /// Output folder: the checkpoint (config.json, model.mpk, optimizer.mpk, meta.json),
    /// metrics.jsonl and recon.mp4.
    pub out: PathBuf,
    /// Optimiser steps in all (when resuming: counting the steps already done).
    pub steps: usize,
    /// Stop after this many minutes of training even if `steps` is not reached.
    pub minutes: Option<f64>,
    /// Clips per batch.
    pub batch: usize,
    /// Frames per training clip (at least 2).
    pub clip: usize,
    /// Largest step between a clip's frames.
    pub max_stride: usize,
    pub lr: f64,
    pub seed: u64,
    /// Save the checkpoint and measure validation PSNR every N steps.
    pub checkpoint_every: usize,
    /// Continue the run saved in `out` (its model config wins over the one here).
    pub resume: bool,
    pub device: DeviceKind,
    /// Latent channels per frame and position.
    pub latent: usize,
    /// Channels at 1/2, 1/4 and 1/8 resolution.
    pub channels: [usize; 3],
    /// Residual causal 3D blocks in encoder and decoder.
    pub temporal_blocks: usize,
    /// Model input size (a positive multiple of 8).
    pub frame_size: usize,
    pub kl_weight: f64,
    /// The command line that asked for the run, recorded in `meta.json`.
    #[serde(default)]
    pub command: Vec<String>,
}

impl TrainVaeConfig {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0
            || self.batch == 0
            || self.clip < 2
            || self.checkpoint_every == 0
            || self.max_stride == 0
        {
            bail!("the steps, batch, checkpoint interval and largest stride must be at least 1 and the clip at least 2 frames");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!(
                "the learning rate must be a positive number (got {})",
                self.lr
            );
        }
        if self.frame_size == 0 || !self.frame_size.is_multiple_of(8) {
            bail!(
                "the frame size must be a positive multiple of 8 (got {})",
                self.frame_size
            );
        }
        if self.channels.contains(&0) {
            bail!(
                "the channel counts must be positive (got {:?})",
                self.channels
            );
        }
        Ok(())
    }

    fn model_config(&self) -> VideoVaeConfig {
        VideoVaeConfig::new()
            .with_latent_channels(self.latent)
            .with_channels(self.channels)
            .with_temporal_blocks(self.temporal_blocks)
            .with_frame_size(self.frame_size)
            .with_kl_weight(self.kl_weight)
    }

    /// The validation folders: the ones given, else a `val` folder beside the first data one.
    fn val_dirs(&self) -> Vec<PathBuf> {
        if !self.val.is_empty() {
            return self.val.clone();
        }
        self.data
            .first()
            .and_then(|d| d.parent().map(|p| p.join("val")))
            .filter(|p| p.is_dir())
            .into_iter()
            .collect()
    }
}

/// What [`train_vae`] did (the last line `train vae` prints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeReport {
    pub device: DeviceKind,
    /// Median over the last 20 steps.
    pub frames_per_sec: f64,
    pub out: String,
    /// Steps done in all (a resumed run's included).
    pub steps: usize,
    pub train_seconds: f64,
    /// The last validation PSNR (`None` without validation data).
    pub val_psnr_db: Option<f64>,
}

/// A VAE checkpoint's `meta.json` as [`train_vae`] writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VaeMeta {
    pub step: usize,
    pub train_seconds: f64,
    pub val_psnr_db: Option<f64>,
    pub command: Vec<String>,
    pub data: Vec<String>,
    pub val: Vec<String>,
    pub train_episodes: usize,
    pub val_episodes: usize,
    pub batch: usize,
    pub clip: usize,
    pub max_stride: usize,
    pub lr: f64,
    pub device: String,
    pub genreward_version: String,
}

/// One line of the metrics file every 10 steps.
#[derive(Serialize)]
struct TrainLine {
    step: usize,
    loss: f64,
    mse: f64,
    kl: f64,
    train_psnr_db: f64,
    frames_per_sec: f64,
    elapsed_s: f64,
}

/// A validation line of the metrics file.
#[derive(Serialize)]
struct ValLine {
    step: usize,
    val_psnr_db: f64,
}

fn paths(v: &[PathBuf]) -> Vec<String> {
    v.iter().map(|d| d.display().to_string()).collect()
}

/// Trains (or, with `resume`, goes on training) the video VAE: checkpoints every
/// `checkpoint_every` steps and at the end, `recon.mp4` of a few validation episodes.
/// `bar` shows the steps; `stop`, once set, ends the run after the step in hand (saved).
pub fn train_vae(
    cfg: &TrainVaeConfig,
    bar: &ProgressBar,
    stop: Arc<AtomicBool>,
) -> Result<VaeReport> {
    cfg.validate()?;
    let size = if cfg.resume {
        genreward_reward::load::vae_frame_size(&cfg.out)?
    } else {
        cfg.frame_size as u32
    };
    std::fs::create_dir_all(&cfg.out).during(|| format!("cannot create {}", cfg.out.display()))?;
    let train = load_episodes(&cfg.data, size)?;
    let val_dirs = cfg.val_dirs();
    let val = if val_dirs.is_empty() {
        Vec::new()
    } else {
        load_episodes(&val_dirs, size)?
    };
    tracing::info!(
        "training on {} episodes ({} frames), validating on {}",
        train.len(),
        train.iter().map(|e| e.frames.len()).sum::<usize>(),
        val.len()
    );
    run_on(
        cfg.device,
        TrainJob {
            cfg,
            train,
            val,
            bar,
            stop,
        },
    )
}

struct TrainJob<'a> {
    cfg: &'a TrainVaeConfig,
    train: Vec<Episode>,
    val: Vec<Episode>,
    bar: &'a ProgressBar,
    stop: Arc<AtomicBool>,
}

impl TrainJob<'_> {
    fn meta(&self, lp: &TrainLoop, val_psnr: f64) -> VaeMeta {
        let c = self.cfg;
        VaeMeta {
            step: lp.step,
            train_seconds: lp.elapsed(),
            val_psnr_db: finite(val_psnr),
            command: c.command.clone(),
            data: paths(&c.data),
            val: paths(&c.val),
            train_episodes: self.train.len(),
            val_episodes: self.val.len(),
            batch: c.batch,
            clip: c.clip,
            max_stride: c.max_stride,
            lr: c.lr,
            device: c.device.to_string(),
            genreward_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Validation PSNR, logged to the metrics file (NaN without validation data).
    fn validate<B: Backend>(
        &self,
        model: &VideoVae<B>,
        size: usize,
        device: &B::Device,
        lp: &mut TrainLoop,
    ) -> Result<f64> {
        if self.val.is_empty() {
            return Ok(f64::NAN);
        }
        let v = val_psnr(model, &self.val, size, device)?;
        lp.log(&ValLine {
            step: lp.step,
            val_psnr_db: v,
        })?;
        Ok(v)
    }

    fn save<B: AutodiffBackend>(
        &self,
        trainer: &VaeTrainer<B>,
        lp: &TrainLoop,
        val_psnr: f64,
    ) -> Result<()> {
        let meta = serde_json::to_value(self.meta(lp, val_psnr))?;
        trainer.save(&self.cfg.out, &meta)?;
        Ok(())
    }

    /// A side-by-side video a person can judge: validation episodes, input above,
    /// reconstruction below.
    fn write_recon<B: Backend>(
        &self,
        model: &VideoVae<B>,
        size: usize,
        device: &B::Device,
    ) -> Result<()> {
        let show: Vec<&Episode> = if self.val.is_empty() {
            self.train.iter().take(2).collect()
        } else {
            let step = (self.val.len() / 3).max(1);
            self.val.iter().step_by(step).take(3).collect()
        };
        let top: Vec<Vec<u8>> = show.iter().flat_map(|e| e.frames.iter().cloned()).collect();
        let (recon, _) = reconstruct_frames(model, &top, size, device)?;
        write_side_by_side(
            &self.cfg.out.join("recon.mp4"),
            &top,
            &recon,
            size as u32,
            4,
        )
    }
}

impl BackendJob for TrainJob<'_> {
    type Output = Result<VaeReport>;
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
        let mut trainer = if c.resume {
            VaeTrainer::<B>::resume(&c.out, c.lr, &device)?
        } else {
            VaeTrainer::<B>::new(c.model_config(), c.lr, &device)
        };
        let size = trainer.config.frame_size;
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed.wrapping_add(lp.step as u64));
        let mut last_val = f64::NAN;
        let mut window = Vec::new();
        while !lp.done() {
            let t = Instant::now();
            let clips: Vec<Vec<&[u8]>> = (0..c.batch)
                .map(|_| random_clip(&self.train, c.clip, c.max_stride, &mut rng))
                .collect();
            let flat: Vec<&[u8]> = clips.iter().flatten().copied().collect();
            let batch = clips_to_tensor::<B>(&flat, c.batch, c.clip, size, &device)?;
            let s = trainer.step(batch);
            window.push((c.batch * c.clip) as f64 / t.elapsed().as_secs_f64());
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
                    "the training loss became {} at step {step}; lower the learning rate",
                    s.loss
                );
            }
            if step % 10 == 0 || step == 1 {
                lp.log(&TrainLine {
                    step,
                    loss: s.loss,
                    mse: s.mse,
                    kl: s.kl,
                    train_psnr_db: psnr_db(s.mse),
                    frames_per_sec: fps,
                    elapsed_s: lp.elapsed(),
                })?;
            }
            if step % c.checkpoint_every == 0 {
                last_val = self.validate(&trainer.model.valid(), size, &device, &mut lp)?;
                self.save(&trainer, &lp, last_val)?;
            }
        }
        lp.finish();
        let model = trainer.model.valid();
        last_val = self.validate(&model, size, &device, &mut lp)?;
        self.save(&trainer, &lp, last_val)?;
        self.write_recon(&model, size, &device)?;
        Ok(VaeReport {
            device: c.device,
            frames_per_sec: median(&window),
            out: c.out.display().to_string(),
            steps: lp.step,
            train_seconds: lp.elapsed(),
            val_psnr_db: finite(last_val),
        })
    }
}

/// Validation PSNR: every validation episode seen as the reward sees it (16 frames sampled
/// uniformly), mean squared error over all of them.
fn val_psnr<B: Backend>(
    model: &VideoVae<B>,
    val: &[Episode],
    size: usize,
    device: &B::Device,
) -> Result<f64> {
    let mut total = 0.0;
    for chunk in val.chunks(4) {
        let flat: Vec<&[u8]> = chunk.iter().flat_map(reward_window).collect();
        let x = clips_to_tensor::<B>(&flat, chunk.len(), WINDOW, size, device)?;
        total += eval_mse(model, x) * chunk.len() as f64;
    }
    Ok(psnr_db(total / val.len() as f64))
}

/// Reconstructs consecutive frames in 16-frame chunks; returns the frames and the PSNR over all.
/// Frames must be `size x size` RGB.
pub fn reconstruct_frames<B: Backend>(
    model: &VideoVae<B>,
    frames: &[Vec<u8>],
    size: usize,
    device: &B::Device,
) -> Result<(Vec<Vec<u8>>, f64)> {
    let mut out = Vec::with_capacity(frames.len());
    let mut se = 0.0;
    for chunk in frames.chunks(WINDOW) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        let x = clips_to_tensor::<B>(&refs, 1, refs.len(), size, device)?;
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
    Ok((out, 10.0 * (1.0 / mse01.max(1e-12)).log10()))
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

// ---------------------------------------------------------------------------------------------
// reconstruct

/// What [`reconstruct`] reads and writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReconstructConfig {
    /// VAE checkpoint folder (`None`: the shipped one).
    pub vae: Option<PathBuf>,
    /// Any readable video (.mp4, .gif, .npy, a folder of .png).
    pub video: PathBuf,
    /// The side-by-side video (.mp4 or .gif): input above, reconstruction below.
    pub out: PathBuf,
    pub device: DeviceKind,
}

/// What [`reconstruct`] did (the line `reconstruct` prints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReconstructReport {
    pub frames: usize,
    pub out: String,
    #[serde(deserialize_with = "nan_if_null")]
    pub psnr_db: f64,
}

struct ReconJob {
    vae: PathBuf,
    frames: Vec<Vec<u8>>,
    out: PathBuf,
}

impl BackendJob for ReconJob {
    type Output = Result<f64>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let enc = genreward_reward::load_encoder::<B>(&self.vae, device.clone())?;
        let size = enc.size();
        let model = enc.model().valid();
        let (recon, psnr) = reconstruct_frames(&model, &self.frames, size as usize, &device)?;
        write_side_by_side(&self.out, &self.frames, &recon, size, 4)?;
        Ok(psnr)
    }
}

/// Reconstructs a video through the VAE and writes input above reconstruction, 4x.
pub fn reconstruct(cfg: &ReconstructConfig) -> Result<ReconstructReport> {
    genreward_record::VideoFormat::from_path(&cfg.out)?;
    let vae = cfg
        .vae
        .clone()
        .unwrap_or_else(genreward_reward::default_vae_dir);
    let size = genreward_reward::load::vae_frame_size(&vae)?;
    let video = load_video(&cfg.video)?;
    let frames: Vec<Vec<u8>> = video
        .frames
        .iter()
        .map(|f| to_model_input(f, video.width, video.height, size))
        .collect::<Result<_, _>>()?;
    let psnr = run_on(
        cfg.device,
        ReconJob {
            vae,
            frames,
            out: cfg.out.clone(),
        },
    )?;
    Ok(ReconstructReport {
        frames: video.len(),
        out: cfg.out.display().to_string(),
        psnr_db: psnr,
    })
}
