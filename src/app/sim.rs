//! The simulation inside the app: stepping at the chosen speed, the policy or
//! the keyboard driving it, and the agent's observation rendered after every
//! step by the same headless renderer `genreward rollout --camera` uses.

use super::ViewOptions;
use crate::agent_policy::{AgentActor, AgentPolicy};
use anyhow::Result;
use bevy::prelude::*;
use bevy_egui::EguiContexts;
use genreward_record::NpyWriter;
use genreward_render::{render_envs, CameraName, Frame, Renderer, View, ViewSpec};
use genreward_run::RunDir;
use genreward_sim::rollout::{sparse_reward, StepRecord};
use genreward_sim::world::ShapeInstance;
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Pixels, Policy, PolicyKind, TaskKind};
use std::fmt;
use std::path::Path;
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
            anyhow::anyhow!(
                "unknown policy '{s}' (known: expert, random, zero, keyboard, agent:DIR)"
            )
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
    /// A trained agent's own camera frame (64x64), when the observation camera is another
    /// (the one GenReward scores): what the agent acts on.
    actor_frame: Option<Frame>,
    agent_dump: Option<NpyWriter>,
    /// The last problem to show in the panel.
    pub message: Option<String>,
    /// Bumped on every reset, so views can rebuild.
    pub episode_serial: u64,
    /// `view --run`: the recorded run shown instead of a simulated episode.
    pub replay: Option<Replay>,
    /// `--policy agent:DIR`: the trained agent, and its actor in the running episode when it
    /// drives.
    pub agent: Option<AgentPolicy>,
    agent_actor: Option<AgentActor>,
    /// What the agent made of each step (aligned with `history`): its model state decoded and
    /// the frame it imagined `IMAGINE_AHEAD` steps on; `None` where it did not drive.
    pub imagined: Vec<Option<(Vec<u8>, Vec<u8>)>>,
}

/// How many steps ahead the imagination view looks.
pub const IMAGINE_AHEAD: usize = 8;

/// A recorded run replayed: every step of the shown episode is in `Sim::history` at once, its
/// scenes rebuilt from the recorded observations and finger joints (nothing is simulated), its
/// agent views the run's saved frames; playing moves the timeline's cursor.
pub struct Replay {
    pub run: RunDir,
    /// The episode shown, and every episode the run holds.
    pub episode: usize,
    pub episodes: Vec<usize>,
    /// `steps.jsonl`, all episodes.
    steps: Vec<StepRecord>,
    /// Whether the agent views are the run's saved frames (else rendered from the rebuilt
    /// scenes: the run saved no camera observations).
    pub recorded_frames: bool,
}

impl Sim {
    pub fn new(opts: &ViewOptions) -> Result<Sim> {
        let agent_dump = match &opts.save_agent_view {
            Some(p) => Some(NpyWriter::create(p, opts.obs_size.1, opts.obs_size.0)?),
            None => None,
        };
        let (renderer, message) = match super::gpu::renderer() {
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
            actor_frame: None,
            agent_dump,
            message,
            episode_serial: 0,
            replay: None,
            agent: opts.agent.clone(),
            agent_actor: None,
            imagined: Vec::new(),
        };
        sim.reset();
        Ok(sim)
    }

    /// Opens run folder `dir` (`rollout --out`) and shows its episode `episode`.
    pub fn open_run(opts: &ViewOptions, dir: &Path, episode: usize) -> Result<Sim> {
        let run = RunDir::open(dir)?;
        let task: TaskKind = run.manifest.task.parse()?;
        let steps = run.steps()?;
        let mut episodes: Vec<usize> = steps.iter().map(|s| s.episode).collect();
        episodes.sort_unstable();
        episodes.dedup();
        if episodes.is_empty() {
            anyhow::bail!("'{}' holds no steps (steps.jsonl is empty)", dir.display());
        }
        let mut opts = opts.clone();
        opts.task = task;
        opts.save_agent_view = None;
        if let Some(v) = &run.manifest.observations {
            opts.obs_camera = v.camera;
            opts.obs_size = (v.width, v.height);
        }
        let mut sim = Sim::new(&opts)?;
        sim.driver = Driver::Policy(run.manifest.config.policy);
        sim.replay = Some(Replay {
            run,
            episode,
            episodes,
            steps,
            recorded_frames: false,
        });
        sim.load_episode(episode)?;
        Ok(sim)
    }

