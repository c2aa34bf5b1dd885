//! GenReward in the app: with `view --goal FILE`, every step's agent-view frame feeds the video
//! reward and every step's state and action the FB reward, as `rollout --goal` computes them
//! (the same terms, the same frames). The terms are stored per step, so the panel's alpha, beta
//! and sparse-interval controls rescore the whole episode at once without running a model again,
//! and clicking another goal frame re-aims r_fb and rescores the episode's r_fb in one batch.
//!
//! The models run on a worker thread of their own ([`super::worker`]): the frame's update only
//! sends the step's frame, state and action and takes the terms that are ready, so an r_video
//! payment (16 frames through the encoder, about 30-40 ms on the CPU) does not hold the window.
//! The backend is the one `--device` names: the CPU (burn-flex) by default, or wgpu on the app's
//! own device ([`super::gpu`]).

use super::sim::Sim;
use super::worker::{Done, Models, StepInput, Worker};
use crate::score::Loaded;
use bevy::prelude::*;
use genreward_record::picture::Picture;
use genreward_render::{CameraName, ViewSpec};
use genreward_reward::field::{FieldGrid, FieldSubject};
use genreward_reward::mix::{mix, paid_env, MixWeights};
use genreward_reward::{GoalFrameChoice, GoalVideo};
use genreward_run::GoalInfo;
use std::sync::{Arc, Mutex};

/// What `view --goal` loaded, and the environment reward's interval.
pub struct GoalSetup {
    pub loaded: Loaded,
    pub sparse_every: Option<usize>,
    /// Show the reward field of this subject from the start.
    pub heatmap: Option<FieldSubject>,
}

/// The loaded goal as the panel shows it (its models run on the worker thread).
pub struct GoalView {
    pub info: GoalInfo,
    pub goal: GoalVideo,
    pub goal_frame: GoalFrameChoice,
    pub has_fb: bool,
}

/// GenReward's state in the app: the loaded goal, the models' worker and the current episode's
/// stored values.
#[derive(Resource)]
pub struct RewardPanel {
    setup: Option<GoalView>,
    /// The models' thread (with a goal whose models loaded).
    worker: Option<Worker>,
    /// Where the models run, in words (for the panel and the summary).
    pub backend: String,
    /// Bumped on a new episode or another goal; the worker's older answers are dropped.
    generation: u64,
    /// Steps of the episode sent to the worker.
    sent: usize,
    /// A goal-frame change sent and not yet answered.
    aiming: Option<usize>,
    /// Per step of the episode: r_video (0 where not paid) and r_fb.
    pub r_video: Vec<f64>,
    pub r_fb: Vec<f64>,
    pub weights: MixWeights,
    /// Index into the goal's 16 sampled frames that r_fb aims at.
    pub goal_frame: usize,
    /// Milliseconds of the last r_video payment and of the last step's r_fb (on the worker).
    pub ms_video: f64,
    pub ms_fb: f64,
    /// The most steps the terms have trailed the episode by (steps sent, not yet scored).
    pub max_lag: usize,
    /// The reward systems' time on the main thread.
    pub main_thread: MainThreadTime,
    /// Problems to show in the panel.
    pub message: Option<String>,
    /// The episode's figures, printed by `view` when the window closes (scripted runs).
    pub summary: Arc<Mutex<Option<serde_json::Value>>>,
    serial: u64,
    pub field: FieldView,
    /// Replays (`view --run`): the goal the run was scored against; its terms come from
    /// `steps.jsonl` instead of the models (until another goal is loaded).
    pub recorded: Option<genreward_run::GoalInfo>,
    /// The model settings `view` started with, to load another goal (dropped on the window,
    /// typed in the panel, or made from the expert).
    loader: Option<crate::score::GenRewardArgs>,
    /// Bumped whenever another goal is loaded, so its textures are made again.
    pub goal_serial: u64,
    /// The panel's goal path field.
    pub goal_path_text: String,
    /// The last goal loaded after the start (for the panel and the summary).
    pub status: Option<String>,
}

/// The FB reward field (r_fb with the hand or the object at each cell of a grid over the
/// table) drawn over a top view, refreshed every `every` steps and whenever the goal frame, the
/// subject or the episode changes.
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
    shown: Option<(u64, usize, usize, FieldSubject)>,
    /// A field asked of the worker and not yet drawn: the state it was asked at, when.
    asked: Option<([f64; 39], std::time::Instant)>,
    /// A field the worker answered, to draw in the next field update.
    ready: Option<(
        Result<genreward_reward::field::RewardField, String>,
        std::time::Instant,
    )>,
    /// The last field's values (drawn on the table in the 3D view).
    pub values: Option<genreward_reward::field::RewardField>,
}

/// Cells per side of the app's field grid.
pub const FIELD_GRID: usize = 24;
/// Side of the top view the field is drawn over.
pub const FIELD_SIZE: u32 = 256;

/// The mixed reward of one episode from its stored terms and each term's weighted return.
#[derive(Clone, Debug, PartialEq)]
pub struct Rescored {
    /// `r_env` as paid (dense or every K-th step).
    pub env_paid: Vec<f64>,
    /// `r_env + alpha r_video + beta r_fb` per step.
    pub total: Vec<f64>,
    /// Returns: r_env as paid, alpha r_video, beta r_fb, the total.
    pub returns: [f64; 4],
}

