//! The goal-video generator's training data: for every task and placement seed, the scripted
//! expert's goal video as the reward reads it (held to `length` frames, 16 frames sampled
//! uniformly), stored as its VAE latent (`[C, 16, h, w]`) beside the first frame it starts from.
//!
//! Seeds come from fixed, disjoint ranges so training never sees a validation or evaluation
//! scene: training from [`GOAL_TRAIN_SEED`], validation from [`GOAL_VAL_SEED`], and the
//! evaluation of generated goals from [`GOAL_EVAL_SEED`] (not written here). Other evaluations use
//! 8000-9019 and the VAE/FB data 1000-1501, all below these.
//!
//! The expert runs twice per seed: once without pictures to find its first success (which fixes
//! the video's length and so the sampled steps), then in lockstep with the other seeds of a
//! chunk, rendering only the 16 sampled steps in one batch per step. The frames are the ones
//! [`crate::expert_goal_frames`] would give at those steps.
//!
//! Layout: `<out>/{train,val}/<task>/latents.npy` (float32 `[N, C, 16, h, w]`),
//! `first.npy` (uint8 `[N, H, W, 3]`, the scene before the first step), `seeds.json` (the seeds
//! kept, each one's first success, the seeds skipped because the expert failed), and
//! `<out>/goal_data.json` (the ranges, the VAE and its fingerprint, the camera, the length).

use crate::error::bail;
use crate::{EpisodesError, Result, HOLD_STEPS};
use genreward_record::{save_frames, write_npy_f32};
use genreward_render::{render_envs, Renderer, ViewSpec};
use genreward_reward::{uniform_indices, VideoEncoder, WINDOW};
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};

/// First training seed of the generator's data.
pub const GOAL_TRAIN_SEED: u32 = 10_000;
/// First validation seed.
pub const GOAL_VAL_SEED: u32 = 20_000;
/// First seed of the generated goals' evaluation (`eval-goals`), never written as data.
pub const GOAL_EVAL_SEED: u32 = 30_000;
/// The most seeds per split and task (the ranges above stay disjoint).
pub const GOAL_MAX_SEEDS: usize = 10_000;

/// The expert gives up after this many steps, as `genreward goal` does by default.
const MAX_STEPS: usize = 500;
/// Seeds simulated and rendered together.
const CHUNK: usize = 64;

/// What [`write_goal_data`] writes.
#[derive(Clone, Debug)]
pub struct GoalDataConfig {
    pub out: PathBuf,
    pub tasks: Vec<TaskKind>,
    /// Training seeds per task (from [`GOAL_TRAIN_SEED`]).
    pub train: usize,
    /// Validation seeds per task (from [`GOAL_VAL_SEED`]).
    pub val: usize,
    /// The camera and size of the frames (the VAE's size).
    pub view: ViewSpec,
    /// Frames of the goal video the 16 are sampled from (the episode's length, 256 in the paper).
    pub length: usize,
    /// The VAE folder (recorded in `goal_data.json`).
    pub vae: PathBuf,
}

/// What [`write_goal_data`] made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GoalDataReport {
    pub out: String,
    /// Goal videos written, over tasks and splits.
    pub videos: usize,
    /// Seeds whose expert failed within 500 steps (left out).
    pub skipped: usize,
    pub seconds: f64,
}

#[derive(serde::Serialize)]
struct SplitSeeds {
    seeds: Vec<u32>,
    success_steps: Vec<usize>,
    skipped: Vec<u32>,
}

/// The goal video's length in frames for an expert first successful after `success` steps:
/// [`crate::expert_goal_frames`] keeps `hold` frames after it and at least `length` in all.
pub fn goal_video_frames(success: usize, hold: usize, length: usize) -> usize {
    (success + hold).max(length.saturating_sub(1)) + 1
}

/// Steps until the expert first succeeds on `seed`, or `None` within [`MAX_STEPS`].
fn first_success(task: TaskKind, seed: u32) -> Result<Option<usize>> {
    let (mut env, mut expert) = expert_on(task, seed, MAX_STEPS + 1);
    for step in 0..MAX_STEPS {
        let r = env.step(expert_action(&mut expert, &env))?;
        if r.info.is_success() {
            return Ok(Some(step + 1));
        }
    }
    Ok(None)
}

fn expert_on(task: TaskKind, seed: u32, steps: usize) -> (Env, Policy) {
    let mut env = Env::new(task, seed, PhysicsConfig::default());
    env.set_max_path_length(steps);
    let mut expert = Policy::new(PolicyKind::Expert, task, 0.0, seed as u64);
    expert.reset(task, seed, 0);
    (env, expert)
}

