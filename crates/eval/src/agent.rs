//! The evaluation of a policy (`genreward eval-agent`): how it does on seeds it never trained
//! on, without recording anything, and (for a trained DreamerV3 agent, `probe`) what its model
//! state knows of the scene.
//!
//! Episodes `seed`, `seed`+1, ... of `max_steps` steps, the policy acting as `rollout` runs it
//! (an agent greedily, on its own camera at 64x64). Reported: the success rate (solved at any
//! step) with its 95 % Wilson interval, the mean dense return, the median steps to success, and
//! the closest approach (the smallest `obj_to_target` of each episode: for reach the hand's
//! distance to the goal) as quartiles and the share within 5 / 10 cm.
//!
//! The probe is a linear read-out: ridge regression from the agent's model state `[h, z]` (and,
//! separately, from its encoder's embedding of the frame) at each decision to the hand
//! (`obs[0:3]`), the object (`obs[4:7]`) and the goal (`obs[36:39]`), fitted on the first half
//! of the episodes and scored on the second half (other seeds, other goals), with the ridge
//! strength picked on the last fifth of the fitting episodes. Its error (root mean squared 3-d
//! distance, in cm) beside the error of guessing the fitting episodes' mean position says how
//! precisely the state a policy acts from places each thing: a policy cannot stop at a goal its
//! state places only to within 6 cm. The embedding's read-out tells whether the encoder sees
//! what the state lacks. For an agent trained with `--state-target`, its own state-target head
//! (nothing fitted) is scored on the same test half: what its model reconstructs of the hand,
//! the object or the goal, whichever of them it was taught.

use crate::error::bail;
use crate::{EvalError, Result};
use genreward_agent::{AgentActor, PolicyChoice};
use genreward_render::{render_specs, Renderer, ViewSpec};
use genreward_sim::rollout::{run_episode, StepObserver};
use genreward_sim::{
    Actor, Env, Observation, PhysicsConfig, Pixels, Policy, RolloutConfig, StepRecord, TaskKind,
};
use genreward_stats::{quantile, wilson};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The probe needs this many episodes at least (half to fit, half to score, 5 each).
pub const PROBE_MIN_EPISODES: usize = 10;

/// What [`eval_agent`] evaluates; [`EvalAgentConfig::new`] gives the command's defaults.
#[derive(Clone, Debug)]
pub struct EvalAgentConfig {
    /// expert | random | zero | agent:DIR (a `train dreamer --out` folder); no default.
    pub policy: PolicyChoice,
    /// Task (default `None`: the one the agent was trained on; reach for the built-in
    /// policies, or for an agent whose folder does not say).
    pub task: Option<TaskKind>,
    /// Episodes (default 50; at least 1, and [`PROBE_MIN_EPISODES`] with `probe`).
    pub episodes: usize,
    /// First seed (default 2,000,000; training uses 0.., its evaluations 1,000,000..).
    pub seed: u32,
    /// Steps per episode (default 256; at least 1).
    pub max_steps: usize,
    /// Also fit and score the linear read-out of the agent's model state (default false;
    /// agents only; use 100 or more episodes: the goal is one sample per episode).
    pub probe: bool,
    /// Also write the report to this JSON file, with every episode (default `None`); see
    /// [`AgentReport::write_full`].
    pub json: Option<PathBuf>,
}

impl EvalAgentConfig {
    /// `policy` with every other setting at its default.
    pub fn new(policy: PolicyChoice) -> Self {
        EvalAgentConfig {
            policy,
            task: None,
            episodes: 50,
            seed: 2_000_000,
            max_steps: 256,
            probe: false,
            json: None,
        }
    }
}

/// The closest approach of the episodes: quartiles in cm and the shares within 5 and 10 cm.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClosestCm {
    pub median: f64,
    pub q25: f64,
    pub q75: f64,
    pub within_10: f64,
    pub within_5: f64,
}

/// One read-out's error on the test half (root mean squared 3-d distance, cm), beside
/// guessing the fitting half's mean position.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Readout {
    pub mean_guess: f64,
    pub readout: f64,
}

/// A fitted linear read-out (from the model state or from the embedding).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeFit {
    /// Features per sample.
    pub dim: usize,
    pub fit_samples: usize,
    pub goal_cm: Readout,
    pub hand_cm: Readout,
    /// The ridge strength picked on the last fifth of the fitting episodes.
    pub lambda: f64,
    pub object_cm: Readout,
    pub test_samples: usize,
}

