//! Running episodes: the per-step record written to `steps.jsonl`, sparse
//! environment rewards, and the summary statistics.

use crate::env::{Env, EnvError, OBS_DIM};
use crate::env_reward::RewardInfo;
use crate::policy::{Actor, Observation, Pixels, PolicyKind};
use crate::task::TaskKind;
use crate::world::PhysicsConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Settings of a rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutConfig {
    pub task: TaskKind,
    pub policy: PolicyKind,
    pub episodes: usize,
    /// Episode `i` uses placement seed `seed + i` and noise stream `(seed, i)`.
    pub seed: u32,
    pub max_steps: usize,
    /// Pay the environment reward only every K steps (`None`: every step; see
    /// [`sparse_reward`]). Older manifests hold a number, 0 or 1 for every step.
    #[serde(default, deserialize_with = "de_sparse_every")]
    pub sparse_every: Option<usize>,
    /// Gaussian action noise standard deviation.
    pub noise: f64,
    pub physics: PhysicsConfig,
}

/// One line of `steps.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub episode: usize,
    pub step: usize,
    /// Placement seed of the episode.
    pub seed: u32,
    /// Observation the policy saw (before the step).
    #[serde(serialize_with = "ser_obs", deserialize_with = "de_obs")]
    pub obs: [f64; OBS_DIM],
    pub action: [f64; 4],
    /// Reward paid to the agent (the dense reward, or 0 between sparse payments).
    pub reward: f64,
    /// Meta-World's dense reward of this step.
    pub dense_reward: f64,
    pub near_object: f64,
    pub grasp_success: f64,
    pub grasp_reward: f64,
    pub in_place_reward: f64,
    pub obj_to_target: f64,
    pub success: bool,
    pub truncated: bool,
    /// Named reward terms beyond Meta-World's (GenReward's `r_video`, ...), written as one
    /// `"terms"` object; absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub terms: BTreeMap<String, f64>,
    /// The finger joints (right, left) before the step: the observation records only the claws'
    /// distance, and a replay needs both to draw the gripper as it was (absent in runs recorded
    /// before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingers: Option<[f64; 2]>,
}

fn de_obs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[f64; OBS_DIM], D::Error> {
    let v = Vec::<f64>::deserialize(d)?;
    let n = v.len();
    v.try_into()
        .map_err(|_| serde::de::Error::custom(format!("obs has {n} values, expected {OBS_DIM}")))
}

fn ser_obs<S: serde::Serializer>(o: &[f64; OBS_DIM], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(o.iter())
}

/// The reward paid at 0-based `step`: `dense` on every step (`every` is `None`, or 1), or
/// only on the steps where `step + 1` is a multiple of K (`Some(K)`), 0 elsewhere. The one rule
/// of "dense or every K steps", used by rollouts, rescoring, the app and DreamerV3's trainer.
pub fn sparse_reward(dense: f64, step: usize, every: Option<usize>) -> f64 {
    match every {
        Some(k) if k > 1 && !(step + 1).is_multiple_of(k) => 0.0,
        _ => dense,
    }
}

/// Reads `sparse_every` as written now (`null` or K) or before (0 or 1 for every step).
fn de_sparse_every<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let k: Option<usize> = serde::Deserialize::deserialize(d)?;
    Ok(k.filter(|k| *k > 1))
}

/// Outcome of one episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSummary {
    pub episode: usize,
    pub seed: u32,
    pub steps: usize,
    pub episode_return: f64,
    pub success: bool,
    /// Steps taken up to and including the first successful one.
    pub steps_to_success: Option<usize>,
}

/// Watches an episode step by step (recorders, renderers, reward terms, progress bars).
pub trait StepObserver {
    /// Called before the policy acts at `step`, with the state it observes. An observer that
    /// renders the camera observation returns it here, and the actor sees it.
    fn before_step(&mut self, _step: usize, _env: &Env) -> Option<Pixels> {
        None
    }
    /// Called after the step with its record (an observer may add `terms` and change the paid
    /// `reward`) and the new state. Returning `false` ends the episode early (for example on
    /// Ctrl-C).
    fn after_step(&mut self, rec: &mut StepRecord, env: &Env) -> bool;
    /// Called after the actor chose the step's action, with the model state it acted from
    /// ([`Actor::model_state`]), before the step is taken.
    fn after_act(&mut self, _model_state: Option<Vec<f32>>) {}
}

