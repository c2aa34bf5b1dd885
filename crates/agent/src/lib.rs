//! A trained DreamerV3 agent (a `train dreamer` folder) as a `sim` [`Actor`]: [`AgentPolicy`]
//! loads it, [`AgentActor`] acts with it; [`PolicyChoice`] is a policy as a user names it
//! (`expert`, `random`, `zero` or `agent:DIR`).
//!
//! The agent acts on the frames it was trained on: its camera (from the folder's `meta.json`)
//! at 64x64, plus the 39-d state when its model reads it. It acts greedily (the policy's mean),
//! as `train dreamer` evaluates it, on the CPU backend (one small forward pass per step).

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use genreward_models::dreamer::agent::Acting;
use genreward_models::dreamer::dist::symexp;
use genreward_models::dreamer::replay::frames_to_tensor;
use genreward_models::dreamer::world::IMAGE;
use genreward_models::dreamer::{load_agent, Agent};
use genreward_render::{CameraName, ViewSpec};
use genreward_sim::{Actor, Observation, PolicyKind, TaskKind, ACT_DIM, OBS_DIM};
use std::path::{Path, PathBuf};

type B = Flex;

/// Loading or running an agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("no agent at {}: not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("cannot load the agent in {}: {reason}", dir.display())]
    Load { dir: PathBuf, reason: String },
    #[error("the agent in {}: {reason}", dir.display())]
    Unfit { dir: PathBuf, reason: String },
}

type Result<T, E = AgentError> = std::result::Result<T, E>;

/// A policy as a user names it: a built-in one (`expert`, `random`, `zero`) or a trained
/// agent's folder (`agent:DIR`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyChoice {
    Builtin(PolicyKind),
    Agent(PathBuf),
}

/// A policy name we cannot use.
#[derive(Debug, thiserror::Error)]
pub enum BadPolicy {
    #[error("agent:DIR needs the agent's folder after 'agent:' (a train dreamer --out)")]
    NoFolder,
    #[error(transparent)]
    Unknown(#[from] genreward_sim::UnknownPolicy),
}

impl std::str::FromStr for PolicyChoice {
    type Err = BadPolicy;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().strip_prefix("agent:") {
            Some("") => Err(BadPolicy::NoFolder),
            Some(dir) => Ok(PolicyChoice::Agent(PathBuf::from(dir))),
            None if s.trim() == "agent" => Err(BadPolicy::NoFolder),
            None => Ok(PolicyChoice::Builtin(s.parse()?)),
        }
    }
}

impl std::fmt::Display for PolicyChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyChoice::Builtin(k) => write!(f, "{k}"),
            PolicyChoice::Agent(d) => write!(f, "agent:{}", d.display()),
        }
    }
}

impl PolicyChoice {
    /// The trained agent this choice names, loaded (`None` for a built-in policy).
    pub fn load_agent(&self) -> Result<Option<AgentPolicy>> {
        match self {
            PolicyChoice::Agent(dir) => AgentPolicy::load(dir).map(Some),
            PolicyChoice::Builtin(_) => Ok(None),
        }
    }

    /// The kind recorded in a rollout's config.
    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyChoice::Builtin(k) => *k,
            PolicyChoice::Agent(_) => PolicyKind::Agent,
        }
    }
}

/// A loaded agent: its weights and what it was trained on.
#[derive(Clone)]
pub struct AgentPolicy {
    pub dir: PathBuf,
    agent: Agent<B>,
    /// The camera it was trained with.
    pub camera: CameraName,
    /// Whether its model reads the 39-d state besides the frames.
    pub reads_state: bool,
    /// The entries of the 39-d state its model reconstructs from its state without reading
    /// them (`train dreamer --state-target [--state-dims]`), if any.
    pub target_dims: Option<Vec<usize>>,
    /// It acts every `action_repeat` steps and holds its action in between, as it was trained.
    pub action_repeat: usize,
    /// The task it was trained on, as its `meta.json` names it.
    task: Option<String>,
    /// `meta.json` of the folder (task, reward, env steps, ...), as written.
    pub meta: serde_json::Value,
}