/// Rescores an episode: `dense` r_env, `r_video`, `r_fb` per step, with weights `w`.
pub fn rescore(dense: &[f64], r_video: &[f64], r_fb: &[f64], w: &MixWeights) -> Rescored {
    let n = dense.len().min(r_video.len()).min(r_fb.len());
    let (dense, r_video, r_fb) = (&dense[..n], &r_video[..n], &r_fb[..n]);
    let env_paid = paid_env(dense, w.sparse_every);
    let total = mix(dense, r_video, r_fb, w);
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let returns = [
        sum(&env_paid),
        w.alpha * sum(r_video),
        w.beta * sum(r_fb),
        sum(&total),
    ];
    Rescored {
        env_paid,
        total,
        returns,
    }
}

impl RewardPanel {
    pub fn new(setup: Option<GoalSetup>) -> RewardPanel {
        let heatmap = setup.as_ref().and_then(|s| s.heatmap);
        let (weights, goal_frame) = match &setup {
            Some(s) => (
                MixWeights {
                    alpha: s.loaded.info.alpha,
                    beta: s.loaded.info.beta,
                    sparse_every: s.sparse_every,
                },
                s.loaded.terms.goal_frame.frame,
            ),
            None => (
                MixWeights {
                    alpha: crate::score::DEFAULT_ALPHA,
                    beta: crate::score::DEFAULT_BETA,
                    sparse_every: None,
                },
                0,
            ),
        };
        let mut panel = RewardPanel {
            setup: None,
            worker: None,
            backend: String::new(),
            generation: 0,
            sent: 0,
            aiming: None,
            r_video: Vec::new(),
            r_fb: Vec::new(),
            weights,
            goal_frame,
            ms_video: 0.0,
            ms_fb: 0.0,
            max_lag: 0,
            main_thread: MainThreadTime::default(),
            message: None,
            summary: Arc::default(),
            serial: 0,
            field: FieldView {
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
            },
            recorded: None,
            loader: None,
            goal_serial: 0,
            goal_path_text: String::new(),
            status: None,
        };
        if let Some(s) = setup {
            panel.install(s.loaded);
        }
        panel
    }

    /// Takes a loaded goal: its data to the panel, its models to the worker thread (started on
    /// the first goal). The episode is scored again from its first step.
    fn install(&mut self, loaded: Loaded) {
        let Loaded { terms, info } = loaded;
        let genreward_reward::GenRewardTerms {
            video,
            fb,
            goal,
            goal_frame,
            ..
        } = terms;
        self.backend = match info.device.as_str() {
            "wgpu" => genreward_models::backend::gpu_device_name(),
            _ => "cpu (burn-flex)".to_string(),
        };
        self.setup = Some(GoalView {
            has_fb: fb.is_some(),
            info,
            goal,
            goal_frame,
        });
        self.generation += 1;
        let models = Models { video, fb };
        match &mut self.worker {
            Some(w) => w.replace_models(self.generation, models),
            None => self.worker = Some(Worker::spawn(models)),
        }
        self.serial = u64::MAX;
        self.sent = 0;
        self.aiming = None;
        self.field.shown = None;
        self.field.asked = None;
        self.field.ready = None;
    }

    /// Lets the panel load other goals with these model settings.
    pub fn set_loader(&mut self, args: crate::score::GenRewardArgs) {
        self.loader = Some(args);
    }

    /// Loads `path` as the goal (its goal frame chosen as at the start) and scores the episode
    /// so far against it; a failure leaves the current goal and shows one line in the panel.
    pub fn load_goal(&mut self, path: &std::path::Path, sim: &Sim) {
        let Some(mut args) = self.loader.clone() else {
            self.message = Some("loading a goal is not available here".into());
            return;
        };
        args.goal_frame = None;
        match crate::score::load_terms(path, &args, sim.task) {
            Ok(loaded) => {
                self.goal_frame = loaded.terms.goal_frame.frame;
                self.install(loaded);
                // Terms now come from the models, over every step taken (or recorded) so far.
                self.recorded = None;
                self.r_video.clear();
                self.r_fb.clear();
                self.goal_serial += 1;
                self.message = None;
                self.status = Some(format!("goal {} loaded", path.display()));
            }
            Err(e) => {
                let e = format!("{e:#}");
                let e = e.lines().next().unwrap_or("").to_string();
                self.message = Some(format!("cannot load the goal '{}': {e}", path.display()));
            }
        }
        self.publish(sim);
    }

    /// Shows a replayed run's stored terms with the weights and interval it was scored with.
    pub fn follow_run(&mut self, manifest: &genreward_run::RunManifest) {
        if let Some(g) = &manifest.goal {
            self.weights.alpha = g.alpha;
            self.weights.beta = g.beta;
            if let Some(f) = &g.goal_frame {
                self.goal_frame = f.frame;
            }
        }
        self.weights.sparse_every =
            (manifest.config.sparse_every > 1).then_some(manifest.config.sparse_every);
        self.recorded = manifest.goal.clone();
    }