/// The state target's own head, nothing fitted: the targets whose three entries it
/// reconstructs.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StateTargetHead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_cm: Option<Readout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_cm: Option<Readout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_cm: Option<Readout>,
}

/// What the probe found.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeReport {
    /// Read out of the encoder's embedding of the frame.
    pub embedding: ProbeFit,
    /// Read out of the model state `[h, z]`.
    pub model_state: ProbeFit,
    /// For an agent trained with a state target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_target_head: Option<StateTargetHead>,
}

/// One episode, as the `json` file lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpisodeOutcome {
    /// Its closest approach (m).
    pub closest: f64,
    /// The goal's position at the start.
    pub goal: Option<Vec<f64>>,
    /// The object's position at the start.
    pub object: Option<Vec<f64>>,
    #[serde(rename = "return")]
    pub episode_return: f64,
    pub seed: u32,
    pub steps_to_success: Option<usize>,
    pub success: bool,
}

/// What [`eval_agent`] found; serialises to the command's JSON line (keys in alphabetical
/// order). `per_episode` is not part of it (see [`AgentReport::write_full`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AgentReport {
    pub closest_cm: ClosestCm,
    /// Episodes run (fewer than asked when stopped).
    pub episodes: usize,
    pub max_steps: usize,
    pub mean_return: f64,
    /// `None` when no episode succeeded.
    pub median_steps_to_success: Option<f64>,
    /// The policy as the user named it.
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeReport>,
    pub seed: u32,
    /// The success rate's 95 % Wilson interval.
    pub success_95: [f64; 2],
    pub success_rate: f64,
    pub task: String,
    #[serde(skip)]
    pub per_episode: Vec<EpisodeOutcome>,
}

impl AgentReport {
    /// The report with every episode under `per_episode`, pretty-printed.
    pub fn full_json(&self) -> String {
        // Plain numbers, strings and lists: serialising them cannot fail.
        let mut full = serde_json::to_value(self).unwrap_or_default();
        full["per_episode"] = serde_json::to_value(&self.per_episode).unwrap_or_default();
        serde_json::to_string_pretty(&full).unwrap_or_default()
    }

    /// Writes [`Self::full_json`] to `path`.
    pub fn write_full(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.full_json()).map_err(|e| EvalError::write(path, e))
    }
}

