//! What a DreamerV3 run trains: [`TrainDreamerConfig`] and its typed parts.

use crate::error::bail;
use crate::online_fb::FbState;
use crate::Result;
use genreward_models::dreamer::Preset;
use genreward_render::{CameraName, Size, ViewSpec};
use genreward_reward::RewardSettings;
use genreward_sim::TaskKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The reward the agent trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DreamerReward {
    /// Meta-World's (dense, or sparse with `sparse_every`).
    Env,
    /// `r_env + alpha r_video + beta r_fb` toward the goal.
    #[serde(rename = "genreward")]
    GenReward,
}

impl DreamerReward {
    pub fn name(self) -> &'static str {
        match self {
            DreamerReward::Env => "env",
            DreamerReward::GenReward => "genreward",
        }
    }
}

impl std::str::FromStr for DreamerReward {
    type Err = crate::TrainError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "env" => Ok(DreamerReward::Env),
            "genreward" => Ok(DreamerReward::GenReward),
            other => bail!("unknown reward '{other}' (known: env, genreward)"),
        }
    }
}

/// The goal of the GenReward reward.
#[derive(Clone, Debug, PartialEq)]
pub enum DreamerGoal {
    /// A goal video file.
    File(PathBuf),
    /// Each episode's own goal video: the scripted expert's from the episode's first scene held
    /// to the episode's length (the oracle: it needs an expert for the scene).
    Expert,
    /// Each episode's own goal video, generated from the episode's first frame by the goal
    /// generator in `generator` (as the paper does), held to the episode's length.
    Generated {
        generator: PathBuf,
        settings: genreward_reward::GenSettings,
    },
}

impl DreamerGoal {
    /// `expert` or a file (`generated` needs its generator: build [`DreamerGoal::Generated`]).
    pub fn from_path(p: PathBuf) -> DreamerGoal {
        if p.as_os_str() == "expert" {
            DreamerGoal::Expert
        } else {
            DreamerGoal::File(p)
        }
    }

    /// As a checkpoint's meta records it.
    pub fn as_path(&self) -> PathBuf {
        match self {
            DreamerGoal::File(p) => p.clone(),
            DreamerGoal::Expert => PathBuf::from("expert"),
            DreamerGoal::Generated { .. } => PathBuf::from("generated"),
        }
    }
}

/// The CNNs of a new agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cnn {
    /// Stride-2 convolutions down and transposed convolutions up.
    Strided,
    /// The reference's: stride-1 convolutions with max-pooling, nearest upsampling.
    Pool,
}

impl Cnn {
    pub fn name(self) -> &'static str {
        match self {
            Cnn::Strided => "strided",
            Cnn::Pool => "pool",
        }
    }
}

impl std::str::FromStr for Cnn {
    type Err = crate::TrainError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "strided" => Ok(Cnn::Strided),
            "pool" => Ok(Cnn::Pool),
            other => bail!("unknown CNN '{other}' (known: strided, pool)"),
        }
    }
}

pub use genreward_sim::StateDims;

