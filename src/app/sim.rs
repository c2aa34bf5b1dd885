//! The simulation inside the app: stepping at the chosen speed, the policy or
//! the keyboard driving it, and the agent's observation rendered after every
//! step by the same headless renderer `genreward rollout --camera` uses.

use super::ViewOptions;
use anyhow::Result;
use bevy::prelude::*;
use bevy_egui::EguiContexts;
use genreward_record::NpyWriter;
use genreward_render::{render_envs, CameraName, Frame, Renderer, ViewSpec};
use genreward_sim::rollout::{sparse_reward, StepRecord};
use genreward_sim::world::ShapeInstance;
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Pixels, Policy, PolicyKind, TaskKind};
use std::fmt;
use std::str::FromStr;

/// Who acts: a policy, or a person at the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Policy(PolicyKind),
    Keyboard,
}

impl Driver {
    pub const ALL: [Driver; 4] = [
        Driver::Policy(PolicyKind::Expert),
        Driver::Policy(PolicyKind::Random),
        Driver::Policy(PolicyKind::Zero),
        Driver::Keyboard,
    ];
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Driver::Policy(p) => write!(f, "{p}"),
            Driver::Keyboard => f.write_str("keyboard"),
        }
    }
}

impl FromStr for Driver {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("keyboard") {
            return Ok(Driver::Keyboard);
        }
        s.parse::<PolicyKind>().map(Driver::Policy).map_err(|_| {
            anyhow::anyhow!("unknown policy '{s}' (known: expert, random, zero, keyboard)")
        })
    }
}

/// Meta-World's control rate: speed 1.0 plays 80 steps per second.
pub const CONTROL_HZ: f32 = genreward_sim::CONTROL_HZ as f32;

/// The running episode and everything the panel shows about it.
#[derive(Resource)]
pub struct Sim {
    pub task: TaskKind,
    pub seed: u32,
    pub driver: Driver,
    pub env: Env,
    /// What acts when a policy drives (any [`Actor`]: scripted, random, learned).
    actor: Box<dyn Actor + Send + Sync>,
    /// Keyboard driver: gripper closed (space toggles).
    pub gripper_closed: bool,
    /// Steps of this episode.
    pub history: Vec<StepRecord>,
    /// The agent-view frame each step's action was chosen from (`frames[t]` shows the state
    /// before `history[t]`'s action), what the reward terms read; empty without a renderer.
    pub frames: Vec<Frame>,
    /// The scene each step's action was taken in (`shapes[t]`: the state before `history[t]`),
    /// so the timeline can show any step again without re-simulating.
    pub shapes: Vec<Vec<ShapeInstance>>,
    /// The timeline's cursor: `Some(t)` shows the state before step `t` (scene, agent view,
    /// terms); `None` follows the running episode.
    pub cursor: Option<usize>,
    pub playing: bool,
    /// Playback speed, 1.0 = real time.
    pub speed: f32,
    accum: f32,
    pub step_requested: bool,
    /// Scripted runs: exactly one step per frame.
    pub one_step_per_frame: bool,
    pub obs_camera: CameraName,
    pub obs_size: (u32, u32),
    renderer: Option<Renderer>,
    /// The agent's current observation image (state before the next action).
    pub agent_frame: Option<Frame>,
    /// Bumped whenever `agent_frame` changes.
    pub agent_frame_serial: u64,
    agent_dump: Option<NpyWriter>,
    /// The last problem to show in the panel.
    pub message: Option<String>,
    /// Bumped on every reset, so views can rebuild.
    pub episode_serial: u64,
}