/// Runs the evaluation; `bar` counts steps. Setting `stop` ends it after the episode in hand
/// (the report covers the episodes run).
pub fn eval_agent(
    cfg: &EvalAgentConfig,
    bar: &ProgressBar,
    stop: &AtomicBool,
) -> Result<AgentReport> {
    if cfg.episodes == 0 {
        bail!("episodes must be at least 1");
    }
    if cfg.max_steps == 0 {
        bail!("max_steps must be at least 1");
    }
    let agent = cfg.policy.load_agent()?;
    if cfg.probe && agent.is_none() {
        bail!("the probe reads a trained agent's model state: use an agent:DIR policy");
    }
    if cfg.probe && cfg.episodes < PROBE_MIN_EPISODES {
        bail!(
            "the probe needs at least {PROBE_MIN_EPISODES} episodes (got {})",
            cfg.episodes
        );
    }
    let task = match (cfg.task, agent.as_ref().and_then(|p| p.task())) {
        (Some(t), _) => t,
        (None, Some(t)) => t,
        (None, None) => TaskKind::Reach,
    };
    let policy = cfg.policy.kind();
    let rollout = RolloutConfig {
        task,
        policy,
        episodes: cfg.episodes,
        seed: cfg.seed,
        max_steps: cfg.max_steps,
        sparse_every: None,
        noise: 0.0,
        physics: PhysicsConfig::default(),
    };
    let mut probed = agent.as_ref().map(|p| Probed {
        inner: p.actor(),
        samples: Vec::new(),
    });
    let mut policy_actor = Policy::for_run(policy, task, 0.0, cfg.seed);
    let mut watch = Watch {
        renderer: match agent {
            Some(_) => Some(
                Renderer::new()
                    .map_err(|e| EvalError::from(e).during("the agent needs the renderer"))?,
            ),
            None => None,
        },
        view: agent.as_ref().map(|p| p.view()),
        first: None,
        closest: f64::INFINITY,
        error: None,
    };
    bar.set_length((cfg.episodes * cfg.max_steps) as u64);
    let (mut outcomes, mut per_episode, mut samples) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..cfg.episodes {
        watch.closest = f64::INFINITY;
        watch.first = None;
        let actor: &mut dyn Actor = match &mut probed {
            Some(p) => p,
            None => &mut policy_actor,
        };
        let s = run_episode(&rollout, i, actor, &mut watch)?;
        if let Some(e) = watch.error.take() {
            return Err(e.during("rendering the agent's view failed"));
        }
        bar.inc(s.steps as u64);
        outcomes.push(EpisodeOutcome {
            seed: s.seed,
            success: s.success,
            steps_to_success: s.steps_to_success,
            episode_return: s.episode_return,
            closest: watch.closest,
            object: watch.first.map(|o| o[genreward_sim::obs::OBJECT].to_vec()),
            goal: watch.first.map(|o| o[genreward_sim::obs::GOAL].to_vec()),
        });
        per_episode.push((s, watch.closest));
        if let Some(p) = &mut probed {
            samples.push(std::mem::take(&mut p.samples));
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    bar.finish_and_clear();
    let probe_report = if cfg.probe {
        Some(ProbeReport {
            model_state: probe(&samples, |s| &s.state)?,
            embedding: probe(&samples, |s| &s.embed)?,
            state_target_head: agent
                .as_ref()
                .and_then(|p| p.target_dims.as_ref())
                .map(|dims| head_readout(&samples, dims)),
        })
    } else {
        None
    };
    let report = summarise(cfg, task, &per_episode, outcomes, probe_report);
    if let Some(path) = &cfg.json {
        report.write_full(path)?;
    }
    Ok(report)
}

/// The report's figures over the episodes run.
fn summarise(
    cfg: &EvalAgentConfig,
    task: TaskKind,
    per_episode: &[(genreward_sim::rollout::EpisodeSummary, f64)],
    outcomes: Vec<EpisodeOutcome>,
    probe: Option<ProbeReport>,
) -> AgentReport {
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
    AgentReport {
        task: task.name().into(),
        policy: cfg.policy.to_string(),
        episodes: n,
        seed: cfg.seed,
        max_steps: cfg.max_steps,
        success_rate: wins as f64 / n.max(1) as f64,
        success_95: [lo, hi],
        mean_return: returns.iter().sum::<f64>() / n.max(1) as f64,
        median_steps_to_success: (!to_success.is_empty()).then(|| quantile(&to_success, 0.5)),
        closest_cm: ClosestCm {
            q25: 100.0 * quantile(&closest, 0.25),
            median: 100.0 * quantile(&closest, 0.5),
            q75: 100.0 * quantile(&closest, 0.75),
            within_5: within(0.05),
            within_10: within(0.10),
        },
        probe,
        per_episode: outcomes,
    }
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
    error: Option<EvalError>,
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
    /// `None` when there are no samples, `x` and `y` differ in length or in the length of
    /// their rows, or the system is singular.
    pub fn fit(x: &[Vec<f32>], y: &[Vec<f64>], lambda: f64) -> Option<Ridge> {
        let (n, p, m) = (x.len(), x.first()?.len(), y.first()?.len());
        let ragged = x.iter().any(|r| r.len() != p) || y.iter().any(|r| r.len() != m);
        if y.len() != n || ragged {
            return None;
        }
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
fn probe(per_episode: &[Vec<Sample>], features: impl Fn(&Sample) -> &[f32]) -> Result<ProbeFit> {
    let half = per_episode.len() / 2;
    if half < PROBE_MIN_EPISODES / 2 {
        bail!(
            "the probe needs at least {PROBE_MIN_EPISODES} episodes (got {})",
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
    let Some((_, lambda)) = best else {
        bail!("the probe's ridge regression found no solution");
    };
    let (x, y) = flat(fit_eps);
    let (tx, ty) = flat(test_eps);
    let Some(ridge) = Ridge::fit(&x, &y, lambda) else {
        bail!("the probe's ridge regression failed");
    };
    let pred: Vec<Vec<f64>> = tx.iter().map(|s| ridge.predict(s)).collect();
    let guess: Vec<Vec<f64>> = tx.iter().map(|_| ridge.target_mean.clone()).collect();
    let cm = |k: usize| Readout {
        readout: 100.0 * rmse3(&pred, &ty, k),
        mean_guess: 100.0 * rmse3(&guess, &ty, k),
    };
    Ok(ProbeFit {
        hand_cm: cm(0),
        object_cm: cm(1),
        goal_cm: cm(2),
        lambda,
        fit_samples: x.len(),
        test_samples: tx.len(),
        dim: ridge.mean.len(),
    })
}

/// The state target's own head, with nothing fitted: its error on the probe's test half (the
/// second half of the episodes) beside guessing the first half's mean, for each of `TARGETS`
/// whose three entries are among the reconstructed `dims`.
fn head_readout(per_episode: &[Vec<Sample>], dims: &[usize]) -> StateTargetHead {
    let (fit, test) = per_episode.split_at(per_episode.len() / 2);
    let fitted: Vec<&Sample> = fit.iter().flatten().collect();
    let mut out = StateTargetHead::default();
    for (k, (_, from)) in TARGETS.iter().enumerate() {
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
            let Some(got) = cols
                .iter()
                .map(|&c| head.get(c).copied())
                .collect::<Option<Vec<f32>>>()
            else {
                continue;
            };
            for d in 0..3 {
                let truth = s.at[3 * k + d];
                se += (got[d] as f64 - truth).powi(2);
                se_guess += (mean[d] - truth).powi(2);
            }
            n += 1;
        }
        let n = n.max(1) as f64;
        let r = Some(Readout {
            readout: 100.0 * (se / n).sqrt(),
            mean_guess: 100.0 * (se_guess / n).sqrt(),
        });
        match k {
            0 => out.hand_cm = r,
            1 => out.object_cm = r,
            _ => out.goal_cm = r,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report serialises to exactly the line the command has always printed (built with
    /// `serde_json::json!`, whose keys come out sorted; `probe` only when asked for), reads
    /// back, and its full form adds every episode.
    #[test]
    fn the_report_is_the_old_json_line() {
        let fit = |dim: usize| ProbeFit {
            dim,
            fit_samples: 60,
            test_samples: 60,
            lambda: 0.01,
            hand_cm: Readout {
                readout: 1.0,
                mean_guess: 8.0,
            },
            object_cm: Readout {
                readout: 2.0,
                mean_guess: 9.0,
            },
            goal_cm: Readout {
                readout: 3.0,
                mean_guess: 10.0,
            },
        };
        let old_fit = |dim: usize| {
            serde_json::json!({
                "hand_cm": {"readout": 1.0, "mean_guess": 8.0},
                "object_cm": {"readout": 2.0, "mean_guess": 9.0},
                "goal_cm": {"readout": 3.0, "mean_guess": 10.0},
                "lambda": 0.01,
                "fit_samples": 60,
                "test_samples": 60,
                "dim": dim,
            })
        };
        let mut report = AgentReport {
            task: "reach".into(),
            policy: "agent:/tmp/a".into(),
            episodes: 2,
            seed: 2_000_000,
            max_steps: 24,
            success_rate: 0.5,
            success_95: [0.1, 0.9],
            mean_return: 12.5,
            median_steps_to_success: Some(7.0),
            closest_cm: ClosestCm {
                q25: 1.0,
                median: 2.0,
                q75: 3.0,
                within_5: 0.5,
                within_10: 1.0,
            },
            probe: None,
            per_episode: vec![EpisodeOutcome {
                seed: 2_000_000,
                success: true,
                steps_to_success: Some(7),
                episode_return: 12.5,
                closest: 0.01,
                object: None,
                goal: Some(vec![0.0, 0.8, 0.2]),
            }],
        };
        let mut old = serde_json::json!({
            "task": "reach",
            "policy": "agent:/tmp/a",
            "episodes": 2,
            "seed": 2_000_000,
            "max_steps": 24,
            "success_rate": 0.5,
            "success_95": [0.1, 0.9],
            "mean_return": 12.5,
            "median_steps_to_success": Some(7.0),
            "closest_cm": {
                "q25": 1.0,
                "median": 2.0,
                "q75": 3.0,
                "within_5": 0.5,
                "within_10": 1.0,
            },
        });
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(line, old.to_string());
        let back: AgentReport = serde_json::from_str(&line).unwrap();
        assert_eq!(back.per_episode, Vec::new());
        assert_eq!(back.closest_cm, report.closest_cm);

        report.probe = Some(ProbeReport {
            model_state: fit(32),
            embedding: fit(16),
            state_target_head: Some(StateTargetHead {
                goal_cm: Some(Readout {
                    readout: 4.0,
                    mean_guess: 11.0,
                }),
                ..Default::default()
            }),
        });
        report.median_steps_to_success = None;
        old["median_steps_to_success"] = serde_json::Value::Null;
        old["probe"] = serde_json::json!({
            "model_state": old_fit(32),
            "embedding": old_fit(16),
        });
        old["probe"]["state_target_head"] = serde_json::json!({
            "goal_cm": {"readout": 4.0, "mean_guess": 11.0},
        });
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(line, old.to_string());
        let back: AgentReport = serde_json::from_str(&line).unwrap();
        assert_eq!(back.probe, report.probe);

        old["per_episode"] = serde_json::json!([{
            "seed": 2_000_000,
            "success": true,
            "steps_to_success": 7,
            "return": 12.5,
            "closest": 0.01,
            "object": None::<Vec<f64>>,
            "goal": [0.0, 0.8, 0.2],
        }]);
        assert_eq!(
            report.full_json(),
            serde_json::to_string_pretty(&old).unwrap()
        );
    }

    /// Bad settings are errors that name no command-line flag, before any episode runs.
    #[test]
    fn bad_settings_are_refused_before_any_work() {
        let bar = ProgressBar::hidden();
        let stop = AtomicBool::new(false);
        let expert = PolicyChoice::Builtin(genreward_sim::PolicyKind::Expert);
        let cases = [
            (
                EvalAgentConfig {
                    episodes: 0,
                    ..EvalAgentConfig::new(expert.clone())
                },
                "episodes must be at least 1",
            ),
            (
                EvalAgentConfig {
                    max_steps: 0,
                    ..EvalAgentConfig::new(expert.clone())
                },
                "max_steps must be at least 1",
            ),
            (
                EvalAgentConfig {
                    probe: true,
                    ..EvalAgentConfig::new(expert.clone())
                },
                "the probe reads a trained agent's model state",
            ),
            (
                EvalAgentConfig::new(PolicyChoice::Agent("/no/such/agent".into())),
                "no agent at /no/such/agent",
            ),
        ];
        for (cfg, want) in cases {
            let e = eval_agent(&cfg, &bar, &stop).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("--"), "{e}");
        }
    }

    /// The expert solves reach within a short episode: the report counts it, without a probe.
    #[test]
    fn the_expert_solves_reach() {
        let cfg = EvalAgentConfig {
            episodes: 2,
            max_steps: 100,
            ..EvalAgentConfig::new(PolicyChoice::Builtin(genreward_sim::PolicyKind::Expert))
        };
        let r = eval_agent(&cfg, &ProgressBar::hidden(), &AtomicBool::new(false)).unwrap();
        assert_eq!((r.task.as_str(), r.policy.as_str()), ("reach", "expert"));
        assert_eq!((r.episodes, r.success_rate), (2, 1.0), "{r:?}");
        assert_eq!(r.per_episode.len(), 2);
        assert!(r.probe.is_none());
        // A stop set before the start still finishes the episode in hand.
        let r = eval_agent(&cfg, &ProgressBar::hidden(), &AtomicBool::new(true)).unwrap();
        assert_eq!(r.episodes, 1);
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
        let holds = probe(&episodes(true, &mut uniform), |s| &s.state).unwrap();
        assert!(
            holds.goal_cm.readout < 0.2 * holds.goal_cm.mean_guess,
            "{holds:?}"
        );
        assert!(
            holds.hand_cm.readout < 0.2 * holds.hand_cm.mean_guess,
            "{holds:?}"
        );
        let blind = probe(&episodes(false, &mut uniform), |s| &s.state).unwrap();
        assert!(
            blind.goal_cm.readout > 0.9 * blind.goal_cm.mean_guess,
            "{blind:?}"
        );
        assert!(
            blind.hand_cm.readout < 0.2 * blind.hand_cm.mean_guess,
            "{blind:?}"
        );
        assert_eq!(blind.fit_samples, 120);
        assert_eq!((blind.test_samples, blind.dim), (120, 12));
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
        let goal = r.goal_cm.unwrap();
        assert!((goal.readout - 5.0).abs() < 1e-4, "{r:?}");
        let guess = 100.0 * 0.02f64.sqrt();
        assert!((goal.mean_guess - guess).abs() < 1e-4, "{r:?}");
        assert!(r.hand_cm.is_none() && r.object_cm.is_none(), "{r:?}");
        // Only the reconstructed targets are keys of the report.
        let keys = serde_json::to_value(&r).unwrap();
        assert_eq!(keys.as_object().unwrap().len(), 1, "{keys}");
    }
}