impl AgentPolicy {
    pub fn load(dir: &Path) -> Result<AgentPolicy> {
        if !dir.is_dir() {
            return Err(AgentError::NotAFolder(dir.to_path_buf()));
        }
        let unfit = |reason: String| AgentError::Unfit {
            dir: dir.to_path_buf(),
            reason,
        };
        let device = Default::default();
        let (agent, cfg) = load_agent::<B>(dir, &device).map_err(|e| AgentError::Load {
            dir: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        if cfg.actor_critic.action_dim != ACT_DIM {
            return Err(unfit(format!(
                "it acts in {} dimensions; the tasks take {ACT_DIM}",
                cfg.actor_critic.action_dim
            )));
        }
        // Only a state the agent reads matters when it acts (a decoder target of some entries
        // never reaches the policy).
        let vector = cfg.world.vector_dim;
        if cfg.world.reads_vector() && (vector != OBS_DIM || cfg.world.vector_dims.is_some()) {
            return Err(unfit(format!(
                "it reads a {vector}-d state; the tasks give {OBS_DIM}"
            )));
        }
        let typed =
            genreward_models::dreamer::DreamerMeta::read(dir).map_err(|e| AgentError::Load {
                dir: dir.to_path_buf(),
                reason: e.to_string(),
            })?;
        let camera: CameraName = typed
            .camera
            .as_deref()
            .unwrap_or("corner2")
            .parse()
            .map_err(|e| unfit(format!("meta.json names an unknown camera ({e})")))?;
        // Agents from before `--action-repeat` acted every step.
        let action_repeat = typed.action_repeat();
        // Kept whole for the manifest's record of what the agent was trained on.
        let meta = genreward_models::checkpoint::read_meta(dir);
        Ok(AgentPolicy {
            dir: dir.to_path_buf(),
            agent,
            camera,
            reads_state: cfg.world.reads_vector(),
            target_dims: (!cfg.world.reads_vector() && vector > 0).then(|| {
                cfg.world
                    .vector_dims
                    .clone()
                    .unwrap_or_else(|| (0..vector).collect())
            }),
            action_repeat,
            task: typed.task,
            meta,
        })
    }

    /// What the agent sees: its camera at 64x64.
    pub fn view(&self) -> ViewSpec {
        ViewSpec {
            camera: self.camera,
            width: IMAGE as u32,
            height: IMAGE as u32,
        }
    }

    /// The task it was trained on, when its folder says.
    pub fn task(&self) -> Option<TaskKind> {
        self.task.as_deref().and_then(|t| t.parse().ok())
    }

    /// A fresh actor (its own model state) driven by this agent.
    pub fn actor(&self) -> AgentActor {
        let device = Default::default();
        AgentActor {
            acting: self.agent.start_acting(1, ACT_DIM, &device),
            agent: self.agent.clone(),
            reads_state: self.reads_state,
            targets: self.target_dims.is_some(),
            first: true,
            repeat: self.action_repeat,
            held: 0,
            decided: false,
            last: [0.0; ACT_DIM],
            device,
        }
    }

    /// The manifest's record of who acted.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "dir": self.dir,
            "camera": self.camera.to_string(),
            "reads_state": self.reads_state,
            "action_repeat": self.action_repeat,
            "greedy": true,
            "trained_on": self.meta,
        })
    }
}

/// An [`AgentPolicy`] acting in one episode at a time.
pub struct AgentActor {
    agent: Agent<B>,
    acting: Acting<B>,
    reads_state: bool,
    /// Whether its model reconstructs state entries it does not read ([`Self::state_target`]).
    targets: bool,
    first: bool,
    /// Steps per decision, steps the current action has been held, and that action.
    repeat: usize,
    held: usize,
    /// Whether the last step was a decision.
    decided: bool,
    last: [f64; ACT_DIM],
    device: burn::tensor::Device<B>,
}

