//! `genreward eval-agent`: how a policy does on seeds it never trained on, without recording
//! anything, and (for a trained DreamerV3 agent, `--probe`) what its model state knows of the
//! scene.
//!
//! Episodes `--seed`, `--seed`+1, ... of `--max-steps` steps, the policy acting as `rollout`
//! runs it (an agent greedily, on its own camera at 64x64). Reported: the success rate (solved
//! at any step) with its 95 % Wilson interval, the mean dense return, the median steps to
//! success, and the closest approach (the smallest `obj_to_target` of each episode: for reach
//! the hand's distance to the goal) as quartiles and the share within 5 / 10 cm.
//!
//! The probe is a linear read-out: ridge regression from the agent's model state `[h, z]` (and,
//! separately, from its encoder's embedding of the frame) at each decision to the hand (`obs[0:3]`), the object (`obs[4:7]`) and the goal (`obs[36:39]`),
//! fitted on the first half of the episodes and scored on the second half (other seeds, other
//! goals), with the ridge strength picked on the last fifth of the fitting episodes. Its error
//! (root mean squared 3-d distance, in cm) beside the error of guessing the fitting episodes'
//! mean position says how precisely the state a policy acts from places each thing: a policy
//! cannot stop at a goal its state places only to within 6 cm. The embedding's read-out tells
//! whether the encoder sees what the state lacks. For an agent trained with `--state-target`,
//! its own state-target head (nothing fitted) is scored on the same test half: what its model
//! reconstructs of the hand, the object or the goal, whichever of them it was taught.

use crate::agent_policy::{agent_dir, AgentActor, AgentPolicy};
use anyhow::{bail, Context, Result};
use genreward_render::{render_specs, Renderer, ViewSpec};
use genreward_sim::rollout::{run_episode, StepObserver};
use genreward_sim::{
    Actor, Env, Observation, PhysicsConfig, Pixels, Policy, PolicyKind, RolloutConfig, StepRecord,
    TaskKind,
};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalAgentArgs {
    /// expert | random | zero | agent:DIR (a `train dreamer --out` folder).
    #[arg(long)]
    policy: String,
    /// Task (default: the one the agent was trained on; reach for the built-in policies).
    #[arg(long)]
    task: Option<String>,
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    episodes: usize,
    /// First seed (training uses 0.., its evaluations 1,000,000..: keep clear of both).
    #[arg(long, default_value_t = 2_000_000)]
    seed: u32,
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    max_steps: usize,
    /// Also fit and score the linear read-out of the agent's model state (agents only; use
    /// 100 or more episodes: the goal is one sample per episode).
    #[arg(long)]
    probe: bool,
    /// Also write the report to this JSON file, with every episode (seed, success, steps to
    /// success, return, closest approach, the object's and the goal's first positions).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What is read out of the model state: name and the observation's slice.
const TARGETS: [(&str, usize); 3] = [("hand", 0), ("object", 4), ("goal", 36)];

/// One decision of an agent: its model state, its encoder's embedding of the frame, and the 9
/// coordinates of the hand, the object and the goal then.
#[derive(Clone)]
struct Sample {
    state: Vec<f32>,
    embed: Vec<f32>,
    /// The state target's head's reconstruction (`--state-target` agents).
    head: Option<Vec<f32>>,
    at: [f64; 9],
}

/// An agent that keeps a [`Sample`] of each of its decisions.
struct Probed {
    inner: AgentActor,
    samples: Vec<Sample>,
}

impl Actor for Probed {
    fn reset(&mut self, task: TaskKind, seed: u32, index: usize) {
        self.inner.reset(task, seed, index);
    }

    fn act(&mut self, obs: &Observation<'_>) -> [f64; 4] {
        let action = self.inner.act(obs);
        if let Some((state, embed)) = self.inner.decision() {
            let mut at = [0.0; 9];
            for (k, (_, from)) in TARGETS.iter().enumerate() {
                at[3 * k..3 * k + 3].copy_from_slice(&obs.state[*from..*from + 3]);
            }
            let head = self.inner.state_target();
            self.samples.push(Sample {
                state,
                embed,
                head,
                at,
            });
        }
        action
    }

    fn model_state(&self) -> Option<Vec<f32>> {
        self.inner.model_state()
    }
}

/// Renders the agent's view before each step and keeps each episode's closest approach.
struct Watch {
    renderer: Option<Renderer>,
    view: Option<ViewSpec>,
    /// The episode's first observation (where its object and goal are).
    first: Option<[f64; genreward_sim::OBS_DIM]>,
    closest: f64,
    error: Option<anyhow::Error>,
}

impl StepObserver for Watch {
    fn before_step(&mut self, _step: usize, env: &Env) -> Option<Pixels> {
        self.first.get_or_insert(*env.last_obs());
        let (r, view) = (self.renderer.as_mut()?, self.view?);
        match render_specs(r, env.world(), &[view]) {
            Ok(mut f) => f.pop().map(|f| Pixels {
                width: f.width,
                height: f.height,
                rgb: f.rgb,
            }),
            Err(e) => {
                self.error.get_or_insert(e.into());
                None
            }
        }
    }

    fn after_step(&mut self, rec: &mut StepRecord, _env: &Env) -> bool {
        self.closest = self.closest.min(rec.obj_to_target);
        self.error.is_none()
    }
}

/// The 95 % Wilson score interval of `k` successes in `n` trials.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, k as f64 / n as f64, 1.959963984540054_f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The `q` quantile (linear between order statistics) of `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let x = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (x - lo as f64)
}