    /// What a recording of steps `from..to` of the episode keeps beside the video: the goal,
    /// goal frame and weights in force, and each step's terms (r_env dense and as paid,
    /// r_video, r_fb, the mixed reward; the terms are null without a goal).
    pub fn recording_data(&self, sim: &Sim, from: usize, to: usize) -> serde_json::Value {
        let r = self.rescored(sim);
        let goal = self
            .with_setup(|s| (s.info.path.clone(), s.info.fb.clone()))
            .or_else(|| {
                self.recorded
                    .as_ref()
                    .map(|g| (g.path.clone(), g.fb.clone()))
            })
            .map(|(path, fb)| {
                serde_json::json!({
                    "path": path,
                    "goal_frame": self.goal_frame,
                    "fb": fb,
                    "alpha": self.weights.alpha,
                    "beta": self.weights.beta,
                    "sparse_every": self.weights.sparse_every,
                })
            });
        let mut to = to.min(sim.history.len());
        if goal.is_some() {
            // Steps whose terms are computed (the models follow the episode each frame).
            to = to.min(r.total.len());
        }
        let steps: Vec<serde_json::Value> = (from.min(to)..to)
            .map(|t| {
                let h = &sim.history[t];
                let terms = goal.is_some() && t < r.total.len();
                serde_json::json!({
                    "step": t,
                    "r_env": h.dense_reward,
                    "r_env_paid": if terms { Some(r.env_paid[t]) } else { None },
                    "r_video": if terms { self.r_video.get(t).copied() } else { None },
                    "r_fb": if terms { self.r_fb.get(t).copied() } else { None },
                    "reward": if terms { Some(r.total[t]) } else { None },
                    "success": h.success,
                })
            })
            .collect();
        serde_json::json!({ "goal": goal, "steps": steps })
    }

    /// Whether there are terms to show: models loaded, or a replayed run's stored terms.
    pub fn has_terms(&self) -> bool {
        self.setup.is_some() || self.recorded.is_some()
    }

    /// Reads the loaded goal (`None` without one).
    pub fn with_setup<T>(&self, f: impl FnOnce(&GoalView) -> T) -> Option<T> {
        self.setup.as_ref().map(f)
    }

    /// The current episode rescored with the panel's weights.
    pub fn rescored(&self, sim: &Sim) -> Rescored {
        let dense: Vec<f64> = sim.history.iter().map(|r| r.dense_reward).collect();
        rescore(&dense, &self.r_video, &self.r_fb, &self.weights)
    }

    /// Aims r_fb at sampled goal frame `k`; the worker rescores the episode's r_fb in one batch
    /// and the plot follows when it answers.
    pub fn set_goal_frame(&mut self, k: usize, _sim: &Sim) {
        let Some(setup) = &self.setup else { return };
        let Some(frame) = setup.goal.window.get(k).cloned() else {
            return;
        };
        if !setup.has_fb {
            return;
        }
        let Some(worker) = self.worker.as_mut() else {
            return;
        };
        worker.aim(self.generation, k, frame);
        self.goal_frame = k;
        self.aiming = Some(k);
    }

    /// Sends the steps taken since the last call to the worker (a new episode starts over) and
    /// takes the terms it has ready.
    fn follow(&mut self, sim: &Sim) {
        let replaying = sim.replay.is_some() && self.recorded.is_some();
        let new_episode = self.serial != sim.episode_serial;
        if new_episode {
            self.serial = sim.episode_serial;
            self.generation += 1;
            self.sent = 0;
            self.aiming = None;
            if replaying {
                // A replay's terms are the ones it recorded; the models only re-aim r_fb.
                let term = |name: &str| -> Vec<f64> {
                    sim.history
                        .iter()
                        .map(|r| r.terms.get(name).copied().unwrap_or(0.0))
                        .collect()
                };
                self.r_video = term("r_video");
                self.r_fb = term("r_fb");
            } else {
                self.r_video.clear();
                self.r_fb.clear();
            }
            if let Some(w) = self.worker.as_mut() {
                w.reset(self.generation);
            }
            // A field asked in the last episode is answered to a generation now dropped.
            self.field.asked = None;
            self.field.ready = None;
            self.field.shown = None;
        }
        if let Some(w) = self.worker.as_mut() {
            for t in self.sent..sim.history.len() {
                let rec = &sim.history[t];
                w.step(
                    self.generation,
                    StepInput {
                        t,
                        frame: sim.frames.get(t).cloned(),
                        obs: rec.obs,
                        action: rec.action,
                        score: !replaying,
                    },
                );
            }
            self.sent = sim.history.len();
            if replaying && new_episode && self.goal_frame != self.recorded_goal_frame() {
                // The user picked another goal frame before: keep it for this episode too (a
                // live episode keeps it anyway: the worker's FB model stays aimed).
                let k = self.goal_frame;
                self.set_goal_frame(k, sim);
            }
        }
        self.take_answers(false);
        self.max_lag = self.max_lag.max(self.lag());
        self.publish(sim);
    }

    /// Steps sent to the models and not yet scored.
    pub fn lag(&self) -> usize {
        if self.recorded.is_some() {
            return 0;
        }
        self.sent.saturating_sub(self.r_fb.len())
    }

    /// The goal frame a replayed run was scored with.
    fn recorded_goal_frame(&self) -> usize {
        self.recorded
            .as_ref()
            .and_then(|g| g.goal_frame.as_ref())
            .map_or(self.goal_frame, |f| f.frame)
    }

    /// Takes the worker's answers: ready ones, or with `wait` every one still owed.
    fn take_answers(&mut self, wait: bool) {
        let Some(w) = self.worker.as_mut() else {
            return;
        };
        for (gen, done) in w.answers(wait) {
            if let Done::Failed(e) = &done {
                self.message = Some(format!("the models failed: {e}"));
                continue;
            }
            if gen != self.generation {
                continue;
            }
            match done {
                Done::Step {
                    t,
                    r_video,
                    r_fb,
                    ms_video,
                    ms_fb,
                    error,
                } => {
                    if t != self.r_fb.len() {
                        continue;
                    }
                    if r_video.is_some() {
                        self.ms_video = ms_video;
                    }
                    self.ms_fb = ms_fb;
                    self.r_video.push(r_video.unwrap_or(0.0));
                    self.r_fb.push(r_fb);
                    if let Some(e) = error {
                        self.message = Some(e);
                    }
                }
                Done::Aimed { k, r_fb } => {
                    if self.aiming == Some(k) {
                        self.aiming = None;
                    }
                    match r_fb {
                        Ok(v) => {
                            let n = v.len().min(self.r_fb.len());
                            self.r_fb[..n].copy_from_slice(&v[..n]);
                        }
                        Err(e) => self.message = Some(format!("r_fb: {e}")),
                    }
                }
                Done::Field { field, ms } => {
                    self.field.ms = ms;
                    self.field.ready = Some((field, std::time::Instant::now()));
                }
                Done::Failed(_) => {}
            }
        }
    }