    /// Shows episode `episode` of the replayed run: its steps, the scenes rebuilt from their
    /// observations, the agent views it saved (or rendered from the scenes).
    pub fn load_episode(&mut self, episode: usize) -> Result<()> {
        let Some(replay) = &mut self.replay else {
            anyhow::bail!("no run is open");
        };
        let steps: Vec<StepRecord> = replay
            .steps
            .iter()
            .filter(|s| s.episode == episode)
            .cloned()
            .collect();
        if steps.is_empty() {
            anyhow::bail!(
                "'{}' has no episode {episode} (it holds {})",
                replay.run.path.display(),
                match (replay.episodes.first(), replay.episodes.last()) {
                    (Some(a), Some(b)) if a != b => format!("episodes {a}..={b}"),
                    (Some(a), _) => format!("episode {a}"),
                    _ => "none".into(),
                }
            );
        }
        let frames = match replay.run.manifest.observations {
            Some(_) => {
                let v = replay.run.episode_frames(episode)?;
                if v.len() < steps.len() {
                    anyhow::bail!(
                        "'{}' holds {} frames for {} steps",
                        replay
                            .run
                            .path
                            .join(genreward_run::obs_file(episode))
                            .display(),
                        v.len(),
                        steps.len()
                    );
                }
                let (w, h) = (v.width, v.height);
                v.frames
                    .into_iter()
                    .take(steps.len())
                    .map(|rgb| Frame {
                        width: w,
                        height: h,
                        rgb,
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        replay.recorded_frames = !frames.is_empty();
        replay.episode = episode;
        let seed = steps[0].seed;
        self.seed = seed;
        self.env = Env::new(self.task, seed, replay.run.manifest.config.physics);
        self.message = None;
        let first = self.env.last_obs();
        let off = first
            .iter()
            .zip(&steps[0].obs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if off > 1e-6 {
            self.message = Some(format!(
                "the run's first observation differs from this build's reset of seed {seed} by {off:.2e}: the table, fixtures and goal are drawn from this build's"
            ));
        }
        self.shapes = steps
            .iter()
            .map(|s| self.env.shapes_from_obs(&s.obs, s.fingers))
            .collect();
        self.frames = frames;
        self.history = steps;
        if self.frames.is_empty() && self.renderer.is_some() {
            for t in 0..self.shapes.len() {
                match self.render_step(t, self.obs_spec()) {
                    Some(f) => self.frames.push(f),
                    None => break,
                }
            }
        }
        self.cursor = Some(0);
        self.accum = 0.0;
        self.episode_serial += 1;
        self.agent_frame = self.frames.first().cloned();
        self.agent_frame_serial += 1;
        Ok(())
    }

    fn obs_spec(&self) -> ViewSpec {
        ViewSpec {
            camera: self.obs_camera,
            width: self.obs_size.0,
            height: self.obs_size.1,
        }
    }

    /// Renders the scripted expert's goal video for this task and seed (the agent camera and
    /// size, from the initial scene until a short hold after success, as `genreward goal`
    /// makes it) and saves it as .npy in the temporary folder; returns its path.
    pub fn expert_goal_file(&mut self) -> Result<std::path::PathBuf> {
        let spec = self.obs_spec();
        let Some(r) = self.renderer.as_mut() else {
            anyhow::bail!("making a goal needs the renderer, which is unavailable");
        };
        let (frames, _) = crate::goal::expert_goal_frames(
            self.task,
            self.seed,
            spec,
            500,
            crate::goal::HOLD_STEPS,
            0,
            r,
        )?;
        let path = std::env::temp_dir().join(format!(
            "genreward-goal-{}-seed{}.npy",
            self.task.name(),
            self.seed
        ));
        let mut w = NpyWriter::create(&path, spec.height, spec.width)?;
        for f in &frames {
            w.write_frame(f)?;
        }
        w.finish()?;
        Ok(path)
    }

    /// Renders the scene of step `t` (the state before its action) from `spec`.
    pub fn render_step(&mut self, t: usize, spec: ViewSpec) -> Option<Frame> {
        let shapes = self.shapes.get(t)?.clone();
        let r = self.history.get(t)?;
        let hand = [r.obs[0], r.obs[1], r.obs[2]];
        self.render_shapes(&shapes, hand, spec)
    }

    /// Renders `shapes` from `spec` (cameras that follow the hand follow `hand`) with the app's
    /// headless renderer: `None` without one; a failure goes to the panel's message.
    fn render_shapes(
        &mut self,
        shapes: &[ShapeInstance],
        hand: [f64; 3],
        spec: ViewSpec,
    ) -> Option<Frame> {
        let r = self.renderer.as_mut()?;
        let view = View {
            shapes,
            camera: spec.camera.pose(hand),
        };
        match r.render(&[view], spec.width, spec.height) {
            Ok(mut f) => Some(f.remove(0)),
            Err(e) => {
                self.message = Some(format!("render failed: {e}"));
                None
            }
        }
    }

    /// Starts the episode of the current task, seed and driver again (a replay goes back to its
    /// first step).
    pub fn reset(&mut self) {
        if self.replay.is_some() {
            self.cursor = Some(0);
            self.accum = 0.0;
            return;
        }
        self.env = Env::new(self.task, self.seed, PhysicsConfig::default());
        // Episode 0 of `genreward rollout --seed <seed>`: the same random stream.
        let kind = match self.driver {
            Driver::Policy(p) => p,
            Driver::Keyboard => PolicyKind::Zero,
        };
        self.actor = Box::new(Policy::for_run(kind, self.task, 0.0, self.seed));
        self.actor.reset(self.task, self.seed, 0);
        self.agent_actor = None;
        if kind == PolicyKind::Agent {
            match &self.agent {
                Some(p) => {
                    let mut a = p.actor();
                    a.reset(self.task, self.seed, 0);
                    self.agent_actor = Some(a);
                }
                None => {
                    self.message = Some("no agent loaded: start with --policy agent:DIR".into());
                }
            }
        }
        self.imagined.clear();
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
        if self.replay.is_some() {
            return self.shown_step() + 1 >= self.history.len();
        }
        self.history.len() >= self.env.max_path_length()
    }

    /// Advances one step with `keyboard` as the action when a person drives.
    pub fn step(&mut self, keyboard: [f64; 4]) {
        if self.episode_over() {
            self.playing = false;
            return;
        }
        if self.replay.is_some() {
            self.cursor = Some(self.shown_step() + 1);
            return;
        }
        let obs = *self.env.last_obs();
        let action = match self.driver {
            Driver::Policy(_) => {
                let pixels = self
                    .actor_frame
                    .as_ref()
                    .or(self.agent_frame.as_ref())
                    .map(|f| Pixels {
                        width: f.width,
                        height: f.height,
                        rgb: f.rgb.clone(),
                    });
                let seen = Observation {
                    state: &obs,
                    pixels: pixels.as_ref(),
                };
                match &mut self.agent_actor {
                    Some(agent) => agent.act(&seen),
                    None => self.actor.act(&seen),
                }
            }
            Driver::Keyboard => keyboard,
        };
        let seen = self.agent_frame.clone();
        let scene = self.env.world().shapes();
        let (q_r, q_l) = self.env.world().finger_joints();
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
                    fingers: Some([q_r, q_l]),
                });
                let imagined = self
                    .agent_actor
                    .as_ref()
                    .and_then(|a| a.imagination(IMAGINE_AHEAD));
                self.imagined.push(imagined);
                self.render_agent_view();
            }
            Err(e) => {
                self.message = Some(format!("step failed: {e}"));
                self.playing = false;
            }
        }
    }

    /// Changes the observation camera and renders it again (a trained agent goes on acting on
    /// its own camera's frames).
    pub fn set_obs_camera(&mut self, camera: CameraName) {
        if camera != self.obs_camera && self.replay.is_none() {
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
        // A trained agent acts on its own camera's frames, rendered besides when the
        // observation camera is another.
        self.actor_frame = None;
        let own = self
            .agent
            .as_ref()
            .filter(|_| self.agent_actor.is_some())
            .map(|p| p.view())
            .filter(|v| *v != spec);
        if let Some(view) = own {
            match render_envs(r, &[self.env.world()], view) {
                Ok(mut f) => self.actor_frame = Some(f.remove(0)),
                Err(e) => self.message = Some(format!("the agent's view failed: {e}")),
            }
        }
    }

    /// The step the timeline shows: the cursor, or the number of steps taken (the live state).
    pub fn shown_step(&self) -> usize {
        let last = match self.replay {
            // A replay has no live state after its last recorded step.
            Some(_) => self.history.len().saturating_sub(1),
            None => self.history.len(),
        };
        self.cursor.map_or(last, |t| t.min(last))
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

    /// The hand's position at the timeline's step.
    pub fn shown_hand(&self) -> [f64; 3] {
        match self.history.get(self.shown_step()) {
            Some(r) => [r.obs[0], r.obs[1], r.obs[2]],
            None => self.env.world().hand_pos(),
        }
    }

    /// The observation at the timeline's step (the state before its action).
    pub fn shown_obs(&self) -> [f64; genreward_sim::OBS_DIM] {
        match self.history.get(self.shown_step()) {
            Some(r) => r.obs,
            None => *self.env.last_obs(),
        }
    }

    /// Renders the timeline's state from `spec` (see [`Sim::render_shapes`]).
    pub fn render_view(&mut self, spec: ViewSpec) -> Option<Frame> {
        let shapes = self.shown_shapes();
        let hand = self.shown_hand();
        self.render_shapes(&shapes, hand, spec)
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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn options(driver: Driver) -> ViewOptions {
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
            run: None,
            drops: Vec::new(),
            window: (1280, 800),
            agent: None,
        }
    }

    /// A trained agent (here a tiny untrained one, saved as `train dreamer` saves one) drives
    /// the app from its own camera's 64x64 frames; every step keeps what it imagined (its
    /// model state decoded and the frame it expects 8 steps on); it acts on its own camera's
    /// frames when the agent view shows another.
    #[test]
    fn an_agent_drives_and_its_imagination_follows_each_step() {
        use genreward_models::dreamer::{AgentConfig, Learner};
        type AB = burn::backend::Autodiff<burn::backend::Flex>;
        let dir = tempfile::tempdir().unwrap();
        let cfg =
            AgentConfig::sized(16, 16, 4, 2, 16, genreward_sim::ACT_DIM, 0).with_latents(4, 4);
        Learner::<AB>::new(cfg, &Default::default())
            .save(
                dir.path(),
                serde_json::json!({"camera": "corner2", "task": "reach"}),
            )
            .unwrap();
        let agent = AgentPolicy::load(dir.path()).unwrap();
        let mut opts = options(Driver::Policy(PolicyKind::Agent));
        opts.obs_size = (64, 64);
        opts.agent = Some(agent);
        let mut sim = Sim::new(&opts).unwrap();
        assert!(sim.message.is_none(), "{:?}", sim.message);
        for _ in 0..5 {
            // The keyboard's action is ignored: the agent drives.
            sim.step([1.0; 4]);
        }
        assert_eq!(sim.history.len(), 5);
        assert_eq!(sim.imagined.len(), 5);
        for (t, im) in sim.imagined.iter().enumerate() {
            let (now, ahead) = im.as_ref().expect("the agent imagined");
            assert_eq!(
                (now.len(), ahead.len()),
                (64 * 64 * 3, 64 * 64 * 3),
                "step {t}"
            );
            assert_ne!(now, ahead, "step {t}: imagining 8 steps on changed nothing");
        }
        for r in &sim.history {
            assert!(r.action.iter().all(|a| a.abs() <= 1.0) && r.action != [1.0; 4]);
        }
        // Another observation camera (the one a goal is scored on): the agent goes on acting
        // on its own camera's frames, rendered besides: those of corner2 at 64x64.
        sim.set_obs_camera(CameraName::Corner3);
        assert_eq!(sim.obs_camera, CameraName::Corner3);
        sim.step([0.0; 4]);
        assert_eq!(sim.history.len(), 6);
        let own = sim.actor_frame.clone().expect("the agent's own frame");
        let shown = sim.agent_frame.clone().expect("the observation frame");
        assert_eq!((own.width, own.height), (64, 64));
        assert_ne!(own.rgb, shown.rgb, "corner3's frame is corner2's");
        sim.set_obs_camera(CameraName::Corner2);
        assert!(sim.actor_frame.is_none(), "one camera, one frame");
        assert_eq!(sim.agent_frame.as_ref().unwrap().rgb, own.rgb);
        // Without an agent loaded, picking the agent policy says so instead of acting.
        let mut opts = options(Driver::Policy(PolicyKind::Agent));
        opts.obs_size = (64, 64);
        let sim = Sim::new(&opts).unwrap();
        assert!(sim
            .message
            .as_deref()
            .unwrap_or("")
            .contains("--policy agent:DIR"));
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

    /// Records `episodes` episodes of `task` with the rollout's own recorder (observations
    /// from corner2 at 64x64) into a run folder.
    fn record_run(dir: &Path, task: TaskKind, policy: PolicyKind, episodes: usize, steps: usize) {
        use genreward_render::ViewSpec;
        use genreward_sim::rollout::run_episode;
        use genreward_sim::{RolloutConfig, RolloutSummary};
        let obs = ViewSpec {
            camera: CameraName::Corner2,
            width: 64,
            height: 64,
        };
        let cfg = RolloutConfig {
            task,
            policy,
            episodes,
            seed: 40,
            max_steps: steps,
            sparse_every: 0,
            noise: 0.0,
            physics: PhysicsConfig::default(),
        };
        let bar = indicatif::ProgressBar::hidden();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut rec = crate::record::Recorder::new(dir, Some(obs), None, bar, stop).unwrap();
        let mut actor = Policy::for_run(policy, task, 0.0, cfg.seed);
        let mut eps = Vec::new();
        for i in 0..episodes {
            rec.begin_episode(i).unwrap();
            eps.push(run_episode(&cfg, i, &mut actor, &mut rec).unwrap());
            rec.end_episode().unwrap();
        }
        let files = rec.finish().unwrap();
        let manifest = genreward_run::RunManifest {
            genreward_version: "test".into(),
            command: vec![],
            task: task.name().into(),
            metaworld_name: task.v3_name(),
            config: cfg.clone(),
            observations: Some(obs),
            video: None,
            goal: None,
            agent: None,
            files,
            interrupted: false,
            episodes: eps.clone(),
            summary: RolloutSummary::new(&cfg, &eps),
        };
        std::fs::write(
            dir.join("manifest.json"),
            serde_json::to_string(&manifest).unwrap(),
        )
        .unwrap();
    }

    /// Pixels of `a` that differ from `b` in some channel, as a fraction.
    fn differing(a: &Frame, b: &Frame) -> f64 {
        assert_eq!((a.width, a.height), (b.width, b.height));
        let n = a
            .rgb
            .chunks_exact(3)
            .zip(b.rgb.chunks_exact(3))
            .filter(|(p, q)| p.iter().zip(*q).any(|(x, y)| x != y))
            .count();
        n as f64 / (a.width * a.height) as f64
    }

    /// A run folder replays the pixels it recorded: every step's scene, rebuilt from its
    /// recorded observation and finger joints (nothing simulated), renders to the frame the
    /// run saved; the timeline walks the recorded steps; another episode loads; bad input is a
    /// one-line error.
    #[test]
    fn a_run_folder_replays_the_pixels_it_recorded() {
        let dir = tempfile::tempdir().unwrap();
        record_run(dir.path(), TaskKind::PickPlace, PolicyKind::Expert, 2, 120);
        let mut sim = Sim::open_run(&options(Driver::Keyboard), dir.path(), 1).unwrap();
        assert_eq!(sim.task, TaskKind::PickPlace);
        assert_eq!(sim.seed, 41, "episode 1 of seed 40");
        assert_eq!(sim.history.len(), 120);
        assert_eq!(sim.frames.len(), 120);
        assert!(sim.replay.as_ref().unwrap().recorded_frames);
        assert!(sim.message.is_none(), "{:?}", sim.message);
        let spec = sim.obs_spec();
        let mut worst: f64 = 0.0;
        for t in (0..120).step_by(7) {
            let f = sim.render_step(t, spec).expect("renders");
            worst = worst.max(differing(&f, &sim.frames[t]));
        }
        eprintln!("replay: at most {:.3}% of a frame differs", worst * 100.0);
        assert!(worst < 0.002, "{:.3}% of a frame differs", worst * 100.0);
        // The rebuild is what matches: the reset scene does not show step 100.
        let reset = sim.render_shapes(&sim.env.world().shapes(), sim.env.world().hand_pos(), spec);
        assert!(differing(&reset.unwrap(), &sim.frames[100]) > 0.01);

        // Playing walks the recorded steps and stops at the last one.
        assert_eq!(sim.shown_step(), 0);
        assert_eq!(sim.shown_frame(), Some(&sim.frames[0]));
        sim.step([0.0; 4]);
        sim.step([0.0; 4]);
        assert_eq!(sim.shown_step(), 2);
        assert_eq!(sim.shown_record().unwrap().step, 2);
        assert_eq!(sim.shown_shapes(), sim.shapes[2]);
        sim.cursor = Some(119);
        assert!(sim.episode_over());
        sim.step([0.0; 4]);
        assert_eq!(sim.shown_step(), 119);
        sim.reset();
        assert_eq!(sim.shown_step(), 0);

        sim.load_episode(0).unwrap();
        assert_eq!(sim.seed, 40);
        assert!(sim.history.iter().all(|r| r.episode == 0));
        let e = sim.load_episode(5).unwrap_err().to_string();
        assert!(e.contains("no episode 5") && e.contains("0..=1"), "{e}");
        assert_eq!(sim.seed, 40, "a failed load keeps the episode shown");

        let missing = dir.path().join("nowhere");
        let e = Sim::open_run(&options(Driver::Keyboard), &missing, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a run folder"), "{e}");
        assert_eq!(e.lines().count(), 1);
    }

    /// Runs recorded before the finger joints were kept replay with the fingers guessed from
    /// the claws' distance: still nearly the recorded pixels.
    #[test]
    fn runs_without_finger_joints_still_replay() {
        let dir = tempfile::tempdir().unwrap();
        record_run(dir.path(), TaskKind::Push, PolicyKind::Expert, 1, 100);
        let path = dir.path().join("steps.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        let stripped: Vec<String> = text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert!(v.as_object_mut().unwrap().remove("fingers").is_some());
                v.to_string()
            })
            .collect();
        std::fs::write(&path, stripped.join("\n") + "\n").unwrap();
        let mut sim = Sim::open_run(&options(Driver::Keyboard), dir.path(), 0).unwrap();
        assert!(sim.history.iter().all(|r| r.fingers.is_none()));
        let spec = sim.obs_spec();
        let mut worst: f64 = 0.0;
        for t in (0..100).step_by(9) {
            let f = sim.render_step(t, spec).unwrap();
            worst = worst.max(differing(&f, &sim.frames[t]));
        }
        eprintln!(
            "replay, fingers guessed: at most {:.3}% of a frame differs",
            worst * 100.0
        );
        assert!(worst < 0.01, "{:.3}% of a frame differs", worst * 100.0);
    }

    /// "Make goal from expert" writes the expert's episode on this task and seed, from the
    /// initial scene to a hold after success, as a goal video the goal loader reads.
    #[test]
    fn the_expert_makes_a_goal_video() {
        let mut sim = Sim::new(&options(Driver::Policy(PolicyKind::Expert))).unwrap();
        let first = sim.agent_frame.clone().unwrap();
        let path = sim.expert_goal_file().unwrap();
        let v = genreward_record::load_video(&path).unwrap();
        assert_eq!((v.width, v.height), (32, 32));
        assert!(v.len() > crate::goal::HOLD_STEPS, "{} frames", v.len());
        assert_eq!(
            v.frames[0], first.rgb,
            "it starts from this seed's initial scene"
        );
        std::fs::remove_file(path).unwrap();
    }
}