/// Solves `A x = b` for a symmetric positive definite `A` (`n x n`, row-major) by Cholesky;
/// `b` holds `m` right-hand sides as rows of `n`. `None` when `A` is not positive definite.
fn cholesky_solve(a: &[f64], n: usize, b: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - dot;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - dot) / l[j * n + j];
            }
        }
    }
    Some(
        b.iter()
            .map(|rhs| {
                let mut y = vec![0.0; n];
                for i in 0..n {
                    let dot: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
                    y[i] = (rhs[i] - dot) / l[i * n + i];
                }
                let mut x = vec![0.0; n];
                for i in (0..n).rev() {
                    let dot: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
                    x[i] = (y[i] - dot) / l[i * n + i];
                }
                x
            })
            .collect(),
    )
}

/// A ridge regression from standardised features to centred targets.
pub struct Ridge {
    mean: Vec<f64>,
    scale: Vec<f64>,
    target_mean: Vec<f64>,
    /// One weight row per target.
    weights: Vec<Vec<f64>>,
}

impl Ridge {
    /// Fits `y ~ x` minimising `|Xw - y|^2 + lambda n |w|^2` (features standardised).
    pub fn fit(x: &[Vec<f32>], y: &[Vec<f64>], lambda: f64) -> Option<Ridge> {
        let (n, p, m) = (x.len(), x.first()?.len(), y.first()?.len());
        let mut mean = vec![0.0; p];
        for row in x {
            for (s, v) in mean.iter_mut().zip(row) {
                *s += *v as f64 / n as f64;
            }
        }
        let mut scale = vec![0.0; p];
        for row in x {
            for ((s, v), mu) in scale.iter_mut().zip(row).zip(&mean) {
                *s += (*v as f64 - mu).powi(2) / n as f64;
            }
        }
        for s in &mut scale {
            *s = s.sqrt().max(1e-6);
        }
        let mut target_mean = vec![0.0; m];
        for row in y {
            for (s, v) in target_mean.iter_mut().zip(row) {
                *s += v / n as f64;
            }
        }
        let z: Vec<Vec<f64>> = x
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((v, mu), s)| (*v as f64 - mu) / s)
                    .collect()
            })
            .collect();
        let mut gram = vec![0.0; p * p];
        for row in &z {
            for i in 0..p {
                let ri = row[i];
                if ri == 0.0 {
                    continue;
                }
                for j in 0..=i {
                    gram[i * p + j] += ri * row[j];
                }
            }
        }
        for i in 0..p {
            gram[i * p + i] += lambda * n as f64;
            for j in 0..i {
                gram[j * p + i] = gram[i * p + j];
            }
        }
        let rhs: Vec<Vec<f64>> = (0..m)
            .map(|t| {
                let mut r = vec![0.0; p];
                for (row, yr) in z.iter().zip(y) {
                    let d = yr[t] - target_mean[t];
                    for (acc, v) in r.iter_mut().zip(row) {
                        *acc += v * d;
                    }
                }
                r
            })
            .collect();
        let weights = cholesky_solve(&gram, p, &rhs)?;
        Some(Ridge {
            mean,
            scale,
            target_mean,
            weights,
        })
    }

    pub fn predict(&self, x: &[f32]) -> Vec<f64> {
        self.weights
            .iter()
            .zip(&self.target_mean)
            .map(|(w, mu)| {
                mu + x
                    .iter()
                    .zip(&self.mean)
                    .zip(&self.scale)
                    .zip(w)
                    .map(|(((v, m), s), w)| (*v as f64 - m) / s * w)
                    .sum::<f64>()
            })
            .collect()
    }
}