    /// Waits for the worker to finish every job sent (the terms of every step taken, a goal
    /// frame asked for, the last field): before a recording or the summary is written.
    pub fn finish(&mut self, sim: &mut Sim) {
        self.follow(sim);
        self.take_answers(true);
        self.refresh_field(sim);
        self.publish(sim);
    }

    /// Updates the summary `view` prints at exit.
    fn publish(&self, sim: &Sim) {
        let (path, fb) = self
            .with_setup(|s| (Some(s.info.path.clone()), s.info.fb.clone()))
            .or_else(|| {
                self.recorded
                    .as_ref()
                    .map(|g| (Some(g.path.clone()), g.fb.clone()))
            })
            .unwrap_or((None, None));
        let r = self.rescored(sim);
        let summary = serde_json::json!({
            "steps": sim.history.len(),
            "replay": sim.replay.as_ref().map(|r| serde_json::json!({
                "run": r.run.path.display().to_string(),
                "episode": r.episode,
                "shown_step": sim.shown_step(),
                "recorded_frames": r.recorded_frames,
            })),
            "goal": path,
            "goal_frame": self.goal_frame,
            "weights": self.weights,
            "return_env": r.returns[0],
            "return_video": r.returns[1],
            "return_fb": r.returns[2],
            "return": r.returns[3],
            "r_video_paid": self.r_video.iter().filter(|v| **v != 0.0).count(),
            "ms_video": self.ms_video,
            "ms_fb": self.ms_fb,
            "backend": (!self.backend.is_empty()).then_some(&self.backend),
            "max_lag": self.max_lag,
            "main_thread_ms": self.main_thread.json(),
            "fb": fb,
            "goals_loaded": self.goal_serial,
            "message": self.message,
            "field": self.field.show.then(|| serde_json::json!({
                "subject": self.field.subject,
                "refreshes": self.field.picture_serial,
                "ms": self.field.ms,
            })),
        });
        if let Ok(mut g) = self.summary.lock() {
            *g = Some(summary);
        }
    }
}

impl RewardPanel {
    /// Recomputes the reward field when it is due (see [`FieldView`]).
    fn refresh_field(&mut self, sim: &mut Sim) {
        self.draw_field(sim);
        if !self.field.show || self.field.asked.is_some() {
            return;
        }
        let now = (
            sim.episode_serial,
            sim.shown_step(),
            self.goal_frame,
            self.field.subject,
        );
        let due = match self.field.shown {
            None => true,
            Some((e, step, g, s)) => {
                e != now.0
                    || g != now.2
                    || s != now.3
                    || now.1 >= step + self.field.every.max(1)
                    || (now.1 < step)
            }
        };
        if !due {
            return;
        }
        let Some(setup) = &self.setup else { return };
        if !setup.has_fb {
            self.message = Some("no r_fb: the reward field needs an FB model".into());
            self.field.show = false;
            return;
        }
        let Some(worker) = self.worker.as_mut() else {
            return;
        };
        let obs = sim.shown_obs();
        let action = sim.shown_record().map_or([0.0; 4], |r| r.action);
        let grid = FieldGrid::over_hand_box(sim.task, FIELD_GRID);
        worker.field(self.generation, obs, action, self.field.subject, grid);
        self.field.shown = Some(now);
        self.field.asked = Some((obs, std::time::Instant::now()));
    }

    /// Draws the field the worker answered over a top view of the scene.
    fn draw_field(&mut self, sim: &mut Sim) {
        let Some((field, _)) = self.field.ready.take() else {
            return;
        };
        let Some((obs, _asked)) = self.field.asked.take() else {
            return;
        };
        let field = match field {
            Ok(f) => f,
            Err(e) => {
                self.message = Some(format!("reward field: {e}"));
                self.field.show = false;
                return;
            }
        };
        if !self.field.show {
            return;
        }
        let t0 = std::time::Instant::now();
        let spec = ViewSpec {
            camera: CameraName::Topview,
            width: FIELD_SIZE,
            height: FIELD_SIZE,
        };
        let Some(top) = sim.render_view(spec) else {
            return;
        };
        let hand = [obs[0], obs[1], obs[2]];
        let pose = CameraName::Topview.pose(hand);
        let pic = crate::heatmap::draw_field(
            Picture::from_rgb(top.width, top.height, top.rgb),
            &pose.view_proj(1.0),
            &field,
            &[
                (hand, [255, 255, 255]),
                ([obs[4], obs[5], obs[6]], [255, 140, 0]),
                ([obs[36], obs[37], obs[38]], [255, 40, 40]),
            ],
        );
        self.field.picture = Some(pic);
        self.field.values = Some(field);
        self.field.picture_serial += 1;
        // The field's time on the worker plus the top view and drawing here.
        self.field.ms += t0.elapsed().as_secs_f64() * 1e3;
        self.publish(sim);
    }
}

pub struct RewardPlugin;