impl Sim {
    pub fn new(opts: &ViewOptions) -> Result<Sim> {
        let agent_dump = match &opts.save_agent_view {
            Some(p) => Some(NpyWriter::create(p, opts.obs_size.1, opts.obs_size.0)?),
            None => None,
        };
        let (renderer, message) = match Renderer::new() {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("agent view unavailable: {e}"))),
        };
        let mut sim = Sim {
            task: opts.task,
            seed: opts.seed,
            driver: opts.driver,
            env: Env::new(opts.task, opts.seed, PhysicsConfig::default()),
            actor: Box::new(Policy::new(PolicyKind::Zero, opts.task, 0.0, 0)),
            gripper_closed: false,
            history: Vec::new(),
            frames: Vec::new(),
            shapes: Vec::new(),
            cursor: None,
            playing: true,
            speed: 1.0,
            accum: 0.0,
            step_requested: false,
            one_step_per_frame: opts.frames.is_some(),
            obs_camera: opts.obs_camera,
            obs_size: opts.obs_size,
            renderer,
            agent_frame: None,
            agent_frame_serial: 0,
            agent_dump,
            message,
            episode_serial: 0,
        };
        sim.reset();
        Ok(sim)
    }

    /// Starts the episode of the current task, seed and driver again.
    pub fn reset(&mut self) {
        self.env = Env::new(self.task, self.seed, PhysicsConfig::default());
        // Episode 0 of `genreward rollout --seed <seed>`: the same random stream.
        let kind = match self.driver {
            Driver::Policy(p) => p,
            Driver::Keyboard => PolicyKind::Zero,
        };
        self.actor = Box::new(Policy::for_run(kind, self.task, 0.0, self.seed));
        self.actor.reset(self.task, self.seed, 0);
        self.gripper_closed = false;
        self.history.clear();
        self.frames.clear();
        self.shapes.clear();
        self.cursor = None;
        self.accum = 0.0;
        self.episode_serial += 1;
        self.render_agent_view();
    }

    pub fn episode_over(&self) -> bool {
        self.history.len() >= self.env.max_path_length()
    }

    /// Advances one step with `keyboard` as the action when a person drives.
    pub fn step(&mut self, keyboard: [f64; 4]) {
        if self.episode_over() {
            self.playing = false;
            return;
        }
        let obs = *self.env.last_obs();
        let action = match self.driver {
            Driver::Policy(_) => {
                let pixels = self.agent_frame.as_ref().map(|f| Pixels {
                    width: f.width,
                    height: f.height,
                    rgb: f.rgb.clone(),
                });
                self.actor.act(&Observation {
                    state: &obs,
                    pixels: pixels.as_ref(),
                })
            }
            Driver::Keyboard => keyboard,
        };
        let seen = self.agent_frame.clone();
        let scene = self.env.world().shapes();
        self.cursor = None;
        match self.env.step(action) {
            Ok(r) => {
                let step = self.history.len();
                if let Some(f) = seen {
                    self.frames.push(f);
                }
                self.shapes.push(scene);
                let paid = sparse_reward(r.reward, step, 0);
                self.history.push(StepRecord {
                    episode: 0,
                    step,
                    seed: self.seed,
                    obs,
                    action,
                    reward: paid,
                    dense_reward: r.info.reward,
                    near_object: r.info.near_object,
                    grasp_success: r.info.grasp_success,
                    grasp_reward: r.info.grasp_reward,
                    in_place_reward: r.info.in_place_reward,
                    obj_to_target: r.info.obj_to_target,
                    success: r.info.is_success(),
                    truncated: r.truncated,
                    terms: Default::default(),
                });
                self.render_agent_view();
            }
            Err(e) => {
                self.message = Some(format!("step failed: {e}"));
                self.playing = false;
            }
        }
    }

    /// Changes the observation camera and renders it again.
    pub fn set_obs_camera(&mut self, camera: CameraName) {
        if camera != self.obs_camera {
            self.obs_camera = camera;
            self.render_agent_view();
        }
    }

    fn render_agent_view(&mut self) {
        let Some(r) = &mut self.renderer else { return };
        let spec = ViewSpec {
            camera: self.obs_camera,
            width: self.obs_size.0,
            height: self.obs_size.1,
        };
        match render_envs(r, &[self.env.world()], spec) {
            Ok(mut f) => {
                let frame = f.remove(0);
                if let Some(dump) = &mut self.agent_dump {
                    if let Err(e) = dump.write_frame(&frame.rgb) {
                        self.message = Some(format!("saving the agent view failed: {e}"));
                        self.agent_dump = None;
                    }
                }
                self.agent_frame = Some(frame);
                self.agent_frame_serial += 1;
            }
            Err(e) => self.message = Some(format!("agent view failed: {e}")),
        }
    }

    /// The step the timeline shows: the cursor, or the number of steps taken (the live state).
    pub fn shown_step(&self) -> usize {
        self.cursor
            .map_or(self.history.len(), |t| t.min(self.history.len()))
    }

    /// The step record at the timeline's cursor (the step taken from the state shown), or the
    /// last step when following the episode.
    pub fn shown_record(&self) -> Option<&StepRecord> {
        match self.cursor {
            Some(t) if t < self.history.len() => self.history.get(t),
            _ => self.history.last(),
        }
    }

    /// The scene at the timeline's step.
    pub fn shown_shapes(&self) -> Vec<ShapeInstance> {
        match self.shapes.get(self.shown_step()) {
            Some(s) => s.clone(),
            None => self.env.world().shapes(),
        }
    }

    /// The agent view at the timeline's step.
    pub fn shown_frame(&self) -> Option<&Frame> {
        match self.frames.get(self.shown_step()) {
            Some(f) if self.cursor.is_some() => Some(f),
            _ => self.agent_frame.as_ref(),
        }
    }

    /// Renders the current state from `spec` with the app's headless renderer (`None` without
    /// one; a failure goes to the panel's message).
    pub fn render_view(&mut self, spec: ViewSpec) -> Option<Frame> {
        let r = self.renderer.as_mut()?;
        match render_envs(r, &[self.env.world()], spec) {
            Ok(mut f) => Some(f.remove(0)),
            Err(e) => {
                self.message = Some(format!("render failed: {e}"));
                None
            }
        }
    }

    /// Completes the saved agent-view file, if any.
    pub fn finish_agent_dump(&mut self) -> Result<()> {
        if let Some(d) = self.agent_dump.take() {
            d.finish()?;
        }
        Ok(())
    }
}