impl AgentActor {
    /// The model state `[h, z]` and the encoder's embedding of the frame of the last step, when
    /// that step was a decision (not a held action).
    pub fn decision(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        if self.first || !self.decided {
            return None;
        }
        let embed = self
            .acting
            .embed
            .clone()?
            .into_data()
            .to_vec::<f32>()
            .ok()?;
        Some((self.model_state()?, embed))
    }

    /// What its model reconstructs of the state entries `AgentPolicy::target_dims` from its
    /// model state at the last decision (the state target's head, in the state's units), for
    /// an agent trained with `--state-target`; `None` otherwise and before its first step.
    pub fn state_target(&self) -> Option<Vec<f32>> {
        if self.first || !self.targets {
            return None;
        }
        let pred = self.agent.world.decode_vector(self.acting.state.feat())?;
        symexp(pred).into_data().to_vec::<f32>().ok()
    }

    /// The agent's view of the present (its model state decoded) and of `horizon` steps ahead
    /// in imagination (the world model alone, acting with the policy's mean), as 64x64 RGB
    /// bytes; `None` before its first step.
    pub fn imagination(&self, horizon: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        if self.first {
            return None;
        }
        let (now, ahead) = self.agent.imagine_ahead(&self.acting, horizon);
        Some((to_rgb(now), to_rgb(ahead)))
    }
}

/// `[1, 3, H, W]` in [0, 1] to HWC bytes.
fn to_rgb(x: Tensor<B, 4>) -> Vec<u8> {
    let [_, _, h, w] = x.dims();
    let v = x
        .clamp(0.0, 1.0)
        .into_data()
        .to_vec::<f32>()
        .unwrap_or_default();
    let mut out = vec![0u8; h * w * 3];
    for c in 0..3 {
        for i in 0..h * w {
            out[i * 3 + c] = (v.get(c * h * w + i).copied().unwrap_or(0.0) * 255.0).round() as u8;
        }
    }
    out
}

impl Actor for AgentActor {
    fn reset(&mut self, _task: TaskKind, _seed: u32, _index: usize) {
        self.acting = self.agent.start_acting(1, ACT_DIM, &self.device);
        self.first = true;
        self.held = 0;
        self.decided = false;
    }

    /// Callers render the agent's view (camera, 64x64) every step; without it the arm holds
    /// still.
    fn act(&mut self, obs: &Observation<'_>) -> [f64; 4] {
        self.decided = false;
        if !self.first && self.held < self.repeat {
            self.held += 1;
            return self.last;
        }
        let Some(px) = obs
            .pixels
            .filter(|p| p.width as usize == IMAGE && p.height as usize == IMAGE)
        else {
            return [0.0; 4];
        };
        let image = frames_to_tensor::<B>(&[px.rgb.as_slice()], &self.device);
        let vector = self.reads_state.then(|| {
            let v: Vec<f32> = obs.state.iter().map(|&x| x as f32).collect();
            Tensor::from_data(TensorData::new(v, [1, OBS_DIM]), &self.device)
        });
        let first = Tensor::from_data(
            TensorData::new(vec![self.first as u8 as f32], [1, 1]),
            &self.device,
        );
        self.first = false;
        let a = self
            .agent
            .act(&mut self.acting, image, vector, first, true)
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default();
        self.last = std::array::from_fn(|i| a.get(i).copied().unwrap_or(0.0) as f64);
        self.held = 1;
        self.decided = true;
        self.last
    }

    /// The posterior model state `[h, z]` of its last decision (held with its action), what
    /// an FB representation trained by `train dreamer --fb-state dreamer` reads.
    fn model_state(&self) -> Option<Vec<f32>> {
        if self.first {
            return None;
        }
        self.acting.state.feat().into_data().to_vec::<f32>().ok()
    }
}

impl std::fmt::Debug for AgentPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentPolicy({})", self.dir.display())
    }
}
