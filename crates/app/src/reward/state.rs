//! GenReward's resources in the app, one job each: the [`Goal`], the episode's [`Terms`], the
//! [`WorkerLink`] to the models' thread, the [`FieldView`] and the exit [`Summary`].

use super::worker::Worker;
use bevy::prelude::*;
use genreward_record::picture::Picture;
use genreward_reward::field::{FieldSubject, RewardField};
use genreward_reward::mix::MixWeights;
use genreward_reward::{GoalFrameChoice, GoalVideo};
use genreward_run::GoalInfo;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The loaded goal as the panel shows it (its models run on the worker thread).
pub struct GoalView {
    pub info: GoalInfo,
    pub goal: GoalVideo,
    pub goal_frame: GoalFrameChoice,
    pub has_fb: bool,
}

/// The goal GenReward aims at: the loaded goal video, the sampled frame r_fb aims at, and what
/// loading another goal needs (the model settings, the panel's path field).
#[derive(Resource)]
pub struct Goal {
    pub(super) loaded: Option<GoalView>,
    /// Index into the goal's 16 sampled frames that r_fb aims at.
    pub frame: usize,
    /// The model settings `view` started with, to load another goal (dropped on the window,
    /// typed in the panel, or made from the expert).
    pub(super) loader: Option<genreward_reward::RewardSettings>,
    /// Bumped whenever another goal is loaded, so its textures are made again.
    pub serial: u64,
    /// The panel's goal path field.
    pub path_text: String,
    /// The last goal loaded after the start (for the panel and the summary).
    pub status: Option<String>,
    /// Goals generated in the panel from the episode's first frame.
    pub generated: Generated,
}

/// The panel's goal generator: its settings, the model (loaded on first use) and the last
/// generation's samples, shown side by side to choose from.
pub struct Generated {
    /// Samples per generation, and the seed of the generator's noise.
    pub samples: usize,
    pub seed: u64,
    /// The generator, loaded on first use (locked: resources are shared between threads).
    pub(super) model: Option<Mutex<genreward_run::EpisodeGoals>>,
    /// The last generation's samples, each saved as a goal file.
    pub made: Vec<GeneratedSample>,
    /// The sample loaded as the goal.
    pub chosen: Option<usize>,
    /// Bumped at each generation, so the samples' pictures are made again.
    pub serial: u64,
}

impl Default for Generated {
    fn default() -> Self {
        Generated {
            samples: 4,
            seed: 0,
            model: None,
            made: Vec::new(),
            chosen: None,
            serial: 0,
        }
    }
}

/// One generated sample: its goal video file and its last frame (`size x size` RGB).
pub struct GeneratedSample {
    pub path: std::path::PathBuf,
    pub last: Vec<u8>,
    pub size: u32,
}

impl Goal {
    /// The loaded goal (`None` without one).
    pub fn loaded(&self) -> Option<&GoalView> {
        self.loaded.as_ref()
    }

    /// Whether another goal can be loaded here.
    pub fn can_load(&self) -> bool {
        self.loader.is_some()
    }
}

/// The episode's GenReward terms, stored per step so the weights rescore them at once; the
/// weights; and the last problem computing or showing them.
#[derive(Resource)]
pub struct Terms {
    /// Per step of the episode: r_video (0 where not paid) and r_fb.
    pub r_video: Vec<f64>,
    pub r_fb: Vec<f64>,
    pub weights: MixWeights,
    /// Replays (`view --run`): the goal the run was scored against; its terms come from
    /// `steps.jsonl` instead of the models (until another goal is loaded).
    pub recorded: Option<GoalInfo>,
    /// Problems to show in the panel.
    pub message: Option<String>,
}

