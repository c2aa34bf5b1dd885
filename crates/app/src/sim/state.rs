//! The simulation's resources, one job each: the episode, how it advances, the timeline, the
//! agent's view and (with `view --run`) the replayed run.

use super::driver::Driver;
use bevy::prelude::*;
use genreward_agent::{AgentActor, AgentPolicy};
use genreward_record::NpyWriter;
use genreward_render::{CameraName, Frame, Renderer, View, ViewSpec};
use genreward_run::RunDir;
use genreward_sim::rollout::StepRecord;
use genreward_sim::world::ShapeInstance;
use genreward_sim::{Actor, Env, TaskKind};

/// The running episode: task, seed and driver, the environment and what acts in it, and the
/// record of every step taken (or replayed).
#[derive(Resource)]
pub struct Episode {
    pub task: TaskKind,
    pub seed: u32,
    pub driver: Driver,
    pub env: Env,
    /// What acts when a policy drives (any [`Actor`]: scripted, random, learned).
    pub(super) actor: Box<dyn Actor + Send + Sync>,
    /// `--policy agent:DIR`: the trained agent, and its actor in the running episode when it
    /// drives.
    pub agent: Option<AgentPolicy>,
    pub(super) agent_actor: Option<AgentActor>,
    /// Keyboard driver: gripper closed (space toggles).
    pub gripper_closed: bool,
    /// Steps of this episode.
    pub history: Vec<StepRecord>,
    /// The scene each step's action was taken in (`shapes[t]`: the state before `history[t]`),
    /// so the timeline can show any step again without re-simulating.
    pub shapes: Vec<Vec<ShapeInstance>>,
    /// What the agent made of each step (aligned with `history`): its model state decoded and
    /// the frame it imagined `IMAGINE_AHEAD` steps on; `None` where it did not drive.
    pub imagined: Vec<Option<(Vec<u8>, Vec<u8>)>>,
    /// The last problem to show in the panel.
    pub message: Option<String>,
    /// Bumped on every reset, so views can rebuild.
    pub serial: u64,
}

impl Episode {
    /// The gripper action the keyboard holds (closed: 1, open: -1).
    pub fn gripper_hold(&self) -> f64 {
        if self.gripper_closed {
            1.0
        } else {
            -1.0
        }
    }
}

/// How the episode advances: playing or paused, at what speed, a single step asked for; a
/// scripted run's frame budget.
#[derive(Resource)]
pub struct Playback {
    pub playing: bool,
    /// Playback speed, 1.0 = real time.
    pub speed: f32,
    /// Steps owed to real time, carried from frame to frame.
    pub(super) accum: f32,
    pub step_requested: bool,
    /// Scripted runs (`--frames N`): N frames of exactly one step each, then exit.
    pub frames: Option<u32>,
}

impl Playback {
    /// Playing at real time, or one step per frame for a scripted run of `frames` frames.
    pub fn new(frames: Option<u32>) -> Playback {
        Playback {
            playing: true,
            speed: 1.0,
            accum: 0.0,
            step_requested: false,
            frames,
        }
    }

    /// Scripted runs take exactly one step per frame.
    pub fn one_step_per_frame(&self) -> bool {
        self.frames.is_some()
    }
}

/// The timeline's cursor: `Some(t)` shows the state before step `t` (scene, agent view,
/// terms); `None` follows the running episode.
#[derive(Resource, Default)]
pub struct Timeline {
    pub cursor: Option<usize>,
}

/// The agent's observation: its camera and size, the headless renderer that draws it, the
/// current frame, the frame of every step, and the file the frames shown are saved to.
#[derive(Resource)]
pub struct AgentView {
    pub camera: CameraName,
    pub size: (u32, u32),
    pub(super) renderer: Option<Renderer>,
    /// The agent's current observation image (state before the next action).
    pub frame: Option<Frame>,
    /// Bumped whenever `frame` changes.
    pub serial: u64,
    /// The agent-view frame each step's action was chosen from (`frames[t]` shows the state
    /// before `history[t]`'s action), what the reward terms read; empty without a renderer.
    pub frames: Vec<Frame>,
    /// A trained agent's own camera frame (64x64), when the observation camera is another
    /// (the one GenReward scores): what the agent acts on.
    pub(super) actor_frame: Option<Frame>,
    /// `--save-agent-view`: every frame shown, as .npy.
    pub(super) dump: Option<NpyWriter>,
}

impl AgentView {
    /// The observation's camera and size.
    pub fn spec(&self) -> ViewSpec {
        ViewSpec {
            camera: self.camera,
            width: self.size.0,
            height: self.size.1,
        }
    }

    /// Renders `shapes` from `spec` (cameras that follow the hand follow `hand`) with the app's
    /// headless renderer: `None` without one; a failure goes to `message`.
    pub(super) fn render_shapes(
        &mut self,
        shapes: &[ShapeInstance],
        hand: [f64; 3],
        spec: ViewSpec,
        message: &mut Option<String>,
    ) -> Option<Frame> {
        let r = self.renderer.as_mut()?;
        let view = View {
            shapes,
            camera: spec.camera.pose(hand),
        };
        match r.render(&[view], spec.width, spec.height) {
            Ok(mut f) => Some(f.remove(0)),
            Err(e) => {
                *message = Some(format!("render failed: {e}"));
                None
            }
        }
    }

    /// Completes the saved agent-view file, if any.
    pub fn finish_dump(&mut self) -> anyhow::Result<()> {
        if let Some(d) = self.dump.take() {
            d.finish()?;
        }
        Ok(())
    }
}

/// `view --run`: a recorded run replayed. Every step of the shown episode is in
/// [`Episode::history`] at once, its scenes rebuilt from the recorded observations and finger
/// joints (nothing is simulated), its agent views the run's saved frames; playing moves the
/// timeline's cursor.
#[derive(Resource)]
pub struct Replay {
    pub run: RunDir,
    /// The episode shown, and every episode the run holds.
    pub episode: usize,
    pub episodes: Vec<usize>,
    /// `steps.jsonl`, all episodes.
    pub(super) steps: Vec<StepRecord>,
    /// Whether the agent views are the run's saved frames (else rendered from the rebuilt
    /// scenes: the run saved no camera observations).
    pub recorded_frames: bool,
}