fn expert_action(expert: &mut Policy, env: &Env) -> [f64; 4] {
    let obs = *env.last_obs();
    Actor::act(
        expert,
        &Observation {
            state: &obs,
            pixels: None,
        },
    )
}

/// The 16 sampled frames of each seed's goal video (with `success[i]` its first success), the
/// seeds stepped in lockstep and only the sampled steps rendered.
fn sampled_frames(
    task: TaskKind,
    seeds: &[u32],
    success: &[usize],
    view: ViewSpec,
    length: usize,
    renderer: &mut Renderer,
) -> Result<Vec<Vec<Vec<u8>>>> {
    let totals: Vec<usize> = success
        .iter()
        .map(|&s| goal_video_frames(s, HOLD_STEPS, length))
        .collect();
    let picks: Vec<Vec<usize>> = totals.iter().map(|&n| uniform_indices(n, WINDOW)).collect();
    let longest = totals.iter().copied().max().unwrap_or(0);
    let mut pairs: Vec<(Env, Policy)> = seeds
        .iter()
        .zip(&totals)
        .map(|(&s, &n)| expert_on(task, s, n + 1))
        .collect();
    let mut out = vec![Vec::with_capacity(WINDOW); seeds.len()];
    for step in 0..longest {
        let due: Vec<usize> = (0..seeds.len())
            .filter(|&i| picks[i].contains(&step))
            .collect();
        if !due.is_empty() {
            let worlds: Vec<_> = due.iter().map(|&i| pairs[i].0.world()).collect();
            let shots = render_envs(renderer, &worlds, view)?;
            for (&i, shot) in due.iter().zip(shots) {
                // A repeated index (fewer than 16 frames) takes the frame again.
                let times = picks[i].iter().filter(|&&k| k == step).count();
                for _ in 0..times {
                    out[i].push(shot.rgb.clone());
                }
            }
        }
        for (i, (env, expert)) in pairs.iter_mut().enumerate() {
            if step + 1 < totals[i] {
                let a = expert_action(expert, env);
                env.step(a)?;
            }
        }
    }
    Ok(out)
}

/// The expert's goal videos of some seeds of one task, as the generator's data holds them.
#[derive(Clone, Debug, Default)]
pub struct ExpertLatents {
    /// The seeds the expert solved, each one's first success, the seeds it did not solve.
    pub seeds: Vec<u32>,
    pub success_steps: Vec<usize>,
    pub skipped: Vec<u32>,
    /// Each solved seed's latent (`[C, 16, h, w]` each, one after the other).
    pub latents: Vec<f32>,
    /// Each solved seed's first frame.
    pub firsts: Vec<Vec<u8>>,
}

/// Runs the expert on `seeds` of `task` (in chunks stepped in lockstep, only the 16 sampled
/// steps rendered) and encodes each solved seed's goal video, held to `length` frames; `bar`
/// counts seeds.
pub fn expert_latents(
    task: TaskKind,
    seeds: &[u32],
    view: ViewSpec,
    length: usize,
    encoder: &VideoEncoder<impl burn::tensor::backend::Backend>,
    renderer: &mut Renderer,
    bar: &ProgressBar,
) -> Result<ExpertLatents> {
    let mut out = ExpertLatents::default();
    for chunk in seeds.chunks(CHUNK) {
        let (mut kept, mut success) = (Vec::new(), Vec::new());
        for &s in chunk {
            match first_success(task, s)? {
                Some(k) => {
                    kept.push(s);
                    success.push(k);
                }
                None => out.skipped.push(s),
            }
        }
        let frames = sampled_frames(task, &kept, &success, view, length, renderer)?;
        for clip in &frames {
            let refs: Vec<&[u8]> = clip.iter().map(Vec::as_slice).collect();
            out.latents.extend(encoder.encode(&refs)?);
            out.firsts.push(clip[0].clone());
        }
        out.seeds.extend(kept);
        out.success_steps.extend(success);
        bar.inc(chunk.len() as u64);
    }
    Ok(out)
}

