//! The mixed reward from the stored terms (the panel's weights rescore the whole episode at
//! once), and the terms a recording keeps beside its video.

use super::state::{Goal, Terms};
use crate::sim::Shown;
use genreward_reward::mix::{mix_step, paid_env, MixWeights};
use genreward_sim::rollout::StepRecord;

/// The mixed reward of one episode from its stored terms and each term's weighted return.
#[derive(Clone, Debug, PartialEq)]
pub struct Rescored {
    /// `r_env` as paid (dense or every K-th step).
    pub env_paid: Vec<f64>,
    /// `r_env + alpha r_video + beta r_fb` per step.
    pub total: Vec<f64>,
    /// Returns: r_env as paid, alpha r_video, beta r_fb, the total.
    pub returns: [f64; 4],
}

/// Rescores an episode: `dense` r_env, `r_video`, `r_fb` per step, with weights `w`.
pub fn rescore(dense: &[f64], r_video: &[f64], r_fb: &[f64], w: &MixWeights) -> Rescored {
    let n = dense.len().min(r_video.len()).min(r_fb.len());
    let (dense, r_video, r_fb) = (&dense[..n], &r_video[..n], &r_fb[..n]);
    let env_paid = paid_env(dense, w.sparse_every);
    let total: Vec<f64> = env_paid
        .iter()
        .zip(r_video)
        .zip(r_fb)
        .map(|((e, v), f)| mix_step(*e, *v, *f, w))
        .collect();
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let returns = [
        sum(&env_paid),
        w.alpha * sum(r_video),
        w.beta * sum(r_fb),
        sum(&total),
    ];
    Rescored {
        env_paid,
        total,
        returns,
    }
}

impl Terms {
    /// The episode of `history` rescored with the panel's weights.
    pub fn rescored(&self, history: &[StepRecord]) -> Rescored {
        let dense: Vec<f64> = history.iter().map(|r| r.dense_reward).collect();
        rescore(&dense, &self.r_video, &self.r_fb, &self.weights)
    }
}

/// What a recording of steps `from..to` of the episode keeps beside the video: the goal,
/// goal frame and weights in force, and each step's terms (r_env dense and as paid,
/// r_video, r_fb, the mixed reward; the terms are null without a goal).
pub fn recording_data(
    goal: &Goal,
    terms: &Terms,
    sim: Shown,
    from: usize,
    to: usize,
) -> serde_json::Value {
    let history = &sim.episode.history;
    let r = terms.rescored(history);
    let goal = goal
        .loaded()
        .map(|s| (s.info.path.clone(), s.info.fb.clone()))
        .or_else(|| {
            terms
                .recorded
                .as_ref()
                .map(|g| (g.path.clone(), g.fb.clone()))
        })
        .map(|(path, fb)| {
            serde_json::json!({
                "path": path,
                "goal_frame": goal.frame,
                "fb": fb,
                "alpha": terms.weights.alpha,
                "beta": terms.weights.beta,
                "sparse_every": terms.weights.sparse_every,
            })
        });
    let mut to = to.min(history.len());
    if goal.is_some() {
        // Steps whose terms are computed (the models follow the episode each frame).
        to = to.min(r.total.len());
    }
    let steps: Vec<serde_json::Value> = (from.min(to)..to)
        .map(|t| {
            let h = &history[t];
            let scored = goal.is_some() && t < r.total.len();
            serde_json::json!({
                "step": t,
                "r_env": h.dense_reward,
                "r_env_paid": if scored { Some(r.env_paid[t]) } else { None },
                "r_video": if scored { terms.r_video.get(t).copied() } else { None },
                "r_fb": if scored { terms.r_fb.get(t).copied() } else { None },
                "reward": if scored { Some(r.total[t]) } else { None },
                "success": h.success,
            })
        })
        .collect();
    serde_json::json!({ "goal": goal, "steps": steps })
}