/// Root mean squared 3-d distance between predicted and true positions `k` (of `TARGETS`).
fn rmse3(pred: &[Vec<f64>], y: &[Vec<f64>], k: usize) -> f64 {
    let n = pred.len().max(1) as f64;
    (pred
        .iter()
        .zip(y)
        .map(|(p, t)| {
            (0..3)
                .map(|d| (p[3 * k + d] - t[3 * k + d]).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Fits the read-out from `features` of each sample on the first half of the episodes and
/// scores it on the second half.
fn probe(
    per_episode: &[Vec<Sample>],
    features: impl Fn(&Sample) -> &[f32],
) -> Result<serde_json::Value> {
    let half = per_episode.len() / 2;
    if half < 5 {
        bail!(
            "--probe needs at least 10 episodes (got {})",
            per_episode.len()
        );
    }
    let flat = |eps: &[Vec<Sample>]| -> (Vec<Vec<f32>>, Vec<Vec<f64>>) {
        eps.iter()
            .flatten()
            .map(|s| (features(s).to_vec(), s.at.to_vec()))
            .unzip()
    };
    let (fit_eps, test_eps) = per_episode.split_at(half);
    let pick = (half * 4).div_ceil(5).clamp(1, half - 1);
    let (sub_x, sub_y) = flat(&fit_eps[..pick]);
    let (val_x, val_y) = flat(&fit_eps[pick..]);
    let score = |r: &Ridge, x: &[Vec<f32>], y: &[Vec<f64>]| -> f64 {
        let pred: Vec<Vec<f64>> = x.iter().map(|s| r.predict(s)).collect();
        (0..TARGETS.len()).map(|k| rmse3(&pred, y, k)).sum()
    };
    let mut best: Option<(f64, f64)> = None;
    for lambda in [1e-4, 1e-3, 1e-2, 1e-1, 1.0] {
        let Some(r) = Ridge::fit(&sub_x, &sub_y, lambda) else {
            continue;
        };
        let e = score(&r, &val_x, &val_y);
        if best.is_none_or(|(b, _)| e < b) {
            best = Some((e, lambda));
        }
    }
    let (_, lambda) = best.context("the probe's ridge regression found no solution")?;
    let (x, y) = flat(fit_eps);
    let (tx, ty) = flat(test_eps);
    let ridge = Ridge::fit(&x, &y, lambda).context("the probe's ridge regression failed")?;
    let pred: Vec<Vec<f64>> = tx.iter().map(|s| ridge.predict(s)).collect();
    let guess: Vec<Vec<f64>> = tx.iter().map(|_| ridge.target_mean.clone()).collect();
    let mut out = serde_json::Map::new();
    for (k, (name, _)) in TARGETS.iter().enumerate() {
        out.insert(
            format!("{name}_cm"),
            serde_json::json!({
                "readout": 100.0 * rmse3(&pred, &ty, k),
                "mean_guess": 100.0 * rmse3(&guess, &ty, k),
            }),
        );
    }
    out.insert("lambda".into(), lambda.into());
    out.insert("fit_samples".into(), x.len().into());
    out.insert("test_samples".into(), tx.len().into());
    out.insert("dim".into(), x[0].len().into());
    Ok(out.into())
}

/// The state target's own head, with nothing fitted: its error on the probe's test half (the
/// second half of the episodes) beside guessing the first half's mean, for each of `TARGETS`
/// whose three entries are among the reconstructed `dims`.
fn head_readout(per_episode: &[Vec<Sample>], dims: &[usize]) -> serde_json::Value {
    let (fit, test) = per_episode.split_at(per_episode.len() / 2);
    let fitted: Vec<&Sample> = fit.iter().flatten().collect();
    let mut out = serde_json::Map::new();
    for (k, (name, from)) in TARGETS.iter().enumerate() {
        let Some(cols) = (0..3)
            .map(|d| dims.iter().position(|&x| x == from + d))
            .collect::<Option<Vec<usize>>>()
        else {
            continue;
        };
        let mean: Vec<f64> = (0..3)
            .map(|d| {
                fitted.iter().map(|s| s.at[3 * k + d]).sum::<f64>() / fitted.len().max(1) as f64
            })
            .collect();
        let (mut se, mut se_guess, mut n) = (0.0, 0.0, 0usize);
        for s in test.iter().flatten() {
            let Some(head) = &s.head else { continue };
            for d in 0..3 {
                let truth = s.at[3 * k + d];
                se += (head[cols[d]] as f64 - truth).powi(2);
                se_guess += (mean[d] - truth).powi(2);
            }
            n += 1;
        }
        let n = n.max(1) as f64;
        out.insert(
            format!("{name}_cm"),
            serde_json::json!({
                "readout": 100.0 * (se / n).sqrt(),
                "mean_guess": 100.0 * (se_guess / n).sqrt(),
            }),
        );
    }
    out.into()
}

pub fn eval_agent(a: EvalAgentArgs) -> Result<()> {
    if a.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    if a.max_steps == 0 {
        bail!("--max-steps must be at least 1");
    }
    let agent = match agent_dir(&a.policy)? {
        Some(dir) => Some(AgentPolicy::load(&dir)?),
        None => None,
    };
    if a.probe && agent.is_none() {
        bail!("--probe reads a trained agent's model state: use --policy agent:DIR");
    }
    let task = match (&a.task, agent.as_ref().and_then(|p| p.task())) {
        (Some(t), _) => t.parse()?,
        (None, Some(t)) => t,
        (None, None) => "reach".parse()?,
    };
    let policy = match &agent {
        Some(_) => PolicyKind::Agent,
        None => a.policy.trim().parse::<PolicyKind>()?,
    };
    let cfg = RolloutConfig {
        task,
        policy,
        episodes: a.episodes,
        seed: a.seed,
        max_steps: a.max_steps,
        sparse_every: 0,
        noise: 0.0,
        physics: PhysicsConfig::default(),
    };
    let mut probed = agent.as_ref().map(|p| Probed {
        inner: p.actor(),
        samples: Vec::new(),
    });
    let mut policy_actor = Policy::for_run(policy, task, 0.0, a.seed);
    let mut watch = Watch {
        renderer: match agent {
            Some(_) => Some(Renderer::new().context("the agent needs the renderer")?),
            None => None,
        },
        view: agent.as_ref().map(|p| p.view()),
        first: None,
        closest: f64::INFINITY,
        error: None,
    };
    let bar = crate::goal::eval_bar(a.episodes * a.max_steps);
    let stop = crate::interrupt_flag();
    let (mut episodes, mut per_episode, mut samples) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..a.episodes {
        watch.closest = f64::INFINITY;
        watch.first = None;
        let actor: &mut dyn Actor = match &mut probed {
            Some(p) => p,
            None => &mut policy_actor,
        };
        let s = run_episode(&cfg, i, actor, &mut watch)?;
        if let Some(e) = watch.error.take() {
            return Err(e.context("rendering the agent's view failed"));
        }
        bar.inc(s.steps as u64);
        episodes.push(serde_json::json!({
            "seed": s.seed,
            "success": s.success,
            "steps_to_success": s.steps_to_success,
            "return": s.episode_return,
            "closest": watch.closest,
            "object": watch.first.map(|o| o[4..7].to_vec()),
            "goal": watch.first.map(|o| o[36..39].to_vec()),
        }));
        per_episode.push((s, watch.closest));
        if let Some(p) = &mut probed {
            samples.push(std::mem::take(&mut p.samples));
        }
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
    }
    bar.finish_and_clear();
    let n = per_episode.len();
    let wins = per_episode.iter().filter(|(s, _)| s.success).count();
    let (lo, hi) = wilson(wins, n);
    let closest: Vec<f64> = per_episode.iter().map(|(_, c)| *c).collect();
    let returns: Vec<f64> = per_episode.iter().map(|(s, _)| s.episode_return).collect();
    let to_success: Vec<f64> = per_episode
        .iter()
        .filter_map(|(s, _)| s.steps_to_success.map(|k| k as f64))
        .collect();
    let within = |d: f64| closest.iter().filter(|&&c| c <= d).count() as f64 / n.max(1) as f64;
    let mut report = serde_json::json!({
        "task": task.name(),
        "policy": a.policy,
        "episodes": n,
        "seed": a.seed,
        "max_steps": a.max_steps,
        "success_rate": wins as f64 / n.max(1) as f64,
        "success_95": [lo, hi],
        "mean_return": returns.iter().sum::<f64>() / n.max(1) as f64,
        "median_steps_to_success": (!to_success.is_empty()).then(|| quantile(&to_success, 0.5)),
        "closest_cm": {
            "q25": 100.0 * quantile(&closest, 0.25),
            "median": 100.0 * quantile(&closest, 0.5),
            "q75": 100.0 * quantile(&closest, 0.75),
            "within_5": within(0.05),
            "within_10": within(0.10),
        },
    });
    if a.probe {
        report["probe"] = serde_json::json!({
            "model_state": probe(&samples, |s| &s.state)?,
            "embedding": probe(&samples, |s| &s.embed)?,
        });
        if let Some(dims) = agent.as_ref().and_then(|p| p.target_dims.as_ref()) {
            report["probe"]["state_target_head"] = head_readout(&samples, dims);
        }
    }
    if let Some(path) = &a.json {
        let mut full = report.clone();
        full["per_episode"] = episodes.into();
        std::fs::write(path, serde_json::to_string_pretty(&full)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wilson's interval against values computed by hand from its formula.
    #[test]
    fn wilson_matches_hand_computed_intervals() {
        // 11 of 50: p = 0.22, z = 1.96: centre 0.2400, half 0.1124.
        let (lo, hi) = wilson(11, 50);
        assert!(
            (lo - 0.1275).abs() < 5e-4 && (hi - 0.3524).abs() < 5e-4,
            "{lo} {hi}"
        );
        // All successes: the upper end is 1, the lower (n / (n + z^2)) = 50 / 53.84.
        let (lo, hi) = wilson(50, 50);
        assert!((lo - 0.9287).abs() < 5e-4 && hi == 1.0, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.25) - 1.75).abs() < 1e-12);
    }

    /// Cholesky solves a hand-made system exactly.
    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2], [2, 3]], x = [1, -2] -> b = [0, -4].
        let x = cholesky_solve(&[4.0, 2.0, 2.0, 3.0], 2, &[vec![0.0, -4.0]]).unwrap();
        assert!(
            (x[0][0] - 1.0).abs() < 1e-12 && (x[0][1] + 2.0).abs() < 1e-12,
            "{x:?}"
        );
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], 2, &[vec![1.0, 1.0]]).is_none());
    }

    /// A linear target is recovered (tiny ridge), a heavy ridge shrinks to the mean, and a
    /// feature that never varies is harmless.
    #[test]
    fn ridge_recovers_a_linear_map_and_shrinks_to_the_mean() {
        let x: Vec<Vec<f32>> = (0..40)
            .map(|i| {
                let (a, b) = ((i % 7) as f32, (i / 7) as f32 * 0.5 - (i % 3) as f32);
                vec![a, b, 1.0]
            })
            .collect();
        let y: Vec<Vec<f64>> = x
            .iter()
            .map(|r| vec![2.0 * r[0] as f64 - 3.0 * r[1] as f64 + 5.0])
            .collect();
        let r = Ridge::fit(&x, &y, 1e-9).unwrap();
        for (row, t) in x.iter().zip(&y) {
            assert!((r.predict(row)[0] - t[0]).abs() < 1e-5);
        }
        let heavy = Ridge::fit(&x, &y, 1e9).unwrap();
        let mean = y.iter().map(|t| t[0]).sum::<f64>() / y.len() as f64;
        assert!((heavy.predict(&x[3])[0] - mean).abs() < 1e-3);
    }

    /// 24 episodes of 10 decisions: the goal is fixed per episode and the hand moves. A state
    /// that holds the goal (plus noise) reads it out far better than the mean; one that holds
    /// only the hand reads the goal out no better than the mean (the fit and test episodes do
    /// not share goals, so memorising the fitting ones cannot help).
    #[test]
    fn the_probe_finds_what_the_state_holds_and_only_that() {
        let mut rng = 12345u64;
        let mut uniform = move || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let episodes = |holds_goal: bool, uniform: &mut dyn FnMut() -> f64| -> Vec<Vec<Sample>> {
            (0..24)
                .map(|_| {
                    let goal = [
                        uniform() * 0.2 - 0.1,
                        0.8 + uniform() * 0.1,
                        uniform() * 0.25,
                    ];
                    (0..10)
                        .map(|_| {
                            let hand = [
                                uniform() * 0.4 - 0.2,
                                uniform() * 0.3 + 0.5,
                                uniform() * 0.3,
                            ];
                            let mut state: Vec<f32> = hand.iter().map(|&v| v as f32).collect();
                            for d in 0..3 {
                                let g = if holds_goal { goal[d] } else { 0.0 };
                                state.push((2.0 * g + 0.002 * (uniform() - 0.5)) as f32);
                            }
                            for _ in 0..6 {
                                state.push(uniform() as f32);
                            }
                            let mut at = [0.0; 9];
                            at[..3].copy_from_slice(&hand);
                            at[6..].copy_from_slice(&goal);
                            Sample {
                                embed: state.clone(),
                                state,
                                head: None,
                                at,
                            }
                        })
                        .collect()
                })
                .collect()
        };
        let cm = |r: &serde_json::Value, what: &str, k: &str| {
            r[format!("{what}_cm")][k].as_f64().unwrap()
        };
        let holds = probe(&episodes(true, &mut uniform), |s| &s.state).unwrap();
        assert!(
            cm(&holds, "goal", "readout") < 0.2 * cm(&holds, "goal", "mean_guess"),
            "{holds}"
        );
        assert!(
            cm(&holds, "hand", "readout") < 0.2 * cm(&holds, "hand", "mean_guess"),
            "{holds}"
        );
        let blind = probe(&episodes(false, &mut uniform), |s| &s.state).unwrap();
        assert!(
            cm(&blind, "goal", "readout") > 0.9 * cm(&blind, "goal", "mean_guess"),
            "{blind}"
        );
        assert!(
            cm(&blind, "hand", "readout") < 0.2 * cm(&blind, "hand", "mean_guess"),
            "{blind}"
        );
        assert_eq!(blind["fit_samples"], 120);
        assert!(probe(&episodes(true, &mut uniform)[..9], |s| &s.state).is_err());
    }

    /// The state target's head is scored as it is, against hand-computed errors: on the test
    /// half it is off by (3, 4, 0) cm at every decision (5 cm), and the fitting half's mean
    /// goal, (0, 0.8, 0.1), is off the test goal (0, 0.9, 0.2) by 10 sqrt(2) cm. Only the
    /// targets whose three entries the head reconstructs are reported.
    #[test]
    fn the_state_target_head_is_scored_without_fitting() {
        let goal_at = |g: [f64; 3]| {
            let mut at = [0.0; 9];
            at[6..].copy_from_slice(&g);
            at
        };
        let sample = |at: [f64; 9], head: Option<Vec<f32>>| Sample {
            state: vec![0.0],
            embed: vec![0.0],
            head,
            at,
        };
        // Reconstructed entries: the goal (36:39) and one hand entry, in an order of its own.
        let dims = [38, 0, 36, 37];
        let fit: Vec<Vec<Sample>> = [[0.0, 0.7, 0.0], [0.0, 0.9, 0.2]]
            .iter()
            .map(|&g| vec![sample(goal_at(g), None); 3])
            .collect();
        let test: Vec<Vec<Sample>> = (0..2)
            .map(|_| vec![sample(goal_at([0.0, 0.9, 0.2]), Some(vec![0.2, 9.0, 0.03, 0.94])); 4])
            .collect();
        let all: Vec<Vec<Sample>> = fit.into_iter().chain(test).collect();
        let r = head_readout(&all, &dims);
        let goal = &r["goal_cm"];
        assert!(
            (goal["readout"].as_f64().unwrap() - 5.0).abs() < 1e-4,
            "{r}"
        );
        let guess = 100.0 * 0.02f64.sqrt();
        assert!(
            (goal["mean_guess"].as_f64().unwrap() - guess).abs() < 1e-4,
            "{r}"
        );
        assert!(
            r.get("hand_cm").is_none() && r.get("object_cm").is_none(),
            "{r}"
        );
    }
}
