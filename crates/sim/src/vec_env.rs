//! N environments stepped in parallel (rayon), for training and throughput.

use crate::env::{Env, EnvError, StepResult, OBS_DIM};
use crate::task::TaskKind;
use crate::world::PhysicsConfig;
use rayon::prelude::*;

/// A batch of independent environments of one task. Environment `i` uses
/// placement seed `seed + i`. An environment that reaches its step limit is
/// reset automatically; its `StepResult` still carries the last observation
/// and `truncated = true`.
pub struct VecEnv {
    envs: Vec<Env>,
}

impl VecEnv {
    pub fn new(
        task: TaskKind,
        n: usize,
        seed: u32,
        physics: PhysicsConfig,
        max_steps: usize,
    ) -> VecEnv {
        let envs = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut e = Env::new(task, seed.wrapping_add(i as u32), physics);
                e.set_max_path_length(max_steps);
                e
            })
            .collect();
        VecEnv { envs }
    }

    pub fn len(&self) -> usize {
        self.envs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Current observations, one per environment.
    pub fn observations(&self) -> Vec<[f64; OBS_DIM]> {
        self.envs.iter().map(|e| *e.last_obs()).collect()
    }

    pub fn envs(&self) -> &[Env] {
        &self.envs
    }

    /// Steps every environment with its action, in parallel.
    pub fn step(&mut self, actions: &[[f64; 4]]) -> Result<Vec<StepResult>, EnvError> {
        if actions.len() != self.envs.len() {
            return Err(EnvError::ActionCount {
                got: actions.len(),
                envs: self.envs.len(),
            });
        }
        self.envs
            .par_iter_mut()
            .zip(actions.par_iter())
            .map(|(env, a)| {
                let r = env.step(*a)?;
                if r.truncated {
                    env.reset();
                }
                Ok(r)
            })
            .collect()
    }
}
