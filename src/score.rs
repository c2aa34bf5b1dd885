//! The video-level reward on the command line: `genreward score` for a recorded run, and the
//! loading shared with `rollout --goal`.

use crate::cli::VideoRewardArgs;
use anyhow::{bail, Context, Result};
use genreward_models::DeviceKind;
use genreward_reward::{default_vae_dir, load_video_reward, FrameTerm};
use genreward_run::{GoalInfo, RunDir};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Median of `v` (0 for none).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Parses `--device`.
pub fn parse_device(s: &str) -> Result<DeviceKind> {
    Ok(s.parse::<DeviceKind>()?)
}

/// The VAE folder: `--vae` or the shipped default.
pub fn vae_dir(flag: &Option<PathBuf>) -> PathBuf {
    flag.clone().unwrap_or_else(default_vae_dir)
}

/// Loads r_video toward `goal` with the settings in `a`; returns it and what the manifest says.
pub fn load_term(goal: &Path, a: &VideoRewardArgs) -> Result<(Box<dyn FrameTerm>, GoalInfo)> {
    if !a.alpha.is_finite() {
        bail!("--alpha must be a finite number (got {})", a.alpha);
    }
    if a.every == 0 {
        bail!("--every must be at least 1");
    }
    let device = parse_device(&a.device)?;
    let vae = vae_dir(&a.vae);
    let (term, g) = load_video_reward(&vae, goal, a.every, device)?;
    let info = GoalInfo {
        path: goal.display().to_string(),
        frames: g.video.len(),
        sampled: g.indices.clone(),
        vae: vae.display().to_string(),
        every: a.every,
        alpha: a.alpha,
        device: device.to_string(),
    };
    Ok((term, info))
}

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// A run folder recorded with camera observations (rollout --camera).
    #[arg(long)]
    run: PathBuf,
    /// The goal video (.mp4, .gif, .npy, a folder of .png).
    #[arg(long)]
    goal: PathBuf,
    /// Where to write one JSON line per step: episode, step, r_env, r_video, reward.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    reward: VideoRewardArgs,
}

#[derive(serde::Serialize)]
struct ScoreLine {
    episode: usize,
    step: usize,
    r_env: f64,
    r_video: f64,
    reward: f64,
}

#[derive(serde::Serialize)]
struct EpisodeScore {
    episode: usize,
    seed: u32,
    steps: usize,
    success: bool,
    /// r_video at each step where it was paid, in order.
    r_video: Vec<f64>,
    /// The last one paid (null when the episode is shorter than --every).
    final_r_video: Option<f64>,
    episode_return: f64,
}

#[derive(serde::Serialize)]
struct ScoreSummary {
    run: String,
    goal: GoalInfo,
    episodes: Vec<EpisodeScore>,
    /// Median time to encode one 16-frame window and take the cosine (no file I/O).
    ms_per_window: f64,
    windows: usize,
}

pub fn score(a: ScoreArgs) -> Result<()> {
    let run = RunDir::open(&a.run)?;
    if run.manifest.observations.is_none() {
        bail!(
            "run '{}' has no camera observations: record it with rollout --camera",
            a.run.display()
        );
    }
    let steps = run.steps()?;
    let (mut term, info) = load_term(&a.goal, &a.reward)?;
    let file = std::fs::File::create(&a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let mut out = BufWriter::new(file);
    let mut summaries = Vec::new();
    let mut ms = Vec::new();
    for ep in &run.manifest.episodes {
        let recs: Vec<_> = steps.iter().filter(|r| r.episode == ep.episode).collect();
        let frames = run.episode_frames(ep.episode)?;
        if frames.len() < recs.len() {
            bail!(
                "episode {} has {} steps but {} observation frames",
                ep.episode,
                recs.len(),
                frames.len()
            );
        }
        term.reset();
        let mut paid = Vec::new();
        let mut ret = 0.0;
        for (rec, f) in recs.iter().zip(&frames.frames) {
            let value = term.push(f, frames.width, frames.height);
            if let Some(v) = value {
                paid.push(v);
                ms.push(term.last_ms());
            }
            // The environment's paid reward, whether or not the run itself was scored.
            let r_env = rec.terms.get("r_env").copied().unwrap_or(rec.reward);
            let r_video = value.unwrap_or(0.0);
            let reward = r_env + a.reward.alpha * r_video;
            ret += reward;
            let line = ScoreLine {
                episode: rec.episode,
                step: rec.step,
                r_env,
                r_video,
                reward,
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")
                .with_context(|| format!("cannot write {}", a.out.display()))?;
        }
        summaries.push(EpisodeScore {
            episode: ep.episode,
            seed: ep.seed,
            steps: recs.len(),
            success: ep.success,
            final_r_video: paid.last().copied(),
            r_video: paid,
            episode_return: ret,
        });
    }
    out.flush()
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let summary = ScoreSummary {
        run: a.run.display().to_string(),
        goal: info,
        episodes: summaries,
        ms_per_window: median(&ms),
        windows: ms.len(),
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
