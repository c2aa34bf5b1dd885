//! Starting, stepping and rendering the simulated episode: the policy (or the keyboard) acts,
//! the step is recorded, and the agent's observation is rendered again by the same headless
//! renderer `genreward rollout --camera` uses.

use super::access::{Sim, SimMut};
use super::driver::Driver;
use super::state::{AgentView, Episode, Playback, Timeline};
use super::IMAGINE_AHEAD;
use crate::ViewOptions;
use anyhow::Result;
use genreward_record::NpyWriter;
use genreward_render::{render_envs, CameraName, Frame, ViewSpec};
use genreward_sim::rollout::{sparse_reward, StepRecord};
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Pixels, Policy, PolicyKind};

impl Sim {
    /// A simulated episode as `opts` asks for, reset and its first agent view rendered.
    pub fn new(opts: &ViewOptions) -> Result<Sim> {
        let dump = match &opts.save_agent_view {
            Some(p) => Some(NpyWriter::create(p, opts.obs_size.1, opts.obs_size.0)?),
            None => None,
        };
        let (renderer, message) = match crate::gpu::renderer() {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("agent view unavailable: {e}"))),
        };
        let mut sim = Sim {
            episode: Episode {
                task: opts.task,
                seed: opts.seed,
                driver: opts.driver,
                env: Env::new(opts.task, opts.seed, PhysicsConfig::default()),
                actor: Box::new(Policy::new(PolicyKind::Zero, opts.task, 0.0, 0)),
                agent: opts.agent.clone(),
                agent_actor: None,
                gripper_closed: false,
                history: Vec::new(),
                shapes: Vec::new(),
                imagined: Vec::new(),
                message,
                serial: 0,
            },
            playback: Playback::new(opts.frames),
            timeline: Timeline::default(),
            view: AgentView {
                camera: opts.obs_camera,
                size: opts.obs_size,
                renderer,
                frame: None,
                serial: 0,
                frames: Vec::new(),
                actor_frame: None,
                dump,
            },
            replay: None,
        };
        sim.parts().reset();
        Ok(sim)
    }
}

