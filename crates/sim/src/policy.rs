//! Policies that drive an [`Env`](crate::Env) from the command line and the app:
//! the scripted expert, uniform random actions and zero actions, with optional
//! seeded Gaussian action noise.

use crate::expert::expert_action;
use crate::task::TaskKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::fmt;
use std::str::FromStr;

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
}

/// Error for a policy name we do not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown policy '{0}' (known: expert, random, zero)")]
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
}

impl Policy {
    /// `noise_std` must be finite and >= 0 (0 disables noise); `seed` fixes the stream.
    pub fn new(kind: PolicyKind, task: TaskKind, noise_std: f64, seed: u64) -> Policy {
        let noise = (noise_std > 0.0).then(|| Normal::new(0.0, noise_std).expect("finite std"));
        Policy {
            kind,
            task,
            noise,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The action for `obs`. With noise, Gaussian noise is added to every
    /// component and the result clipped to [-1, 1] (the fixtures' protocol);
    /// without it the expert's raw output is passed on (the env clips xyz).
    pub fn act(&mut self, obs: &[f64; 39]) -> [f64; 4] {
        let mut a = match self.kind {
            PolicyKind::Expert => expert_action(self.task, obs).map(f64::from),
            PolicyKind::Random => std::array::from_fn(|_| self.rng.random_range(-1.0..=1.0)),
            PolicyKind::Zero => [0.0; 4],
        };
        if let Some(n) = &self.noise {
            for x in &mut a {
                *x = (*x + n.sample(&mut self.rng)).clamp(-1.0, 1.0);
            }
        }
        a
    }
}
