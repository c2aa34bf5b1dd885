//! genreward-sim: Meta-World v3 Sawyer manipulation tasks on rapier3d.
//!
//! The crate knows nothing of Bevy or burn. Its parts:
//! - [`task`]: the seven tasks, their bounds and sampling ranges;
//! - [`env_reward`]: Meta-World's dense rewards (the environment reward, `r_env`), info terms and success checks (float64);
//! - [`expert`]: the scripted expert policies;
//! - [`fixture`]: reading Meta-World fixture records and replaying them (parity);
//! - [`world`] / [`env`]: the rapier scene and Meta-World's reset/step contract;
//! - [`policy`], [`rollout`], [`vec_env`]: acting, recording and batching.

pub mod env;
pub mod env_reward;
pub mod expert;
pub mod fixture;
pub mod obs;
pub mod policy;
pub mod rng;
pub mod rollout;
pub mod task;
pub mod vec3;
pub mod vec_env;
pub mod world;

pub use env::{observation_bounds, Env, EnvError, Placement, StepResult, ACT_DIM, OBS_DIM};
pub use obs::StateDims;
pub use policy::{Actor, Observation, Pixels, Policy, PolicyKind, UnknownPolicy};
pub use rollout::{RolloutConfig, RolloutSummary, StepRecord};
pub use task::{TaskKind, TaskList, UnknownTask};
pub use vec_env::VecEnv;
pub use world::{PhysicsConfig, SawyerWorld, CONTROL_DT, CONTROL_HZ};

#[cfg(test)]
mod tests {
    #[test]
    fn control_rate_is_the_inverse_of_the_control_step() {
        assert!((super::CONTROL_DT * super::CONTROL_HZ as f64 - 1.0).abs() < 1e-12);
    }
}