/// The link to the models' worker thread: what was sent, what is owed, where and how fast the
/// models run.
#[derive(Resource)]
pub struct WorkerLink {
    /// The models' thread (with a goal whose models loaded).
    pub(super) worker: Option<Worker>,
    /// Where the models run, in words (for the panel and the summary).
    pub backend: String,
    /// Bumped on a new episode or another goal; the worker's older answers are dropped.
    pub(super) generation: u64,
    /// The episode (its serial) the steps sent belong to.
    pub(super) episode: u64,
    /// Steps of the episode sent to the worker.
    pub(super) sent: usize,
    /// A goal-frame change sent and not yet answered.
    pub(super) aiming: Option<usize>,
    /// Milliseconds of the last r_video payment and of the last step's r_fb (on the worker).
    pub ms_video: f64,
    pub ms_fb: f64,
    /// The most steps the terms have trailed the episode by (steps sent, not yet scored).
    pub max_lag: usize,
    /// The reward systems' time on the main thread.
    pub main_thread: MainThreadTime,
}

impl WorkerLink {
    /// Steps sent to the models and not yet scored.
    pub fn lag(&self, terms: &Terms) -> usize {
        if terms.recorded.is_some() {
            return 0;
        }
        self.sent.saturating_sub(terms.r_fb.len())
    }
}

/// The FB reward field (r_fb with the hand or the object at each cell of a grid over the
/// table) drawn over a top view, refreshed every `every` steps and whenever the goal frame, the
/// subject or the episode changes.
#[derive(Resource)]
pub struct FieldView {
    pub show: bool,
    pub subject: FieldSubject,
    /// Steps between refreshes while the episode runs.
    pub every: usize,
    /// The last picture, and a counter bumped when it changes.
    pub picture: Option<Picture>,
    pub picture_serial: u64,
    /// Milliseconds of the last refresh (field and top-view render).
    pub ms: f64,
    /// What the picture shows (or will, once the worker answers): episode, step, goal frame,
    /// subject.
    pub(super) shown: Option<(u64, usize, usize, FieldSubject)>,
    /// A field asked of the worker and not yet drawn: the state it was asked at, when.
    pub(super) asked: Option<([f64; 39], Instant)>,
    /// A field the worker answered, to draw in the next field update.
    pub(super) ready: Option<(Result<RewardField, String>, Instant)>,
    /// The last field's values (drawn on the table in the 3D view).
    pub values: Option<RewardField>,
}

impl FieldView {
    /// Shown from the start when `heatmap` names a subject.
    pub fn new(heatmap: Option<FieldSubject>) -> FieldView {
        FieldView {
            show: heatmap.is_some(),
            subject: heatmap.unwrap_or(FieldSubject::Hand),
            every: 8,
            picture: None,
            picture_serial: 0,
            ms: 0.0,
            shown: None,
            asked: None,
            ready: None,
            values: None,
        }
    }

    /// Forgets a field asked or answered (another goal, a new episode).
    pub(super) fn forget(&mut self) {
        self.shown = None;
        self.asked = None;
        self.ready = None;
    }
}

/// The episode's figures, printed by `view` when the window closes (scripted runs); `run`
/// keeps a clone to read them after the app stops.
#[derive(Resource, Clone, Default)]
pub struct Summary(pub Arc<Mutex<Option<serde_json::Value>>>);

/// Milliseconds the reward systems take on the main thread per frame (sending the steps,
/// taking the terms, drawing the field): what the models still cost the window's frame rate.
#[derive(Default, Clone, Copy, Debug)]
pub struct MainThreadTime {
    frame: f64,
    total: f64,
    max: f64,
    frames: u64,
}

impl MainThreadTime {
    /// Adds one system's time; `last` closes the frame.
    pub(super) fn add(&mut self, ms: f64, last: bool) {
        self.frame += ms;
        if last {
            self.total += self.frame;
            self.max = self.max.max(self.frame);
            self.frames += 1;
            self.frame = 0.0;
        }
    }

    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "mean": self.total / self.frames.max(1) as f64,
            "max": self.max,
            "frames": self.frames,
        })
    }
}
