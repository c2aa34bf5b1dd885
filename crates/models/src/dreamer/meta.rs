//! What a DreamerV3 checkpoint's `meta.json` says about the run that made it, typed: written by
//! `train dreamer`, read back to resume a run, to start one from a saved agent (`--init`), and
//! to act with a saved agent (its camera and action repeat). Every field has a default, so the
//! `meta.json` of any earlier run (fields added since, fields dropped since) still loads.

use super::moments::Moments;
use crate::checkpoint::CheckpointError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `kind` of a DreamerV3 agent's checkpoint.
pub const DREAMER_KIND: &str = "dreamer";

/// One held-out evaluation of a run (a line of its `metrics.jsonl`, and its checkpoint's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DreamerEval {
    /// `"eval"`.
    pub kind: String,
    pub env_steps: usize,
    pub updates: usize,
    pub success_rate: f64,
    /// Mean dense Meta-World return (comparable across reward settings).
    pub mean_return_env: f64,
    pub episodes: usize,
    /// First placement seed of the evaluation episodes.
    pub first_seed: u32,
    /// Training seconds when it was made.
    pub seconds: f64,
}

/// A DreamerV3 checkpoint's `meta.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DreamerMeta {
    /// The last evaluation before the checkpoint (`None` before the first).
    pub eval: Option<DreamerEval>,
    /// [`DREAMER_KIND`].
    pub kind: String,
    /// The task's name.
    pub task: Option<String>,
    /// The reward trained on (`env` or `genreward`).
    pub reward: Option<String>,
    /// The goal video of the GenReward reward (`expert` or `generated`: each episode's own).
    pub goal: Option<PathBuf>,
    /// With `generated` goals: the generator and its settings (enough to make them again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_generated: Option<serde_json::Value>,
    pub sparse_every: Option<usize>,
    /// Whether the agent reads the 39-d state besides frames.
    pub state: bool,
    /// The weight of the state as a decoder target only.
    pub state_target: Option<f64>,
    /// Which entries of the state the model reconstructs (`None`: all).
    pub state_dims: Option<Vec<usize>>,
    /// The camera the agent sees (`None` in agents from before the option: `corner2`).
    pub camera: Option<String>,
    /// The size preset.
    pub size: Option<String>,
    /// The agent the run started from (`--init`), kept by its resumptions.
    pub init: Option<PathBuf>,
    /// `strided` or `pool`.
    pub cnn: Option<String>,
    pub env_steps: usize,
    /// The agent's decisions (`None` in runs from before the action repeat).
    pub agent_steps: Option<usize>,
    /// Environment steps per decision (`None` in runs from before the option: 1).
    pub action_repeat: Option<usize>,
    /// Episodes started (training placement seeds count up from the run's seed).
    pub episodes: u32,
    /// The training loop's step (the environment steps).
    pub step: usize,
    pub train_seconds: f64,
    /// The return normaliser (written by [`super::Learner::save`]).
    pub moments: Option<Moments>,
    /// Optimiser updates (written by [`super::Learner::save`]).
    pub updates: usize,
}

impl DreamerMeta {
    /// Reads `dir/meta.json`: the default (all fields unset) when there is none; an error when
    /// it is not a JSON object of these fields.
    pub fn read(dir: &Path) -> Result<DreamerMeta, CheckpointError> {
        let path = dir.join(crate::checkpoint::META_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(DreamerMeta::default());
        };
        serde_json::from_str(&text).map_err(|e| CheckpointError::BadConfig {
            path,
            kind: "DreamerV3 meta",
            reason: e.to_string(),
        })
    }

    /// Whether the checkpoint is a DreamerV3 agent's.
    pub fn is_dreamer(&self) -> bool {
        self.kind == DREAMER_KIND
    }

    /// Environment steps per decision (at least 1; agents from before the option: 1).
    pub fn action_repeat(&self) -> usize {
        self.action_repeat.unwrap_or(1).max(1)
    }
}