impl SimMut<'_> {
    /// Starts the episode of the current task, seed and driver again (a replay goes back to its
    /// first step).
    pub fn reset(&mut self) {
        if self.replay.is_some() {
            self.timeline.cursor = Some(0);
            self.playback.accum = 0.0;
            return;
        }
        let ep = &mut *self.episode;
        ep.env = Env::new(ep.task, ep.seed, PhysicsConfig::default());
        // Episode 0 of `genreward rollout --seed <seed>`: the same random stream.
        let kind = match ep.driver {
            Driver::Policy(p) => p,
            Driver::Keyboard => PolicyKind::Zero,
        };
        ep.actor = Box::new(Policy::for_run(kind, ep.task, 0.0, ep.seed));
        ep.actor.reset(ep.task, ep.seed, 0);
        ep.agent_actor = None;
        if kind == PolicyKind::Agent {
            match &ep.agent {
                Some(p) => {
                    let mut a = p.actor();
                    a.reset(ep.task, ep.seed, 0);
                    ep.agent_actor = Some(a);
                }
                None => {
                    ep.message = Some("no agent loaded: start with --policy agent:DIR".into());
                }
            }
        }
        ep.imagined.clear();
        ep.gripper_closed = false;
        ep.history.clear();
        self.view.frames.clear();
        ep.shapes.clear();
        self.timeline.cursor = None;
        self.playback.accum = 0.0;
        ep.serial += 1;
        self.render_agent_view();
    }

    /// Advances one step with `keyboard` as the action when a person drives.
    pub fn step(&mut self, keyboard: [f64; 4]) {
        if self.shown().episode_over() {
            self.playback.playing = false;
            return;
        }
        if self.replay.is_some() {
            self.timeline.cursor = Some(self.shown().step() + 1);
            return;
        }
        let obs = *self.episode.env.last_obs();
        let action = match self.episode.driver {
            Driver::Policy(_) => self.policy_action(&obs),
            Driver::Keyboard => keyboard,
        };
        let seen = self.view.frame.clone();
        let world = self.episode.env.world();
        let scene = world.shapes();
        let (q_r, q_l) = world.finger_joints();
        self.timeline.cursor = None;
        let ep = &mut *self.episode;
        match ep.env.step(action) {
            Ok(r) => {
                let step = ep.history.len();
                if let Some(f) = seen {
                    self.view.frames.push(f);
                }
                ep.shapes.push(scene);
                let paid = sparse_reward(r.reward, step, None);
                ep.history.push(StepRecord {
                    episode: 0,
                    step,
                    seed: ep.seed,
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
                let imagined = ep
                    .agent_actor
                    .as_ref()
                    .and_then(|a| a.imagination(IMAGINE_AHEAD));
                ep.imagined.push(imagined);
                self.render_agent_view();
            }
            Err(e) => {
                ep.message = Some(format!("step failed: {e}"));
                self.playback.playing = false;
            }
        }
    }

    /// The policy's action on state `obs` and the frame it sees (a trained agent's own
    /// camera's frame, else the agent view).
    fn policy_action(&mut self, obs: &[f64; genreward_sim::OBS_DIM]) -> [f64; 4] {
        let pixels = self
            .view
            .actor_frame
            .as_ref()
            .or(self.view.frame.as_ref())
            .map(|f| Pixels {
                width: f.width,
                height: f.height,
                rgb: f.rgb.clone(),
            });
        let seen = Observation {
            state: obs,
            pixels: pixels.as_ref(),
        };
        match &mut self.episode.agent_actor {
            Some(agent) => agent.act(&seen),
            None => self.episode.actor.act(&seen),
        }
    }

    /// Changes the observation camera and renders it again (a trained agent goes on acting on
    /// its own camera's frames).
    pub fn set_obs_camera(&mut self, camera: CameraName) {
        if camera != self.view.camera && self.replay.is_none() {
            self.view.camera = camera;
            self.render_agent_view();
        }
    }

    /// Renders the live state from the agent's camera (saving it with `--save-agent-view`), and
    /// a trained agent's own camera's frame when that camera is another.
    fn render_agent_view(&mut self) {
        let view = &mut *self.view;
        let ep = &mut *self.episode;
        let Some(r) = &mut view.renderer else { return };
        let spec = ViewSpec {
            camera: view.camera,
            width: view.size.0,
            height: view.size.1,
        };
        match render_envs(r, &[ep.env.world()], spec) {
            Ok(mut f) => {
                let frame = f.remove(0);
                if let Some(dump) = &mut view.dump {
                    if let Err(e) = dump.write_frame(&frame.rgb) {
                        ep.message = Some(format!("saving the agent view failed: {e}"));
                        view.dump = None;
                    }
                }
                view.frame = Some(frame);
                view.serial += 1;
            }
            Err(e) => ep.message = Some(format!("agent view failed: {e}")),
        }
        // A trained agent acts on its own camera's frames, rendered besides when the
        // observation camera is another.
        view.actor_frame = None;
        let own = ep
            .agent
            .as_ref()
            .filter(|_| ep.agent_actor.is_some())
            .map(|p| p.view())
            .filter(|v| *v != spec);
        if let Some(own) = own {
            match render_envs(r, &[ep.env.world()], own) {
                Ok(mut f) => view.actor_frame = Some(f.remove(0)),
                Err(e) => ep.message = Some(format!("the agent's view failed: {e}")),
            }
        }
    }

    /// Renders the scene of step `t` (the state before its action) from `spec`.
    pub fn render_step(&mut self, t: usize, spec: ViewSpec) -> Option<Frame> {
        let shapes = self.episode.shapes.get(t)?;
        let r = self.episode.history.get(t)?;
        let hand = genreward_sim::obs::hand(&r.obs);
        self.view
            .render_shapes(shapes, hand, spec, &mut self.episode.message)
    }

    /// Renders the timeline's state from `spec` (see [`AgentView::render_shapes`]).
    pub fn render_view(&mut self, spec: ViewSpec) -> Option<Frame> {
        let shapes = self.shown().shapes();
        let hand = self.shown().hand();
        self.view
            .render_shapes(&shapes, hand, spec, &mut self.episode.message)
    }

    /// The episode's first frame (its reset scene) from the agent camera and size: what the
    /// goal generator starts from; and the episode's length.
    pub fn first_frame(&mut self) -> Result<(Frame, usize)> {
        let spec = self.view.spec();
        let Some(r) = self.view.renderer.as_mut() else {
            anyhow::bail!("generating a goal needs the renderer, which is unavailable");
        };
        let env = Env::new(
            self.episode.task,
            self.episode.seed,
            PhysicsConfig::default(),
        );
        let frame = render_envs(r, &[env.world()], spec)?.remove(0);
        Ok((frame, self.episode.env.max_path_length()))
    }

    /// Renders the scripted expert's goal video for this task and seed (the agent camera and
    /// size, from the initial scene until a short hold after success, as `genreward goal`
    /// makes it) and saves it as .npy in the temporary folder; returns its path.
    pub fn expert_goal_file(&mut self) -> Result<std::path::PathBuf> {
        let spec = self.view.spec();
        let Some(r) = self.view.renderer.as_mut() else {
            anyhow::bail!("making a goal needs the renderer, which is unavailable");
        };
        let (task, seed) = (self.episode.task, self.episode.seed);
        let (frames, _) = genreward_episodes::expert_goal_frames(
            task,
            seed,
            spec,
            500,
            genreward_episodes::HOLD_STEPS,
            0,
            r,
        )?;
        let path =
            std::env::temp_dir().join(format!("genreward-goal-{}-seed{}.npy", task.name(), seed));
        let mut w = NpyWriter::create(&path, spec.height, spec.width)?;
        for f in &frames {
            w.write_frame(f)?;
        }
        w.finish()?;
        Ok(path)
    }
}