impl Plugin for RewardPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            (dropped_goal, follow_sim, field_system)
                .chain()
                .after(super::sim::advance),
        )
        .init_resource::<ScriptedDrops>()
        .add_systems(Update, scripted_drops.before(dropped_goal));
    }
}

pub(super) fn field_system(mut sim: ResMut<Sim>, mut panel: ResMut<RewardPanel>) {
    let t0 = std::time::Instant::now();
    panel.refresh_field(&mut sim);
    panel
        .main_thread
        .add(t0.elapsed().as_secs_f64() * 1e3, true);
}

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
    fn add(&mut self, ms: f64, last: bool) {
        self.frame += ms;
        if last {
            self.total += self.frame;
            self.max = self.max.max(self.frame);
            self.frames += 1;
            self.frame = 0.0;
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "mean": self.total / self.frames.max(1) as f64,
            "max": self.max,
            "frames": self.frames,
        })
    }
}

/// A file dropped on the window is loaded as the goal video (a message in the panel if it is
/// not one).
fn dropped_goal(
    mut drops: MessageReader<bevy::window::FileDragAndDrop>,
    sim: Res<Sim>,
    mut panel: ResMut<RewardPanel>,
) {
    for d in drops.read() {
        if let bevy::window::FileDragAndDrop::DroppedFile { path_buf, .. } = d {
            panel.load_goal(path_buf, &sim);
        }
    }
}

/// `view --drop FILE` (scripted use): drops the files on the window one per frame from the
/// third frame on, through the same message a real drop sends.
#[derive(Resource, Default)]
pub struct ScriptedDrops(pub Vec<std::path::PathBuf>);

fn scripted_drops(
    mut frame: Local<usize>,
    drops: Res<ScriptedDrops>,
    window: Query<Entity, With<bevy::window::PrimaryWindow>>,
    mut out: MessageWriter<bevy::window::FileDragAndDrop>,
) {
    *frame += 1;
    let Some(path) = frame.checked_sub(3).and_then(|i| drops.0.get(i)) else {
        return;
    };
    if let Ok(window) = window.single() {
        out.write(bevy::window::FileDragAndDrop::DroppedFile {
            window,
            path_buf: path.clone(),
        });
    }
}

fn follow_sim(sim: Res<Sim>, mut panel: ResMut<RewardPanel>) {
    let t0 = std::time::Instant::now();
    panel.follow(&sim);
    panel
        .main_thread
        .add(t0.elapsed().as_secs_f64() * 1e3, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Driver, ViewOptions};
    use genreward_sim::{PolicyKind, TaskKind};

    /// The worker thread scores the episode as the models do when called directly, step by
    /// step; a goal-frame change rescores the steps taken and aims the later ones; a new
    /// episode starts the video window over.
    #[test]
    fn the_worker_scores_as_the_models_do_and_follows_the_goal_frame() {
        let opts = ViewOptions {
            task: TaskKind::Push,
            seed: 3,
            obs_size: (64, 64),
            ..crate::app::sim::tests::options(Driver::Policy(PolicyKind::Expert))
        };
        let mut sim = Sim::new(&opts).unwrap();
        let goal = sim.expert_goal_file().unwrap();
        let args = crate::score::GenRewardArgs {
            vae: None,
            every: 8,
            alpha: 10.0,
            fb: None,
            no_fb: false,
            beta: 0.005,
            goal_frame: None,
            clip: None,
            dino: None,
            device: "cpu".into(),
            live_agent: false,
        };
        let load = || crate::score::load_terms(&goal, &args, TaskKind::Push).unwrap();
        let mut panel = RewardPanel::new(Some(GoalSetup {
            loaded: load(),
            sparse_every: None,
            heatmap: None,
        }));
        let mut direct = load().terms;
        std::fs::remove_file(&goal).unwrap();
        let fb = direct.fb.as_mut().unwrap();
        let inputs = |sim: &Sim, range: std::ops::Range<usize>| {
            let s: Vec<f32> = sim.history[range.clone()]
                .iter()
                .flat_map(|r| r.obs.map(|v| v as f32))
                .collect();
            let a: Vec<f32> = sim.history[range]
                .iter()
                .flat_map(|r| r.action.map(|v| v as f32))
                .collect();
            (s, a)
        };
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1.0))
        };

        for _ in 0..20 {
            sim.step([0.0; 4]);
            panel.follow(&sim);
        }
        panel.finish(&mut sim);
        assert_eq!(panel.r_fb.len(), 20);
        let want_video: Vec<f64> = sim.frames[..20]
            .iter()
            .map(|f| direct.video.push(&f.rgb, f.width, f.height).unwrap_or(0.0))
            .collect();
        assert_eq!(want_video.iter().filter(|v| **v != 0.0).count(), 2);
        assert!(close(&panel.r_video, &want_video), "{:?}", panel.r_video);
        let (s, a) = inputs(&sim, 0..20);
        let before = fb.score(&s, &a).unwrap();
        assert!(
            close(&panel.r_fb, &before),
            "{:?} vs {before:?}",
            panel.r_fb
        );

        // Aim at sampled frame 2: the steps taken are rescored, the next ones aimed too.
        panel.set_goal_frame(2, &sim);
        for _ in 0..6 {
            sim.step([0.0; 4]);
            panel.follow(&sim);
        }
        panel.finish(&mut sim);
        fb.set_goal(&direct.goal.window[2]);
        let (s, a) = inputs(&sim, 0..26);
        let aimed = fb.score(&s, &a).unwrap();
        assert!(close(&panel.r_fb, &aimed), "{:?} vs {aimed:?}", panel.r_fb);
        let moved = before
            .iter()
            .zip(&aimed)
            .map(|(x, y)| (x - y).abs())
            .sum::<f64>();
        assert!(moved > 1.0, "the goal frame changes r_fb ({moved})");
        assert_eq!(panel.goal_frame, 2);

        // A new episode: terms from its first step, r_video paid at its own step 8.
        sim.reset();
        for _ in 0..8 {
            sim.step([0.0; 4]);
            panel.follow(&sim);
        }
        panel.finish(&mut sim);
        assert_eq!(panel.r_fb.len(), 8);
        direct.video.reset();
        let last = sim.frames[..8]
            .iter()
            .filter_map(|f| direct.video.push(&f.rgb, f.width, f.height))
            .collect::<Vec<_>>();
        assert_eq!(last.len(), 1);
        assert!(
            (panel.r_video[7] - last[0]).abs() < 1e-6,
            "{:?}",
            panel.r_video
        );
        assert!(panel.backend.starts_with("cpu"), "{}", panel.backend);
    }

    #[test]
    fn rescoring_is_the_formula_on_stored_terms() {
        let dense = [1.0, 2.0, 3.0, 4.0];
        let rv = [0.0, 0.5, 0.0, 0.9];
        let rf = [10.0, 20.0, -5.0, 40.0];
        let w = MixWeights {
            alpha: 3.0,
            beta: 0.1,
            sparse_every: Some(2),
        };
        let r = rescore(&dense, &rv, &rf, &w);
        assert_eq!(r.env_paid, vec![0.0, 2.0, 0.0, 4.0]);
        for t in 0..4 {
            let want = r.env_paid[t] + 3.0 * rv[t] + 0.1 * rf[t];
            assert!((r.total[t] - want).abs() < 1e-12);
        }
        assert!((r.returns[0] - 6.0).abs() < 1e-12);
        assert!((r.returns[1] - 4.2).abs() < 1e-12);
        assert!((r.returns[2] - 6.5).abs() < 1e-12);
        assert!((r.returns[3] - 16.7).abs() < 1e-12);
        // Dense: every step's r_env is paid.
        let r = rescore(
            &dense,
            &rv,
            &rf,
            &MixWeights {
                sparse_every: None,
                ..w
            },
        );
        assert_eq!(r.env_paid, dense.to_vec());
    }
}

