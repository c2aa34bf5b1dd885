//! genreward-eval: the evaluations behind `genreward eval-reward`, `eval-fb` and `eval-agent`,
//! each one call from a typed config to a typed report.
//!
//! - [`reward`]: how well r_video tells good behaviour from bad on unseen seeds:
//!   [`EvalRewardConfig`] -> [`eval_reward`] -> [`RewardReport`] (per task: [`RewardTaskEval`]);
//! - [`fb`]: how well r_fb rises toward success and tells good behaviour from bad:
//!   [`EvalFbConfig`] -> [`eval_fb`] -> [`FbReport`] (per task: [`FbTaskEval`]);
//! - [`goals`]: how close generated goal videos come to the seed's own expert video, beside
//!   the baselines, and how well they serve as reward goals ([`RewardFigures`]):
//!   [`EvalGoalsConfig`] -> [`eval_goals`] -> [`GoalsReport`];
//! - [`agent`]: how a policy (built-in or a trained agent) does on unseen seeds, and what a
//!   trained agent's model state knows of the scene (the probe, a ridge read-out):
//!   [`EvalAgentConfig`] -> [`eval_agent`] -> [`AgentReport`] (with [`ClosestCm`],
//!   [`ProbeReport`], [`ProbeFit`], [`Readout`], [`StateTargetHead`], [`Ridge`]; every
//!   episode in [`EpisodeOutcome`]).
//!
//! A report serialises to the JSON line the command prints (its keys in alphabetical order, as
//! they have always come out); the human summary the command prints on stderr is
//! [`RewardReport::table`] / [`FbReport::table`]. The statistics come from `genreward-stats`.
//! The caller hands in the progress bar (its style is the caller's); the library sets its
//! length, message and position and clears it when done. Nothing here prints.

pub mod agent;
mod error;
pub mod fb;
mod goal_rewards;
pub mod goals;
pub mod object;
pub mod reward;

pub use error::{EvalError, Result};
pub use goal_rewards::RewardFigures;
pub use goals::{eval_goals, EvalGoalsConfig, GoalsReport, MethodScore, TaskGoals};

pub use agent::{
    eval_agent, AgentReport, ClosestCm, EpisodeOutcome, EvalAgentConfig, ProbeFit, ProbeReport,
    Readout, Ridge, StateTargetHead, PROBE_MIN_EPISODES,
};
pub use fb::{eval_fb, EvalFbConfig, FbReport, FbTaskEval};
pub use reward::{eval_reward, EvalRewardConfig, RewardReport, RewardTaskEval};

/// The placement seeds `seed`, `seed + 1`, ... of `episodes` episodes (wrapping past
/// `u32::MAX`, as rollouts do).
fn episode_seeds(seed: u32, episodes: usize) -> Vec<u32> {
    (0..episodes).map(|k| seed.wrapping_add(k as u32)).collect()
}

/// The mean of `v` (NaN for none).
fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}
