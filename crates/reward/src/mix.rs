//! The GenReward mix: `reward = r_env + alpha * r_video + beta * r_fb`, with the environment's
//! reward dense or sparse.
//!
//! **Sparse `r_env`** (`--sparse-every K`, the paper's sparse setting uses 64): the dense
//! reward of the step is paid on steps where `(step + 1) % K == 0` and 0 elsewhere, as
//! `rollout --sparse-every` pays it (`genreward_sim::rollout::sparse_reward`) and as the authors' released
//! code does (the step's shaped reward when its counter is a multiple of the interval; not a
//! sum over the interval).
//!
//! The mix is a pure function of stored terms, so a run can be rescored with other weights
//! without running a model again (the app's sliders, `score`).

/// The weights of the mix.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MixWeights {
    pub alpha: f64,
    pub beta: f64,
    /// `None`: dense `r_env`; `Some(K)`: paid every K steps.
    pub sparse_every: Option<usize>,
}

impl MixWeights {
    /// Checks the weights: finite, and K at least 1.
    pub fn validate(&self) -> Result<(), crate::RewardError> {
        for (name, v) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !v.is_finite() {
                return Err(crate::RewardError::Invalid(format!(
                    "{name} must be a finite number (got {v})"
                )));
            }
        }
        if self.sparse_every == Some(0) {
            return Err(crate::RewardError::Invalid(
                "the sparse r_env interval must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// `r_env` as paid: the dense values of one episode, or only those of every `K`-th step.
pub fn paid_env(dense: &[f64], sparse_every: Option<usize>) -> Vec<f64> {
    dense
        .iter()
        .enumerate()
        .map(|(t, &r)| genreward_sim::rollout::sparse_reward(r, t, sparse_every))
        .collect()
}

/// The total per step of one episode: `paid_env(r_env) + alpha * r_video + beta * r_fb`.
/// `r_video` and `r_fb` hold one value per step (0 where a term is not paid or absent).
/// Terms of different lengths are an error.
pub fn mix(
    r_env: &[f64],
    r_video: &[f64],
    r_fb: &[f64],
    w: &MixWeights,
) -> Result<Vec<f64>, crate::RewardError> {
    if r_video.len() != r_env.len() || r_fb.len() != r_env.len() {
        return Err(crate::RewardError::Invalid(format!(
            "the terms of one episode differ in length (r_env {}, r_video {}, r_fb {})",
            r_env.len(),
            r_video.len(),
            r_fb.len()
        )));
    }
    Ok(paid_env(r_env, w.sparse_every)
        .iter()
        .zip(r_video)
        .zip(r_fb)
        .map(|((e, v), f)| mix_step(*e, *v, *f, w))
        .collect())
}

/// One step of the mix, with `r_env` already as paid: `r_env + alpha * r_video + beta * r_fb`.
pub fn mix_step(r_env: f64, r_video: f64, r_fb: f64, w: &MixWeights) -> f64 {
    r_env + w.alpha * r_video + w.beta * r_fb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_env_pays_every_kth_step() {
        let dense = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(paid_env(&dense, None), dense.to_vec());
        assert_eq!(paid_env(&dense, Some(2)), vec![0.0, 2.0, 0.0, 4.0, 0.0]);
        assert_eq!(paid_env(&dense, Some(5)), vec![0.0, 0.0, 0.0, 0.0, 5.0]);
        assert_eq!(paid_env(&dense, Some(1)), dense.to_vec());
    }

    #[test]
    fn mix_is_the_weighted_sum() {
        let w = MixWeights {
            alpha: 2.0,
            beta: 0.5,
            sparse_every: Some(2),
        };
        let r = mix(&[1.0, 1.5, 1.0], &[0.0, 0.3, 0.0], &[4.0, 2.0, -2.0], &w).unwrap();
        assert_eq!(r, vec![0.0 + 2.0, 1.5 + 0.6 + 1.0, 0.0 - 1.0]);
        assert!(MixWeights {
            alpha: f64::NAN,
            ..w
        }
        .validate()
        .is_err());
        assert!(MixWeights {
            sparse_every: Some(0),
            ..w
        }
        .validate()
        .is_err());
    }
}
