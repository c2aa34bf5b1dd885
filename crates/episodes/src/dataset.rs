//! Training data in one call ([`write_dataset`], `genreward dataset`) and its episodes read
//! back ([`load_episodes`], [`load_trajectories`]).
//!
//! Layout: `<out>/{train,val}/<task>/<behaviour>/` holds, per placement seed `s`,
//! `obs_<s>.npy` (uint8 `[T, H, W, 3]`, frame `t` is what the policy saw at step `t`),
//! `state_<s>.npy` (float32 `[T, 39]`, the observation at step `t`) and `action_<s>.npy`
//! (float32 `[T, 4]`, the action taken at step `t`). The video VAE reads the frames; the FB
//! representation reads all three.

use crate::error::bail;
use crate::{EpisodesError, Result};
use genreward_record::{read_npy_f32, read_npy_u8, write_npy_f32, NpyWriter};
use genreward_render::{render_envs, Frame, Renderer, ViewSpec};
use genreward_reward::prep::to_model_input;
use genreward_sim::{
    Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind, ACT_DIM, OBS_DIM,
};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The behaviours the VAE is trained on: the expert, the expert with Gaussian action noise at
/// three levels, and uniform random actions.
pub const VARIANTS: [(&str, PolicyKind, f64); 5] = [
    ("expert", PolicyKind::Expert, 0.0),
    ("noise0.1", PolicyKind::Expert, 0.1),
    ("noise0.3", PolicyKind::Expert, 0.3),
    ("noise0.6", PolicyKind::Expert, 0.6),
    ("random", PolicyKind::Random, 0.0),
];

/// What one environment of a [`Lockstep`] saw and did in one step.
pub struct SeenStep {
    /// The frame the actor saw.
    pub frame: Frame,
    /// The observation it acted on.
    pub state: [f64; OBS_DIM],
    /// The action it took.
    pub action: [f64; ACT_DIM],
    /// Whether the task was solved after it.
    pub success: bool,
}

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
    ) -> Result<Vec<SeenStep>> {
        let worlds: Vec<_> = self.envs.iter().map(|e| e.world()).collect();
        let shots = render_envs(renderer, &worlds, view)?;
        let mut out = Vec::with_capacity(shots.len());
        for ((e, p), frame) in self.envs.iter_mut().zip(&mut self.actors).zip(shots) {
            let state = *e.last_obs();
            let action = Actor::act(
                p,
                &Observation {
                    state: &state,
                    pixels: None,
                },
            );
            let r = e.step(action)?;
            out.push(SeenStep {
                frame,
                state,
                action,
                success: r.info.success > 0.5,
            });
        }
        Ok(out)
    }
}

/// Offset of the validation seeds from the training seeds.
pub const VAL_SEED_OFFSET: u32 = 500;

/// What [`write_dataset`] writes.
#[derive(Clone, Debug)]
pub struct DatasetConfig {
    /// Output folder: `train/<task>/<variant>/{obs,state,action}_<seed>.npy` and `val/...`.
    pub out: PathBuf,
    /// Training episodes per task and behaviour (seeds `seed`, `seed + 1`, ...).
    pub train_episodes: usize,
    /// Validation episodes per task and behaviour (seeds `seed + VAL_SEED_OFFSET`, ...).
    pub val_episodes: usize,
    /// First training seed.
    pub seed: u32,
    /// Steps per episode (the paper's 256).
    pub steps: usize,
    pub view: ViewSpec,
    pub tasks: Vec<TaskKind>,
}

/// What [`write_dataset`] made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DatasetReport {
    pub out: String,
    pub frames: usize,
    pub seconds: f64,
    pub frames_per_sec: f64,
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

/// Writes the training data: every task's expert, noisy-expert and random episodes, rendered
/// in one batch per step, with held-out validation seeds; `bar` counts frames. `command` is
/// recorded in `dataset.json`.
pub fn write_dataset(
    a: &DatasetConfig,
    command: Vec<String>,
    bar: &ProgressBar,
) -> Result<DatasetReport> {
    let (view, tasks) = (a.view, &a.tasks);
    if a.train_episodes + a.val_episodes == 0 || a.steps == 0 {
        bail!("a dataset needs at least one episode of at least one step");
    }
    if tasks.is_empty() {
        bail!("a dataset needs at least one task");
    }
    if a.train_episodes as u32 > VAL_SEED_OFFSET {
        bail!("at most {VAL_SEED_OFFSET} training episodes (the validation seeds start there)");
    }
    let mut renderer = Renderer::new()?;
    let t0 = Instant::now();
    let n = a.train_episodes + a.val_episodes;
    bar.set_length((tasks.len() * VARIANTS.len() * n * a.steps) as u64);
    let mut frames = 0;
    for &task in tasks {
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
            let mut dirs = Vec::with_capacity(n);
            for &(s, split) in &seeds {
                let dir = a.out.join(split).join(task.name()).join(name);
                std::fs::create_dir_all(&dir).map_err(|e| EpisodesError::io("create", &dir, e))?;
                writers.push(NpyWriter::create(
                    &dir.join(format!("obs_{s}.npy")),
                    view.height,
                    view.width,
                )?);
                dirs.push((dir, s));
            }
            let mut states = vec![Vec::with_capacity(a.steps * OBS_DIM); n];
            let mut actions = vec![Vec::with_capacity(a.steps * ACT_DIM); n];
            for _ in 0..a.steps {
                let seen = episodes.render_and_step(&mut renderer, view)?;
                for (k, step) in seen.iter().enumerate() {
                    writers[k].write_frame(&step.frame.rgb)?;
                    states[k].extend(step.state.iter().map(|&v| v as f32));
                    actions[k].extend(step.action.iter().map(|&v| v as f32));
                }
                frames += n;
                bar.inc(n as u64);
            }
            for w in writers {
                w.finish()?;
            }
            for (k, (dir, s)) in dirs.iter().enumerate() {
                write_npy_f32(
                    &dir.join(format!("state_{s}.npy")),
                    &[a.steps, OBS_DIM],
                    &states[k],
                )?;
                write_npy_f32(
                    &dir.join(format!("action_{s}.npy")),
                    &[a.steps, ACT_DIM],
                    &actions[k],
                )?;
            }
        }
    }
    bar.finish_and_clear();
    let m = DatasetManifest {
        genreward_version: env!("CARGO_PKG_VERSION"),
        command,
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
    let text =
        serde_json::to_string_pretty(&m).map_err(|e| EpisodesError::io("write", &path, e))?;
    std::fs::write(&path, text + "\n").map_err(|e| EpisodesError::io("write", &path, e))?;
    Ok(DatasetReport {
        out: a.out.display().to_string(),
        frames,
        seconds: m.seconds,
        frames_per_sec: frames as f64 / m.seconds,
    })
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
            Ok(Episode {
                frames: read_frames(f, size)?,
            })
        })
        .collect()
}