/// The goal's 16 sampled frames as egui textures, made once.
#[derive(Resource, Default)]
pub struct GoalTextures {
    ids: Vec<(egui::TextureId, u32, u32)>,
    /// The panel's goal serial the strip shows.
    goal_serial: u64,
    /// The goal video playing: its image, texture, size and the frame it shows.
    player: Option<(Handle<Image>, egui::TextureId, u32, u32, usize)>,
    /// The reward field's picture: its image, texture, size and the serial it shows.
    field: Option<(Handle<Image>, egui::TextureId, u32, u32, u64)>,
}

/// An RGB picture (`w x h`, display-ready bytes) as a Bevy image egui shows with the very same
/// values (sRGB), sampled with `sampler`.
pub(super) fn rgb_image(rgb: &[u8], w: u32, h: u32, sampler: bevy::image::ImageSampler) -> Image {
    let rgba: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let mut img = Image::new(
        bevy::render::render_resource::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        bevy::render::render_resource::TextureDimension::D2,
        rgba,
        bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
        bevy::asset::RenderAssetUsages::default(),
    );
    img.sampler = sampler;
    img
}

/// Frames per second the goal video plays at in the panel (goal videos are recorded at the
/// 80 Hz control rate: this is a quarter of real time, slow enough to follow).
pub const GOAL_PLAY_FPS: f64 = 20.0;

impl GoalTextures {
    /// Shows the goal video's frame for `seconds` since start, looping.
    fn play(
        &mut self,
        panel: &RewardPanel,
        images: &mut Assets<Image>,
        contexts: &mut bevy_egui::EguiContexts,
        seconds: f64,
    ) {
        let Some(Some((k, w, h, rgb))) = panel.with_setup(|s| {
            let v = &s.goal.video;
            let k = (seconds * GOAL_PLAY_FPS) as usize % v.len().max(1);
            let stale = self.player.as_ref().is_none_or(|p| p.4 != k);
            stale.then(|| (k, v.width, v.height, v.frames[k].clone()))
        }) else {
            return;
        };
        let img = rgb_image(&rgb, w, h, bevy::image::ImageSampler::linear());
        if let Some(p) = &mut self.player {
            if (p.2, p.3) == (w, h) {
                if let Some(mut i) = images.get_mut(&p.0) {
                    *i = img;
                    p.4 = k;
                    return;
                }
            }
        }
        let handle = images.add(img);
        let id = contexts.add_image(bevy_egui::EguiTextureHandle::Strong(handle.clone()));
        self.player = Some((handle, id, w, h, k));
    }

