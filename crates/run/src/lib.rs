//! Run folders as data: one writer, one reader, one manifest type.
//!
//! - [`writer`]: the [`Recorder`] that a rollout streams every step, frame and term into;
//! - [`rollout`]: [`record_rollout`], episodes of any actor recorded into a run folder, the
//!   manifest written first and kept up to date, so a crash leaves a folder the reader opens;
//! - [`goal`]: GenReward's terms toward a goal together with what the manifest says of them;
//! - [`score`]: [`score_run`], a recorded run rescored against a goal video, or
//!   [`score_run_generated`], each episode against the goal generated from its first frame;
//! - this file: [`RunManifest`] and [`RunDir`], the reader.
//!
//! `genreward rollout --out DIR` writes:
//! - `DIR/manifest.json`: [`RunManifest`] (settings, files, per-episode results, summary);
//! - `DIR/steps.jsonl`: one [`StepRecord`] per line; named reward terms (`r_env`, `r_video`, ...)
//!   go in its `terms` object;
//! - `DIR/obs_NNN.npy`: episode `NNN`'s camera observations, uint8 `[T, H, W, 3]`, frame `t` the
//!   state the policy saw at step `t`;
//! - `DIR/goal_NNN.npy`, with `--goal generated`: episode `NNN`'s own goal video, generated from
//!   its first observation frame (the manifest's `episode_goals` say which and how).
//!
//! [`RunDir`] reads all of it back; every failure is one line naming the file.

pub mod goal;
pub mod live;
pub mod rollout;
pub mod score;
pub mod writer;

pub use goal::{goal_info, load_recorded, EpisodeGoals, Loaded};
pub use live::{LiveRun, LiveRunSpec};
pub use rollout::{record_rollout, RolloutGoal, RolloutOutcome, RolloutSpec, VideoSpec};
pub use score::{
    score_run, score_run_generated, EpisodeGoal, EpisodeScore, ScoreLine, ScoreReport,
};
pub use writer::{LiveTerms, Recorder, VIDEO_FPS};

use genreward_record::{load_video, RecordError, Video};
use genreward_render::ViewSpec;
use genreward_sim::rollout::{EpisodeSummary, RolloutConfig, RolloutSummary, StepRecord};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The video of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    pub path: String,
    pub view: ViewSpec,
    pub overlay: bool,
    pub fps: u32,
    pub frames_are: String,
}

/// The goal a run was scored against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoalInfo {
    /// The goal video as given.
    pub path: String,
    /// Its length and the 16 frames sampled from it.
    pub frames: usize,
    pub sampled: Vec<usize>,
    /// The VAE checkpoint folder.
    pub vae: String,
    /// r_video is paid on steps where step + 1 is a multiple of `every`.
    pub every: usize,
    /// reward = r_env + alpha * r_video + beta * r_fb.
    pub alpha: f64,
    pub device: String,
    /// The weight of r_fb (0 in runs made before r_fb existed).
    #[serde(default)]
    pub beta: f64,
    /// The FB checkpoint folder that paid r_fb; absent when r_fb was off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fb: Option<String>,
    /// The goal frame r_fb aims at, and how it was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_frame: Option<GoalFrameInfo>,
    /// What B read of the goal frame (the FB checkpoint's `goal_features`: `vae` or `dino`, the
    /// weights and their fingerprint); absent when r_fb was off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_features: Option<serde_json::Value>,
    /// Set when every episode had its own goal, generated from its first frame (`path` is then
    /// `"generated"`, and the other fields describe the first episode's goal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<GeneratedInfo>,
}

/// How a run's per-episode goals were generated: enough to generate them again bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratedInfo {
    /// The generator's checkpoint folder.
    pub generator: String,
    pub steps: usize,
    pub guidance: f64,
    /// Samples per first frame, and how one was picked.
    pub samples: usize,
    pub pick: genreward_reward::SamplePick,
    pub gen_seed: u64,
    /// Frames of each goal video (the episode length); the 16 generated frames stretched.
    pub length: usize,
}

