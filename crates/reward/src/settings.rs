//! GenReward's settings as a user gives them (the CLI's flags, the app's panel, a Python
//! caller), and loading the terms they name: `reward = r_env + alpha * r_video + beta * r_fb`.
//!
//! [`RewardSettings`] is the one configuration type; [`load_terms`] and [`load_terms_video`]
//! turn it into [`GenRewardTerms`] toward a goal video.

use crate::terms::{load_genreward, load_genreward_video, FbChoice, GenRewardSpec, GenRewardTerms};
use crate::{default_vae_dir, GoalVideo, RewardError, DEFAULT_EVERY};
use genreward_models::DeviceKind;
use genreward_sim::TaskKind;
use std::path::{Path, PathBuf};

/// Default weight of r_video: one payment (a cosine, every 128 steps) is worth up to 10, as much
/// as one step of Meta-World's dense reward at its maximum.
pub const DEFAULT_ALPHA: f64 = 10.0;
/// Default weight of r_fb: the shipped FB pays experts about 600-1500 per step and random
/// actions 80-450 (`eval-fb`), so beta * r_fb lands at 0.5-7.5 per step, the range of
/// Meta-World's dense reward (0-10).
pub const DEFAULT_BETA: f64 = 0.005;

/// GenReward's settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RewardSettings {
    /// Video VAE checkpoint folder (`None`: the shipped `assets/models/vae`).
    pub vae: Option<PathBuf>,
    /// r_video is paid on steps where `step + 1` is a multiple of `every`.
    pub every: usize,
    /// Weight of r_video.
    pub alpha: f64,
    /// Which FB representation pays r_fb.
    pub fb: FbChoice,
    /// Weight of r_fb.
    pub beta: f64,
    /// The user's goal frame, an index into the goal video's 16 sampled frames (`None`: chosen).
    pub goal_frame: Option<usize>,
    /// CLIP weights to pick the goal frame by the task's sentence.
    pub clip: Option<PathBuf>,
    /// DINO weights of a DINO-feature FB checkpoint (`None`: the folder it was trained with).
    pub dino: Option<PathBuf>,
    /// Backend of the models.
    pub device: DeviceKind,
    /// Whether a DreamerV3 agent acts live, so an FB reading its model state can be scored.
    #[serde(skip)]
    pub live_agent: bool,
}

impl Default for RewardSettings {
    fn default() -> Self {
        RewardSettings {
            vae: None,
            every: DEFAULT_EVERY,
            alpha: DEFAULT_ALPHA,
            fb: FbChoice::Default,
            beta: DEFAULT_BETA,
            goal_frame: None,
            clip: None,
            dino: None,
            device: DeviceKind::Cpu,
            live_agent: false,
        }
    }
}

impl RewardSettings {
    /// The VAE folder these settings name.
    pub fn vae_dir(&self) -> PathBuf {
        self.vae.clone().unwrap_or_else(default_vae_dir)
    }

    /// Checks the weights and the interval.
    pub fn validate(&self) -> Result<(), RewardError> {
        for (name, v) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !v.is_finite() {
                return Err(RewardError::Invalid(format!(
                    "{name} must be a finite number (got {v})"
                )));
            }
        }
        if self.every == 0 {
            return Err(RewardError::Invalid(
                "the r_video interval (every) must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// What to load for `task`.
    pub fn spec(&self, task: TaskKind) -> GenRewardSpec {
        GenRewardSpec {
            vae: self.vae_dir(),
            vae_is_default: self.vae.is_none(),
            fb: self.fb.clone(),
            every: self.every,
            goal_frame: self.goal_frame,
            clip: self.clip.clone().map(|d| (d, task.goal_text().to_string())),
            dino: self.dino.clone(),
            device: self.device,
        }
    }
}

/// Loads r_video and r_fb toward the goal video file `goal`.
pub fn load_terms(
    goal: &Path,
    settings: &RewardSettings,
    task: TaskKind,
) -> Result<GenRewardTerms, RewardError> {
    settings.validate()?;
    let terms = load_genreward(goal, &settings.spec(task))?;
    check_live(&terms, settings)?;
    Ok(terms)
}

/// [`load_terms`] toward a goal video made on the spot.
pub fn load_terms_video(
    goal: GoalVideo,
    settings: &RewardSettings,
    task: TaskKind,
) -> Result<GenRewardTerms, RewardError> {
    settings.validate()?;
    let terms = load_genreward_video(goal, &settings.spec(task))?;
    check_live(&terms, settings)?;
    Ok(terms)
}

/// An FB reading a DreamerV3 agent's model state is only scored in a live run of that agent.
fn check_live(terms: &GenRewardTerms, settings: &RewardSettings) -> Result<(), RewardError> {
    match &terms.fb {
        Some(fb)
            if !settings.live_agent
                && fb.state_kind() == crate::features::StateKind::Model =>
        {
            Err(RewardError::Invalid(format!(
                "the FB in {} reads a DreamerV3 agent's model state: only a live run of that agent scores it (a rollout of the agent toward a goal)",
                terms
                    .fb_dir
                    .as_ref()
                    .map_or("?".into(), |p| p.display().to_string())
            )))
        }
        _ => Ok(()),
    }
}

/// One step's state and action as the FB model reads them.
pub fn fb_inputs(obs: &[f64], action: &[f64; 4]) -> (Vec<f32>, [f32; 4]) {
    (
        obs.iter().map(|&v| v as f32).collect(),
        action.map(|v| v as f32),
    )
}