    /// Uploads the sampled goal frames the first time there is a goal.
    pub fn ensure(
        &mut self,
        panel: &RewardPanel,
        images: &mut Assets<Image>,
        contexts: &mut bevy_egui::EguiContexts,
        seconds: f64,
    ) {
        self.play(panel, images, contexts, seconds);
        if let Some(p) = &panel.field.picture {
            let stale = self
                .field
                .as_ref()
                .is_none_or(|f| f.4 != panel.field.picture_serial);
            if stale {
                let img = rgb_image(
                    &p.rgb,
                    p.width,
                    p.height,
                    bevy::image::ImageSampler::linear(),
                );
                let reuse = self
                    .field
                    .as_ref()
                    .and_then(|f| ((f.2, f.3) == (p.width, p.height)).then(|| (f.0.clone(), f.1)));
                let (handle, id) = match reuse.and_then(|(h, id)| {
                    images.get_mut(&h).map(|mut i| {
                        *i = img.clone();
                        (h.clone(), id)
                    })
                }) {
                    Some(x) => x,
                    None => {
                        let h = images.add(img);
                        let id =
                            contexts.add_image(bevy_egui::EguiTextureHandle::Strong(h.clone()));
                        (h, id)
                    }
                };
                self.field = Some((handle, id, p.width, p.height, panel.field.picture_serial));
            }
        }
        if self.goal_serial != panel.goal_serial {
            self.goal_serial = panel.goal_serial;
            self.ids.clear();
            self.player = None;
        }
        if !self.ids.is_empty() {
            return;
        }
        let Some((frames, w, h)) = panel.with_setup(|s| {
            let g = &s.goal;
            (g.window.clone(), g.size, g.size)
        }) else {
            return;
        };
        for f in frames {
            let img = rgb_image(&f, w, h, bevy::image::ImageSampler::nearest());
            let handle = images.add(img);
            let id = contexts.add_image(bevy_egui::EguiTextureHandle::Strong(handle));
            self.ids.push((id, w, h));
        }
    }
}

use bevy_egui::egui;

/// Another goal: a path typed or dropped on the window, or the expert's own for this task and
/// seed (rendered, saved as .npy in the temporary folder, and loaded).
fn goal_loading(ui: &mut egui::Ui, panel: &mut RewardPanel, sim: &mut Sim) {
    if panel.loader.is_none() {
        return;
    }
    ui.horizontal(|ui| {
        ui.label("goal video");
        ui.add(egui::TextEdit::singleline(&mut panel.goal_path_text).desired_width(170.0));
        if ui.button("load").clicked() {
            let p = std::path::PathBuf::from(panel.goal_path_text.trim());
            panel.load_goal(&p, sim);
        }
    });
    ui.horizontal(|ui| {
        if ui
            .button("make goal from expert")
            .on_hover_text(
                "the scripted expert on this task and seed, until success and a short hold",
            )
            .clicked()
        {
            match sim.expert_goal_file() {
                Ok(p) => {
                    panel.goal_path_text = p.display().to_string();
                    panel.load_goal(&p, sim);
                }
                Err(e) => panel.message = Some(format!("{e:#}")),
            }
        }
        ui.small("or drop a video on the window");
    });
    if let Some(s) = &panel.status {
        ui.small(s.clone());
    }
}

/// The goal strip (click a frame to aim r_fb at it), the chosen goal frame and the reward field.
fn goal_section(ui: &mut egui::Ui, panel: &mut RewardPanel, sim: &Sim, tex: &GoalTextures) {
    let Some((path, scores, method)) = panel.with_setup(|s| {
        (
            s.info.path.clone(),
            s.goal_frame.scores.clone(),
            s.goal_frame.method.clone(),
        )
    }) else {
        return;
    };
    ui.small(format!("goal {path}"));
    ui.label(format!(
        "goal frame {} ({}); click a frame to aim r_fb at it",
        panel.goal_frame,
        if panel.goal_frame == panel.with_setup(|s| s.goal_frame.frame).unwrap_or(0) {
            method.as_str()
        } else {
            "user"
        }
    ));
    let mut clicked = None;
    // Two rows of eight, so the strip fits the panel.
    egui::Grid::new("goal-strip")
        .spacing(egui::vec2(3.0, 2.0))
        .show(ui, |ui| {
            for (k, (id, w, h)) in tex.ids.iter().enumerate() {
                ui.vertical(|ui| {
                    let size = egui::vec2(40.0, 40.0 * *h as f32 / (*w).max(1) as f32);
                    let resp = ui.add(egui::Image::new((*id, size)).sense(egui::Sense::click()));
                    if k == panel.goal_frame {
                        ui.painter().rect_stroke(
                            resp.rect.expand(1.0),
                            0.0,
                            egui::Stroke::new(2.0, egui::Color32::YELLOW),
                            egui::StrokeKind::Outside,
                        );
                    }
                    if resp.clicked() {
                        clicked = Some(k);
                    }
                    ui.small(format!("{:.2}", scores.get(k).copied().unwrap_or(0.0)));
                });
                if k % 8 == 7 {
                    ui.end_row();
                }
            }
        });
    if let Some(k) = clicked {
        panel.set_goal_frame(k, sim);
    }
    // The chosen goal frame large, beside the goal video playing.
    ui.horizontal(|ui| {
        let fit = |w: u32, h: u32| {
            let scale = 128.0 / w.max(h).max(1) as f32;
            egui::vec2(w as f32 * scale, h as f32 * scale)
        };
        if let Some((id, w, h)) = tex.ids.get(panel.goal_frame) {
            ui.vertical(|ui| {
                ui.add(egui::Image::new((*id, fit(*w, *h))));
                ui.small(format!("goal frame {}", panel.goal_frame));
            });
        }
        if let Some((_, id, w, h, k)) = &tex.player {
            let n = panel.with_setup(|s| s.goal.video.len()).unwrap_or(0);
            ui.vertical(|ui| {
                ui.add(egui::Image::new((*id, fit(*w, *h))));
                ui.small(format!("goal video {}/{n}", k + 1));
            });
        }
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut panel.field.show, "reward field of");
        ui.radio_value(&mut panel.field.subject, FieldSubject::Hand, "hand");
        ui.radio_value(&mut panel.field.subject, FieldSubject::Object, "object");
    });
    if panel.field.show {
        if let Some((_, id, w, h, _)) = &tex.field {
            let scale = 330.0 / (*w).max(1) as f32;
            ui.add(egui::Image::new((
                *id,
                egui::vec2(*w as f32 * scale, *h as f32 * scale),
            )));
        }
        ui.small(format!(
            "r_fb if the {} were at each of {FIELD_GRID}x{FIELD_GRID} cells; refreshed every {} steps and on a new goal frame ({:.0} ms with the top view)",
            match panel.field.subject {
                FieldSubject::Hand => "hand",
                FieldSubject::Object => "object",
            },
            panel.field.every,
            panel.field.ms
        ));
    }
}