/// Writes the generator's data (see the module docs); `bar` counts goal videos.
pub fn write_goal_data(
    cfg: &GoalDataConfig,
    encoder: &VideoEncoder<impl burn::tensor::backend::Backend>,
    bar: &ProgressBar,
) -> Result<GoalDataReport> {
    if cfg.tasks.is_empty() || cfg.train + cfg.val == 0 {
        bail!("goal data needs at least one task and one seed");
    }
    if cfg.train > GOAL_MAX_SEEDS || cfg.val > GOAL_MAX_SEEDS {
        bail!("at most {GOAL_MAX_SEEDS} seeds per split keep the seed ranges apart");
    }
    if cfg.view.width != encoder.size() || cfg.view.height != encoder.size() {
        bail!(
            "the frames are {}x{} but the VAE reads {s}x{s}",
            cfg.view.width,
            cfg.view.height,
            s = encoder.size()
        );
    }
    let t0 = std::time::Instant::now();
    let mut renderer = Renderer::new()?;
    bar.set_length(((cfg.train + cfg.val) * cfg.tasks.len()) as u64);
    let (mut videos, mut skipped) = (0, 0);
    for (split, start, n) in [
        ("train", GOAL_TRAIN_SEED, cfg.train),
        ("val", GOAL_VAL_SEED, cfg.val),
    ] {
        for &task in &cfg.tasks {
            if n == 0 {
                continue;
            }
            let dir = cfg.out.join(split).join(task.name());
            std::fs::create_dir_all(&dir).map_err(|e| EpisodesError::io("create", &dir, e))?;
            let all: Vec<u32> = (0..n as u32).map(|k| start + k).collect();
            let made = expert_latents(
                task,
                &all,
                cfg.view,
                cfg.length,
                encoder,
                &mut renderer,
                bar,
            )?;
            let kept = SplitSeeds {
                seeds: made.seeds,
                success_steps: made.success_steps,
                skipped: made.skipped,
            };
            let (latents, firsts) = (made.latents, made.firsts);
            let count = kept.seeds.len();
            if count > 0 {
                let c = encoder.config().latent_channels;
                let s = ((encoder.frame_feature_dim() / c) as f64).sqrt().round() as usize;
                debug_assert_eq!(latents.len(), count * c * WINDOW * s * s);
                write_npy_f32(
                    &dir.join("latents.npy"),
                    &[count, c, WINDOW, s, s],
                    &latents,
                )?;
                save_frames(
                    &dir.join("first.npy"),
                    cfg.view.width,
                    cfg.view.height,
                    1,
                    &firsts,
                )?;
            }
            write_json(&dir.join("seeds.json"), &kept)?;
            videos += count;
            skipped += kept.skipped.len();
        }
    }
    let manifest = serde_json::json!({
        "genreward_version": env!("CARGO_PKG_VERSION"),
        "tasks": cfg.tasks.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "train_seeds": [GOAL_TRAIN_SEED, GOAL_TRAIN_SEED + cfg.train as u32],
        "val_seeds": [GOAL_VAL_SEED, GOAL_VAL_SEED + cfg.val as u32],
        "eval_seeds_from": GOAL_EVAL_SEED,
        "camera": cfg.view,
        "length": cfg.length,
        "hold": HOLD_STEPS,
        "sampled": uniform_indices(cfg.length, WINDOW),
        "vae": cfg.vae.display().to_string(),
        "vae_fingerprint": genreward_reward::features::vae_fingerprint(&cfg.vae)?,
        "videos": videos,
        "skipped": skipped,
    });
    write_json(&cfg.out.join("goal_data.json"), &manifest)?;
    Ok(GoalDataReport {
        out: cfg.out.display().to_string(),
        videos,
        skipped,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| EpisodesError::io("write", path, e))?;
    std::fs::write(path, text).map_err(|e| EpisodesError::io("write", path, e))
}

/// `goal_data.json`: what [`write_goal_data`] made the data from.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GoalDataInfo {
    pub tasks: Vec<String>,
    pub camera: ViewSpec,
    /// Frames of each goal video the 16 were sampled from.
    pub length: usize,
    /// The VAE folder and its weights' fingerprint.
    pub vae: String,
    pub vae_fingerprint: String,
    #[serde(default)]
    pub train_seeds: Vec<u32>,
    #[serde(default)]
    pub val_seeds: Vec<u32>,
}

impl GoalDataInfo {
    /// Reads `<dir>/goal_data.json`.
    pub fn read(dir: &Path) -> Result<GoalDataInfo> {
        let path = dir.join("goal_data.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            EpisodesError::io("read", &path, format!("{e} (is it a goal-data folder?)"))
        })?;
        serde_json::from_str(&text).map_err(|e| EpisodesError::io("read", &path, e))
    }
}

/// One split of the generator's data in memory, every task's videos one after the other.
#[derive(Clone, Debug)]
pub struct GoalSplit {
    /// Latent shape of one video, `[C, 16, h, w]`.
    pub latent_shape: [usize; 4],
    /// All latents, `len() * latent_shape.product()` values.
    pub latents: Vec<f32>,
    /// Side of the first frames.
    pub frame: usize,
    /// All first frames, `len()` RGB `frame x frame` images.
    pub first: Vec<u8>,
    /// Each video's task.
    pub tasks: Vec<TaskKind>,
    /// Each video's placement seed.
    pub seeds: Vec<u32>,
}