/// Runs episode `index` of `cfg` with `actor` acting, telling `observer` about every step.
/// The episode's return sums the `reward` of each record after the observer saw it (the
/// environment's paid reward plus any terms an observer mixed in).
pub fn run_episode(
    cfg: &RolloutConfig,
    index: usize,
    actor: &mut dyn Actor,
    observer: &mut impl StepObserver,
) -> Result<EpisodeSummary, EnvError> {
    let seed = cfg.seed.wrapping_add(index as u32);
    let mut env = Env::new(cfg.task, seed, cfg.physics);
    env.set_max_path_length(cfg.max_steps);
    actor.reset(cfg.task, seed, index);
    let mut obs = *env.last_obs();
    let mut ret = 0.0;
    let mut first = None;
    let mut steps = 0;
    for step in 0..cfg.max_steps {
        let pixels = observer.before_step(step, &env);
        let (q_r, q_l) = env.world().finger_joints();
        let action = actor.act(&Observation {
            state: &obs,
            pixels: pixels.as_ref(),
        });
        observer.after_act(actor.model_state());
        let r = env.step(action)?;
        let paid = sparse_reward(r.reward, step, cfg.sparse_every);
        let success = r.info.is_success();
        if success && first.is_none() {
            first = Some(step + 1);
        }
        let mut rec = StepRecord::new(index, step, seed, obs, action, paid, &r.info, r.truncated);
        rec.fingers = Some([q_r, q_l]);
        steps = step + 1;
        obs = r.obs;
        let go_on = observer.after_step(&mut rec, &env);
        ret += rec.reward;
        if !go_on {
            break;
        }
    }
    Ok(EpisodeSummary {
        episode: index,
        seed,
        steps,
        episode_return: ret,
        success: first.is_some(),
        steps_to_success: first,
    })
}

impl StepRecord {
    /// The record of step `step` of episode `episode` (placed with `seed`): the observation
    /// the policy saw, its action, the reward as paid and Meta-World's terms of the step.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        episode: usize,
        step: usize,
        seed: u32,
        obs: [f64; OBS_DIM],
        action: [f64; 4],
        paid: f64,
        info: &RewardInfo,
        truncated: bool,
    ) -> StepRecord {
        StepRecord {
            episode,
            step,
            seed,
            obs,
            action,
            reward: paid,
            dense_reward: info.reward,
            near_object: info.near_object,
            grasp_success: info.grasp_success,
            grasp_reward: info.grasp_reward,
            in_place_reward: info.in_place_reward,
            obj_to_target: info.obj_to_target,
            success: info.is_success(),
            truncated,
            terms: BTreeMap::new(),
            fingers: None,
        }
    }
}

/// Aggregate over episodes: what `genreward rollout` prints last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutSummary {
    pub task: String,
    pub policy: String,
    pub episodes: usize,
    pub success_rate: f64,
    pub mean_return: f64,
    /// Mean over successful episodes; null when none succeeded.
    pub mean_steps_to_success: Option<f64>,
}

impl RolloutSummary {
    pub fn new(cfg: &RolloutConfig, eps: &[EpisodeSummary]) -> RolloutSummary {
        let n = eps.len().max(1) as f64;
        let succ: Vec<f64> = eps
            .iter()
            .filter_map(|e| e.steps_to_success.map(|s| s as f64))
            .collect();
        RolloutSummary {
            task: cfg.task.name().to_string(),
            policy: cfg.policy.to_string(),
            episodes: eps.len(),
            success_rate: succ.len() as f64 / n,
            mean_return: eps.iter().map(|e| e.episode_return).sum::<f64>() / n,
            mean_steps_to_success: (!succ.is_empty())
                .then(|| succ.iter().sum::<f64>() / succ.len() as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_reward_is_paid_every_step_or_on_every_kth() {
        let paid = |every| -> Vec<f64> { (0..6).map(|t| sparse_reward(2.0, t, every)).collect() };
        assert_eq!(paid(None), vec![2.0; 6]);
        assert_eq!(paid(Some(1)), vec![2.0; 6]);
        assert_eq!(paid(Some(3)), vec![0.0, 0.0, 2.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn manifests_old_and_new_read_one_way() {
        let config = |every: &str| -> RolloutConfig {
            let mut v = serde_json::to_value(RolloutConfig {
                task: TaskKind::Reach,
                policy: PolicyKind::Expert,
                episodes: 1,
                seed: 0,
                max_steps: 1,
                sparse_every: None,
                noise: 0.0,
                physics: PhysicsConfig::default(),
            })
            .unwrap();
            v["sparse_every"] = serde_json::from_str(every).unwrap();
            serde_json::from_value(v).unwrap()
        };
        for (written, read) in [("0", None), ("1", None), ("null", None), ("64", Some(64))] {
            assert_eq!(config(written).sparse_every, read, "{written}");
        }
    }
}