pub struct SimPlugin;

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, advance);
    }
}

/// The keyboard action: arrows or WASD move in x/y, E/Q up and down, space
/// toggles the gripper.
fn keyboard_action(keys: &ButtonInput<KeyCode>, sim: &mut Sim) -> [f64; 4] {
    let axis = |pos: &[KeyCode], neg: &[KeyCode]| -> f64 {
        let p = pos.iter().any(|k| keys.pressed(*k)) as i32;
        let n = neg.iter().any(|k| keys.pressed(*k)) as i32;
        (p - n) as f64
    };
    if keys.just_pressed(KeyCode::Space) {
        sim.gripper_closed = !sim.gripper_closed;
    }
    [
        axis(
            &[KeyCode::ArrowRight, KeyCode::KeyD],
            &[KeyCode::ArrowLeft, KeyCode::KeyA],
        ),
        axis(
            &[KeyCode::ArrowUp, KeyCode::KeyW],
            &[KeyCode::ArrowDown, KeyCode::KeyS],
        ),
        axis(&[KeyCode::KeyE], &[KeyCode::KeyQ]),
        if sim.gripper_closed { 1.0 } else { -1.0 },
    ]
}

pub(super) fn advance(
    mut sim: ResMut<Sim>,
    time: Res<Time>,
    keys: Res<ButtonInput<KeyCode>>,
    mut egui: EguiContexts,
) {
    let typing = egui
        .ctx_mut()
        .map(|c| c.egui_wants_keyboard_input())
        .unwrap_or(false);
    let action = if sim.driver == Driver::Keyboard && !typing {
        keyboard_action(&keys, &mut sim)
    } else {
        [0.0, 0.0, 0.0, if sim.gripper_closed { 1.0 } else { -1.0 }]
    };
    let steps = if sim.one_step_per_frame {
        1
    } else if sim.playing {
        sim.accum += time.delta_secs() * CONTROL_HZ * sim.speed;
        // Never fall more than a few frames behind.
        sim.accum = sim.accum.min(64.0);
        let n = sim.accum.floor();
        sim.accum -= n;
        n as usize
    } else {
        0
    };
    let steps = if sim.step_requested {
        steps.max(1)
    } else {
        steps
    };
    sim.step_requested = false;
    for _ in 0..steps {
        sim.step(action);
        if sim.episode_over() {
            sim.playing = false;
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(driver: Driver) -> ViewOptions {
        ViewOptions {
            task: TaskKind::Reach,
            driver,
            seed: 0,
            obs_camera: CameraName::Corner2,
            obs_size: (32, 32),
            frames: None,
            screenshot: None,
            save_agent_view: None,
            record: None,
        }
    }

    #[test]
    fn policies_and_keyboard_parse() {
        assert_eq!("keyboard".parse::<Driver>().unwrap(), Driver::Keyboard);
        assert_eq!(
            "expert".parse::<Driver>().unwrap(),
            Driver::Policy(PolicyKind::Expert)
        );
        let e = "psychic".parse::<Driver>().unwrap_err().to_string();
        assert!(
            e.contains("unknown policy") && e.contains("keyboard"),
            "{e}"
        );
    }

    #[test]
    fn keys_map_to_hand_motion_and_space_toggles_the_gripper() {
        let mut sim = Sim::new(&options(Driver::Keyboard)).unwrap();
        let mut keys = ButtonInput::<KeyCode>::default();
        keys.press(KeyCode::ArrowUp);
        keys.press(KeyCode::KeyQ);
        assert_eq!(keyboard_action(&keys, &mut sim), [0.0, 1.0, -1.0, -1.0]);
        keys.press(KeyCode::Space);
        assert_eq!(keyboard_action(&keys, &mut sim)[3], 1.0);
        // Next frame: everything released, then D held; the gripper stays closed.
        keys.release_all();
        keys.clear();
        keys.press(KeyCode::KeyD);
        assert_eq!(keyboard_action(&keys, &mut sim), [1.0, 0.0, 0.0, 1.0]);
    }

    /// The timeline shows any earlier state exactly as it was: the scene and the agent view
    /// the step's action was chosen from, and that step's record; a new step goes live again.
    #[test]
    fn timeline_shows_earlier_states_as_they_were() {
        let mut sim = Sim::new(&options(Driver::Policy(PolicyKind::Expert))).unwrap();
        let mut seen = Vec::new();
        for _ in 0..12 {
            seen.push((sim.env.world().shapes(), sim.agent_frame.clone()));
            sim.step([0.0; 4]);
        }
        assert_eq!(sim.shown_step(), 12);
        for t in [0, 5, 11] {
            sim.cursor = Some(t);
            assert_eq!(sim.shown_step(), t);
            assert_eq!(sim.shown_shapes(), seen[t].0, "scene at step {t}");
            assert_eq!(
                sim.shown_frame(),
                seen[t].1.as_ref(),
                "agent view at step {t}"
            );
            assert_eq!(sim.shown_record().unwrap().step, t);
        }
        assert_ne!(
            sim.shown_shapes(),
            sim.env.world().shapes(),
            "the hand moved since"
        );
        sim.step([0.0; 4]);
        assert_eq!(sim.cursor, None);
        assert_eq!(sim.shown_step(), 13);
        assert_eq!(sim.shown_shapes(), sim.env.world().shapes());
    }

    #[test]
    fn driving_forward_moves_the_hand_forward_and_updates_the_agent_view() {
        let mut sim = Sim::new(&options(Driver::Keyboard)).unwrap();
        let y0 = sim.env.world().hand_pos()[1];
        let first = sim.agent_frame.clone();
        for _ in 0..20 {
            sim.step([0.0, 1.0, 0.0, -1.0]);
        }
        let y1 = sim.env.world().hand_pos()[1];
        // 20 steps of 0.01 m toward +y, less the weld's lag.
        assert!(y1 - y0 > 0.15 && y1 - y0 < 0.2 + 1e-9, "moved {}", y1 - y0);
        assert_eq!(sim.history.len(), 20);
        assert_ne!(sim.agent_frame, first, "the agent view did not change");
    }
}