#[derive(serde::Deserialize)]
struct SeedsFile {
    seeds: Vec<u32>,
}

impl GoalSplit {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Values per latent video.
    pub fn latent_len(&self) -> usize {
        self.latent_shape.iter().product()
    }

    /// Video `i`'s latent.
    pub fn latent(&self, i: usize) -> &[f32] {
        let n = self.latent_len();
        &self.latents[i * n..(i + 1) * n]
    }

    /// Video `i`'s first frame.
    pub fn first_frame(&self, i: usize) -> &[u8] {
        let n = self.frame * self.frame * 3;
        &self.first[i * n..(i + 1) * n]
    }

    /// A split made in memory: `per_task` seeds from `start` of every task, the expert's goal
    /// videos encoded by `encoder` (the seeds the expert fails are left out).
    pub fn from_experts(
        tasks: &[TaskKind],
        start: u32,
        per_task: usize,
        view: ViewSpec,
        length: usize,
        encoder: &VideoEncoder<impl burn::tensor::backend::Backend>,
        bar: &ProgressBar,
    ) -> Result<GoalSplit> {
        let mut renderer = Renderer::new()?;
        let c = encoder.config().latent_channels;
        let h = encoder.size() as usize / genreward_models::vae::SPATIAL_FACTOR;
        let mut out = GoalSplit {
            latent_shape: [c, WINDOW, h, h],
            latents: Vec::new(),
            frame: view.width as usize,
            first: Vec::new(),
            tasks: Vec::new(),
            seeds: Vec::new(),
        };
        let seeds: Vec<u32> = (0..per_task as u32).map(|k| start + k).collect();
        for &task in tasks {
            let made = expert_latents(task, &seeds, view, length, encoder, &mut renderer, bar)?;
            out.latents.extend(made.latents);
            out.first.extend(made.firsts.into_iter().flatten());
            out.tasks
                .extend(std::iter::repeat_n(task, made.seeds.len()));
            out.seeds.extend(made.seeds);
        }
        Ok(out)
    }

    /// Reads `<dir>/<split>/<task>/` for every task of `goal_data.json` (a task folder without
    /// videos is skipped); every task's latents must have one shape.
    pub fn read(dir: &Path, split: &str) -> Result<GoalSplit> {
        let info = GoalDataInfo::read(dir)?;
        let mut out = GoalSplit {
            latent_shape: [0; 4],
            latents: Vec::new(),
            frame: info.camera.width as usize,
            first: Vec::new(),
            tasks: Vec::new(),
            seeds: Vec::new(),
        };
        for name in &info.tasks {
            let task: TaskKind = name
                .parse()
                .map_err(|e: genreward_sim::UnknownTask| EpisodesError::Invalid(e.to_string()))?;
            let tdir = dir.join(split).join(name);
            let seeds_path = tdir.join("seeds.json");
            let text = std::fs::read_to_string(&seeds_path)
                .map_err(|e| EpisodesError::io("read", &seeds_path, e))?;
            let seeds: SeedsFile = serde_json::from_str(&text)
                .map_err(|e| EpisodesError::io("read", &seeds_path, e))?;
            if seeds.seeds.is_empty() {
                continue;
            }
            let (shape, latents) = genreward_record::read_npy_f32(&tdir.join("latents.npy"))?;
            let (fshape, first) = genreward_record::read_npy_u8(&tdir.join("first.npy"))?;
            let n = seeds.seeds.len();
            let lat: [usize; 4] = match shape.as_slice() {
                [k, c, t, h, w] if *k == n => [*c, *t, *h, *w],
                _ => bail!(
                    "{}: latents of shape {shape:?} do not hold the {n} videos of seeds.json",
                    tdir.display()
                ),
            };
            if fshape != [n, out.frame, out.frame, 3] {
                bail!(
                    "{}: first frames of shape {fshape:?}, expected [{n}, {f}, {f}, 3]",
                    tdir.display(),
                    f = out.frame
                );
            }
            if out.latent_shape != [0; 4] && out.latent_shape != lat {
                bail!(
                    "{}: latents of shape {lat:?}, other tasks' are {:?}",
                    tdir.display(),
                    out.latent_shape
                );
            }
            out.latent_shape = lat;
            out.latents.extend(latents);
            out.first.extend(first);
            out.tasks.extend(std::iter::repeat_n(task, n));
            out.seeds.extend(seeds.seeds);
        }
        if out.is_empty() {
            bail!("{} holds no '{split}' goal videos", dir.display());
        }
        Ok(out)
    }
}