/// What [`super::train_dreamer`] trains and where it writes.
#[derive(Clone, Debug)]
pub struct TrainDreamerConfig {
    pub task: TaskKind,
    pub reward: DreamerReward,
    /// The goal of [`DreamerReward::GenReward`].
    pub goal: Option<DreamerGoal>,
    /// Pay r_env only every K steps.
    pub sparse_every: Option<usize>,
    /// GenReward's settings; its `device` is the backend of the whole run.
    pub genreward: RewardSettings,
    /// Output folder: config.json, model.mpk, optimizer.mpk, meta.json, metrics.jsonl,
    /// eval_<steps>.mp4, openloop_<steps>.mp4, best/ (and fb/ with an online FB).
    pub out: PathBuf,
    /// Model size of a new agent.
    pub size: Preset,
    /// A new agent reads (and reconstructs) the 39-d state besides the frames.
    pub state: bool,
    /// A new agent reconstructs the state, weighted this many times, without reading it.
    pub state_target: Option<f64>,
    /// Which entries of the state a new agent's target holds (`None`: all).
    pub state_dims: Option<StateDims>,
    /// A new agent's CNNs.
    pub cnn: Cnn,
    /// Environment steps in all (when resuming: counting those already taken).
    pub steps: usize,
    /// Stop after this many minutes.
    pub minutes: Option<f64>,
    /// Environments stepped (and rendered) together.
    pub envs: usize,
    /// Replayed steps trained on per agent step.
    pub train_ratio: f64,
    /// Sequences per update and their length.
    pub batch: usize,
    pub length: usize,
    /// Environment steps per episode.
    pub episode_steps: usize,
    /// Environment steps per decision (a loaded agent's own wins).
    pub action_repeat: usize,
    /// The agent's camera (a loaded agent's own wins).
    pub camera: CameraName,
    /// Learning rate after warm-up (`None`: the reference's 4e-5, or a resumed run's).
    pub lr: Option<f64>,
    /// Warm-up updates of the learning rate.
    pub warmup: usize,
    /// Evaluate every N environment steps, and at the end.
    pub eval_every: usize,
    pub eval_episodes: usize,
    /// Save a checkpoint every N environment steps (and at the end).
    pub checkpoint_every: usize,
    /// Replay capacity in steps (all environments together).
    pub replay: usize,
    pub seed: u32,
    /// Continue the run in `out` (its replay refills).
    pub resume: bool,
    /// Start a new run from the agent saved in this folder.
    pub init: Option<PathBuf>,
    /// When resuming or starting from a saved agent: the replay steps collected before
    /// training goes on.
    pub resume_fill: usize,
    /// The camera whose frames GenReward scores.
    pub reward_camera: CameraName,
    /// What F of the FB reward reads.
    pub fb_state: FbState,
    /// Go on training the FB checkpoint on the agent's replay.
    pub fb_online: bool,
    /// Freeze the online FB after this many environment steps.
    pub fb_freeze_after: usize,
}

/// The frames the agent and the reward read: 64x64.
const FRAME: Size = Size {
    width: 64,
    height: 64,
};

impl TrainDreamerConfig {
    /// Checks the numbers and the combinations (messages name the fields, not flags).
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("environments", self.envs),
            ("batch", self.batch),
            ("sequence length", self.length),
            ("episode length", self.episode_steps),
            ("action repeat", self.action_repeat),
            ("evaluation episodes", self.eval_episodes),
        ] {
            if v == 0 {
                bail!("the {name} must be at least 1");
            }
        }
        if !(self.train_ratio > 0.0 && self.train_ratio.is_finite()) {
            bail!(
                "the train ratio must be a positive number (got {})",
                self.train_ratio
            );
        }
        if self.sparse_every == Some(0) {
            bail!("the sparse r_env interval must be at least 1");
        }
        if let Some(scale) = self.state_target {
            if !(scale.is_finite() && scale > 0.0) {
                bail!("the state target's weight must be a positive number (got {scale})");
            }
        }
        if self.resume && self.init.is_some() {
            bail!("a run either resumes or starts from a saved agent, not both");
        }
        if self.resume && !self.out.join("config.json").is_file() {
            bail!("no run to resume in {}", self.out.display());
        }
        if let Some(dir) = &self.init {
            super::read_agent_meta(dir)?;
        }
        if self.reward == DreamerReward::GenReward && self.goal.is_none() {
            bail!("the GenReward reward needs a goal video");
        }
        if self.online_fb() {
            if self.reward != DreamerReward::GenReward {
                bail!("an online FB representation needs the GenReward reward");
            }
            if matches!(self.genreward.fb, genreward_reward::FbChoice::Off) {
                bail!("r_fb is off: an online FB representation needs it on");
            }
        }
        Ok(())
    }

    /// Whether an FB representation trains in the run.
    pub fn online_fb(&self) -> bool {
        self.fb_online || self.fb_state == FbState::Dreamer
    }

    /// What the agent sees.
    pub fn view(&self) -> ViewSpec {
        ViewSpec::new(self.camera, FRAME)
    }

    /// What GenReward scores.
    pub fn reward_view(&self) -> ViewSpec {
        ViewSpec::new(self.reward_camera, FRAME)
    }

    /// A run from a saved agent sees what the agent was trained on.
    pub(crate) fn adopt_init_camera(&mut self) -> Result<()> {
        let Some(dir) = &self.init else {
            return Ok(());
        };
        if let Some(camera) = super::read_agent_meta(dir)?.camera {
            let camera: CameraName = camera.parse()?;
            if camera != self.camera {
                tracing::info!(
                    "the agent in {} sees the {camera} camera: using it",
                    dir.display()
                );
                self.camera = camera;
            }
        }
        Ok(())
    }
}
