//! What acts in an episode.
//!
//! [`Actor`] is the seam: anything that turns an [`Observation`] (the 39-d state and, when the
//! loop renders one, the camera frame) into an action. The episode loop, the app and the recorder
//! all drive an `Actor`, so scripted, random, keyboard and learned (recurrent) policies share
//! them. [`Policy`] is the built-in one: the scripted expert, uniform random actions or zero
//! actions, with optional seeded Gaussian action noise.

use crate::expert::expert_action;
use crate::task::TaskKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::fmt;
use std::str::FromStr;

/// A camera frame: `width * height * 3` bytes of RGB, row 0 at the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// What an actor sees at a step.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// Meta-World's 39-d observation.
    pub state: &'a [f64; crate::env::OBS_DIM],
    /// The camera observation, when the loop renders one.
    pub pixels: Option<&'a Pixels>,
}

/// Something that acts: reset at the start of each episode, then asked for one action a step.
pub trait Actor {
    /// A new episode of `task` with placement seed `seed` (episode `index` of the run) begins.
    fn reset(&mut self, task: TaskKind, seed: u32, index: usize);
    /// The action for this step (the env clips xyz to [-1, 1]).
    fn act(&mut self, obs: &Observation<'_>) -> [f64; 4];
    /// The learned state the last action was chosen from (a DreamerV3 agent's `[h, z]`), for
    /// rewards that read it; `None` for policies without one.
    fn model_state(&self) -> Option<Vec<f32>> {
        None
    }
}

/// Which policy acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Meta-World's scripted expert for the task.
    Expert,
    /// Uniform random actions in [-1, 1]^4.
    Random,
    /// All-zero actions (the arm holds still, the gripper relaxes).
    Zero,
    /// A trained agent (`--policy agent:DIR`), which acts through its own [`Actor`]; the
    /// caller loads it. Named here so runs record who acted. [`Policy`] cannot play it: asked
    /// to, it holds still like `Zero`.
    Agent,
    /// An actor outside genreward (a Python policy stepping the `genreward` package), named
    /// so its recorded runs say who acted. [`Policy`] cannot play it either.
    External,
}

/// Error for a policy name we do not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown policy '{0}' (known: expert, random, zero, agent:DIR)")]
pub struct UnknownPolicy(pub String);

impl FromStr for PolicyKind {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "expert" => Ok(PolicyKind::Expert),
            "random" => Ok(PolicyKind::Random),
            "zero" => Ok(PolicyKind::Zero),
            other => Err(UnknownPolicy(other.to_string())),
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Expert => "expert",
            PolicyKind::Random => "random",
            PolicyKind::Zero => "zero",
            PolicyKind::Agent => "agent",
            PolicyKind::External => "external",
        })
    }
}

/// A policy with its own seeded random stream (for random actions and noise).
#[derive(Clone, Debug)]
pub struct Policy {
    kind: PolicyKind,
    task: TaskKind,
    noise: Option<Normal<f64>>,
    rng: ChaCha8Rng,
    /// Seed of the run, from which each episode's stream is derived in [`Actor::reset`].
    run_seed: Option<u32>,
}

impl Actor for Policy {
    /// Episode `index` of a run with seed `s` uses the stream `(s << 32) | index`, so every
    /// episode is reproducible on its own.
    fn reset(&mut self, task: TaskKind, _seed: u32, index: usize) {
        self.task = task;
        if let Some(s) = self.run_seed {
            self.rng = ChaCha8Rng::seed_from_u64(((s as u64) << 32) | index as u64);
        }
    }

    fn act(&mut self, obs: &Observation<'_>) -> [f64; 4] {
        self.action(obs.state)
    }
}

impl Policy {
    /// Gaussian action noise of `noise_std` (0, a negative value or NaN disable it; an infinite
    /// one too); `seed` fixes the stream.
    pub fn new(kind: PolicyKind, task: TaskKind, noise_std: f64, seed: u64) -> Policy {
        let noise = (noise_std > 0.0 && noise_std.is_finite())
            .then(|| Normal::new(0.0, noise_std).ok())
            .flatten();
        Policy {
            kind,
            task,
            noise,
            rng: ChaCha8Rng::seed_from_u64(seed),
            run_seed: None,
        }
    }

    /// The policy of a rollout with seed `run_seed`: each episode reseeds its stream on
    /// [`Actor::reset`] (the same streams `genreward rollout` has always used).
    pub fn for_run(kind: PolicyKind, task: TaskKind, noise_std: f64, run_seed: u32) -> Policy {
        let mut p = Policy::new(kind, task, noise_std, run_seed as u64);
        p.run_seed = Some(run_seed);
        p
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The action for `obs`. With noise, Gaussian noise is added to every
    /// component and the result clipped to [-1, 1] (the fixtures' protocol);
    /// without it the expert's raw output is passed on (the env clips xyz).
    pub fn action(&mut self, obs: &[f64; 39]) -> [f64; 4] {
        let mut a = match self.kind {
            PolicyKind::Expert => expert_action(self.task, obs).map(f64::from),
            PolicyKind::Random => std::array::from_fn(|_| self.rng.random_range(-1.0..=1.0)),
            PolicyKind::Zero | PolicyKind::Agent | PolicyKind::External => [0.0; 4],
        };
        if let Some(n) = &self.noise {
            for x in &mut a {
                *x = (*x + n.sample(&mut self.rng)).clamp(-1.0, 1.0);
            }
        }
        a
    }
}