/// The goal frame of a run: an index into the goal's 16 sampled frames, one score per sampled
/// frame, and the method (`"clip"`, `"last"` or `"user"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoalFrameInfo {
    pub frame: usize,
    pub scores: Vec<f64>,
    pub method: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub genreward_version: String,
    pub command: Vec<String>,
    pub task: String,
    pub metaworld_name: String,
    pub config: RolloutConfig,
    /// Camera observations saved as obs_NNN.npy, if any.
    pub observations: Option<ViewSpec>,
    pub video: Option<VideoInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<GoalInfo>,
    /// The trained agent that acted (`--policy agent:DIR`): its folder, camera and what it
    /// was trained on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<serde_json::Value>,
    pub files: Vec<String>,
    /// Each episode's own goal, when every episode had one (`goal.generated` is then set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub episode_goals: Vec<RecordedGoal>,
    /// The run was stopped with Ctrl-C; the files hold what ran.
    pub interrupted: bool,
    pub episodes: Vec<EpisodeSummary>,
    pub summary: RolloutSummary,
}

/// One episode's own goal in a run: its video file (the stretched goal the terms used,
/// lossless) and what was chosen from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedGoal {
    pub episode: usize,
    /// The goal video, relative to the run folder (`goal_NNN.npy`).
    pub file: String,
    /// The goal frame r_fb aimed at (0-15 of the goal's sampled frames).
    pub goal_frame: usize,
    /// The sample picked among the generator's (`None` for their mean).
    pub picked: Option<usize>,
}

/// Reading a run folder failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("'{}' is not a run folder: {reason}", path.display())]
    NotARun { path: PathBuf, reason: String },
    #[error("cannot read '{}': {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("'{}' line {line}: {reason}", path.display())]
    BadLine {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(transparent)]
    Frames(#[from] RecordError),
    #[error("cannot write '{}': {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error(transparent)]
    Render(#[from] genreward_render::RenderError),
    #[error(transparent)]
    Reward(#[from] genreward_reward::RewardError),
    #[error(transparent)]
    Env(#[from] genreward_sim::EnvError),
    #[error("{0}")]
    Invalid(String),
}

/// File name of episode `i`'s observations.
pub fn obs_file(episode: usize) -> String {
    format!("obs_{episode:03}.npy")
}

/// File name of episode `i`'s own goal video.
pub fn goal_file(episode: usize) -> String {
    format!("goal_{episode:03}.npy")
}

/// An opened run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub path: PathBuf,
    pub manifest: RunManifest,
}

impl RunDir {
    /// Opens `path` and reads its manifest.
    pub fn open(path: &Path) -> Result<RunDir, RunError> {
        if !path.is_dir() {
            return Err(RunError::NotARun {
                path: path.to_path_buf(),
                reason: "no such folder".into(),
            });
        }
        let mpath = path.join("manifest.json");
        let text = std::fs::read_to_string(&mpath).map_err(|e| RunError::NotARun {
            path: path.to_path_buf(),
            reason: format!("manifest.json: {e}"),
        })?;
        let manifest = serde_json::from_str(&text).map_err(|e| RunError::Read {
            path: mpath,
            reason: e.to_string(),
        })?;
        Ok(RunDir {
            path: path.to_path_buf(),
            manifest,
        })
    }

    /// Every line of `steps.jsonl`, in order.
    pub fn steps(&self) -> Result<Vec<StepRecord>, RunError> {
        read_steps(&self.path.join("steps.jsonl"))
    }

    /// Episode `i`'s camera observations (`obs_NNN.npy`).
    pub fn episode_frames(&self, episode: usize) -> Result<Video, RunError> {
        if self.manifest.observations.is_none() {
            return Err(RunError::NotARun {
                path: self.path.clone(),
                reason: "it has no camera observations (record it with rollout --camera)".into(),
            });
        }
        Ok(load_video(&self.path.join(obs_file(episode)))?)
    }
}

/// Reads a `steps.jsonl` file. A last line without its newline that does not parse is what a
/// process killed mid-write leaves: it is dropped (the steps before it are whole). Any other bad
/// line is an error naming it.
pub fn read_steps(path: &Path) -> Result<Vec<StepRecord>, RunError> {
    let text = std::fs::read(path).map_err(|e| RunError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(rec) => out.push(rec),
            Err(_) if !complete && i + 1 == lines.len() => break,
            Err(e) => {
                return Err(RunError::BadLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}