/// The frames of a uint8 `[T, H, W, 3]` `.npy` file at `size x size`.
fn read_frames(f: &Path, size: u32) -> Result<Vec<Vec<u8>>> {
    let (shape, data) = read_npy_u8(f)?;
    if shape.len() != 4 || shape[3] != 3 || shape[0] == 0 {
        bail!(
            "'{}' is not a [T, H, W, 3] uint8 array with T >= 1",
            f.display()
        );
    }
    let (h, w) = (shape[1] as u32, shape[2] as u32);
    let n = (h * w * 3) as usize;
    Ok(data
        .chunks_exact(n)
        .map(|c| to_model_input(c, w, h, size))
        .collect::<std::result::Result<_, _>>()?)
}

/// Frame files under `dir`, recursively: every `.npy` but the float arrays a dataset keeps
/// beside its frames (`state_*.npy`, `action_*.npy`).
fn collect_npy(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| EpisodesError::io("read", dir, e))? {
        let p = e.map_err(|e| EpisodesError::io("read", dir, e))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            collect_npy(&p, out)?;
        } else if name.ends_with(".npy")
            && !name.starts_with("state_")
            && !name.starts_with("action_")
        {
            out.push(p);
        }
    }
    Ok(())
}

/// One recorded episode with what the policy saw and did at every step.
pub struct Trajectory {
    /// Frames at the model's size, `size x size x 3` each.
    pub frames: Vec<Vec<u8>>,
    /// Observations, `OBS_DIM` per step.
    pub states: Vec<[f32; OBS_DIM]>,
    /// Actions, `ACT_DIM` per step.
    pub actions: Vec<[f32; ACT_DIM]>,
}

/// Every dataset episode under `dirs` (recursively): frames (at `size x size`), states and
/// actions. An `obs_<s>.npy` without its `state_<s>.npy` and `action_<s>.npy`, or arrays of
/// different lengths, is an error naming the file.
pub fn load_trajectories(dirs: &[PathBuf], size: u32) -> Result<Vec<Trajectory>> {
    let mut files = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            bail!("data folder '{}' does not exist", d.display());
        }
        collect_npy(d, &mut files)?;
    }
    files.retain(|f| {
        f.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("obs_"))
    });
    files.sort();
    if files.is_empty() {
        bail!("no obs_<seed>.npy episodes under the data folders (make them with `genreward dataset`)");
    }
    files
        .iter()
        .map(|f| {
            let frames = read_frames(f, size)?;
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let seed = &name["obs_".len()..name.len() - ".npy".len()];
            let dir = f.parent().unwrap_or(Path::new("."));
            let states = read_rows::<OBS_DIM>(&dir.join(format!("state_{seed}.npy")))?;
            let actions = read_rows::<ACT_DIM>(&dir.join(format!("action_{seed}.npy")))?;
            if states.len() != frames.len() || actions.len() != frames.len() {
                bail!(
                    "'{}' has {} frames but {} states and {} actions",
                    f.display(),
                    frames.len(),
                    states.len(),
                    actions.len()
                );
            }
            Ok(Trajectory {
                frames,
                states,
                actions,
            })
        })
        .collect()
}

/// A float32 `[T, N]` array as rows.
fn read_rows<const N: usize>(path: &Path) -> Result<Vec<[f32; N]>> {
    if !path.is_file() {
        bail!(
            "'{}' is missing (dataset episodes need obs_, state_ and action_ files)",
            path.display()
        );
    }
    let (shape, data) = read_npy_f32(path)?;
    if shape.len() != 2 || shape[1] != N {
        bail!(
            "'{}' has shape {shape:?}, expected [T, {N}]",
            path.display()
        );
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        bail!("'{}' holds a non-finite value at index {i}", path.display());
    }
    Ok(data
        .chunks_exact(N)
        .map(|c| {
            let mut row = [0.0; N];
            row.copy_from_slice(c);
            row
        })
        .collect())
}