/// The GenReward section of the side panel: the goal strip (click a frame to aim r_fb at it),
/// the chosen goal frame, the weights (rescoring at once), the returns and the terms' plot.
pub fn panel_ui(ui: &mut egui::Ui, panel: &mut RewardPanel, sim: &mut Sim, tex: &GoalTextures) {
    ui.heading("GenReward");
    goal_loading(ui, panel, sim);
    if !panel.has_terms() {
        ui.label("no goal yet: load a goal video (or drop one on the window) to see r_video, r_fb and the mix");
        return;
    }
    if let Some(g) = panel.recorded.clone() {
        ui.small(format!(
            "terms as recorded in steps.jsonl (goal frame {} by {}); the weights rescore them",
            g.goal_frame.as_ref().map_or(0, |f| f.frame),
            g.goal_frame.as_ref().map_or("?", |f| f.method.as_str())
        ));
        if panel.with_setup(|_| ()).is_none() {
            ui.small(format!(
                "goal {} (its models are not loaded: no goal strip)",
                g.path
            ));
        }
    }
    let timing = panel.with_setup(|s| (s.has_fb, s.info.every));
    if timing.is_some() {
        goal_section(ui, panel, sim, tex);
    }
    // Logarithmic sliders: the weights span orders of magnitude (alpha 10, beta 0.005 by
    // default); the number beside each can be typed or dragged for exact values.
    ui.add(
        egui::Slider::new(&mut panel.weights.alpha, 0.0..=1000.0)
            .logarithmic(true)
            .smallest_positive(0.01)
            .text("alpha (r_video)"),
    );
    ui.add(
        egui::Slider::new(&mut panel.weights.beta, 0.0..=10.0)
            .logarithmic(true)
            .smallest_positive(1e-5)
            .max_decimals(5)
            .text("beta (r_fb)"),
    );
    ui.horizontal(|ui| {
        let mut sparse = panel.weights.sparse_every.is_some();
        ui.checkbox(&mut sparse, "sparse r_env");
        let mut k = panel.weights.sparse_every.unwrap_or(64);
        ui.add_enabled(
            sparse,
            egui::Slider::new(&mut k, 1..=512)
                .logarithmic(true)
                .text("steps apart"),
        );
        panel.weights.sparse_every = sparse.then_some(k);
    });
    let r = panel.rescored(sim);
    egui::Grid::new("genreward-returns")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (name, v) in [
                ("return r_env (paid)", r.returns[0]),
                ("alpha * r_video", r.returns[1]),
                ("beta * r_fb", r.returns[2]),
                ("return", r.returns[3]),
            ] {
                ui.label(name);
                ui.monospace(format!("{v:>10.2}"));
                ui.end_row();
            }
            ui.label("last r_video / r_fb");
            ui.monospace(format!(
                "{:.3} / {:.1}",
                panel
                    .r_video
                    .iter()
                    .rev()
                    .find(|v| **v != 0.0)
                    .copied()
                    .unwrap_or(0.0),
                panel.r_fb.last().copied().unwrap_or(0.0)
            ));
            ui.end_row();
        });
    if let Some((fb_on, every)) = timing {
        let lag = panel.lag();
        ui.small(format!(
            "models on {} (worker thread): r_video {:.1} ms per payment (every {every} steps), r_fb {:.3} ms per step{}{}",
            panel.backend,
            panel.ms_video,
            panel.ms_fb,
            if fb_on { "" } else { " (r_fb off)" },
            if lag > 0 { format!(", {lag} steps queued") } else { String::new() }
        ));
    }
    let line = |v: &[f64]| -> egui_plot::PlotPoints {
        v.iter().enumerate().map(|(i, &y)| [i as f64, y]).collect()
    };
    let dense: Vec<f64> = sim.history.iter().map(|s| s.dense_reward).collect();
    let fb_w: Vec<f64> = panel.r_fb.iter().map(|v| panel.weights.beta * v).collect();
    let video_w: egui_plot::PlotPoints = panel
        .r_video
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| [i as f64, panel.weights.alpha * v])
        .collect();
    egui_plot::Plot::new("genreward-terms")
        .height(170.0)
        .legend(egui_plot::Legend::default())
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(egui_plot::Line::new("r_env dense", line(&dense)));
            if panel.weights.sparse_every.is_some() {
                p.line(egui_plot::Line::new("r_env paid", line(&r.env_paid)));
            }
            p.line(egui_plot::Line::new("beta r_fb", line(&fb_w)));
            p.points(egui_plot::Points::new("alpha r_video", video_w).radius(3.0));
            p.line(egui_plot::Line::new("total", line(&r.total)));
            if let Some(t) = sim.cursor {
                p.vline(egui_plot::VLine::new("timeline", t as f64));
            }
        });
    if let Some(m) = panel.message.clone() {
        ui.colored_label(egui::Color32::from_rgb(230, 80, 60), m);
    }
}
