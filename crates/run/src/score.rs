//! A recorded run rescored against a goal video: r_env (as recorded, dense or every K steps),
//! r_video on its observation frames, r_fb on its states and actions, and the mix, per step
//! and per episode ([`score_run`]); or each episode against its own goal, generated from its
//! first frame ([`score_run_generated`]).

use crate::goal::{EpisodeGoals, Loaded};
use crate::{GoalInfo, RunDir, RunError};
use genreward_reward::features::StateKind;
use genreward_reward::{fb_inputs, mix, paid_env, GoalVideo, MixWeights, RewardSettings};
use genreward_sim::TaskKind;
use genreward_stats::median;

/// One step's terms and reward.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScoreLine {
    pub episode: usize,
    pub step: usize,
    pub r_env: f64,
    pub r_video: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r_fb: Option<f64>,
    pub reward: f64,
}

/// One episode's scores.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EpisodeScore {
    pub episode: usize,
    pub seed: u32,
    pub steps: usize,
    pub success: bool,
    /// r_video at each step where it was paid, in order.
    pub r_video: Vec<f64>,
    /// The last one paid (null when the episode is shorter than the interval).
    pub final_r_video: Option<f64>,
    /// Mean r_fb over the episode's steps (null without r_fb).
    pub mean_r_fb: Option<f64>,
    /// Sum of each term over the episode, as weighted in the reward.
    pub return_env: f64,
    pub return_video: f64,
    pub return_fb: f64,
    pub episode_return: f64,
    /// The episode's own goal, when each episode had one (generated from its first frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<EpisodeGoal>,
}

/// What an episode's own goal was.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EpisodeGoal {
    /// The goal frame r_fb aimed at (0-15 of the goal's sampled frames).
    pub goal_frame: usize,
    /// The sample picked among the generator's (`None` for their mean).
    pub picked: Option<usize>,
}

/// The whole run's scores.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScoreReport {
    pub run: String,
    pub goal: GoalInfo,
    pub weights: MixWeights,
    pub episodes: Vec<EpisodeScore>,
    /// Median time to encode one 16-frame window and take the cosine (no file I/O).
    pub ms_per_window: f64,
    pub windows: usize,
    /// Median time per step of r_fb, scoring each episode in one batch (null without r_fb).
    pub ms_per_step_fb: Option<f64>,
}

/// Scores every finished episode of `run` with `loaded` terms; `sparse_every` (`None`: as the
/// run was recorded) decides how r_env is paid. Returns the per-step lines and the report.
pub fn score_run(
    run: &RunDir,
    loaded: Loaded,
    sparse_every: Option<usize>,
) -> Result<(Vec<ScoreLine>, ScoreReport), RunError> {
    check_observations(run)?;
    score_episodes(run, loaded, sparse_every, None)
}

/// Scores every finished episode of `run` against its own goal, generated from the episode's
/// first observation frame as the paper does (all in one batch, one goal per distinct seed, so
/// episodes of one scene share it); `settings` are the reward's, as for [`score_run`]. Returns
/// the lines, the report (each episode's goal frame and picked sample in it) and each
/// episode's goal video, in episode order.
pub fn score_run_generated(
    run: &RunDir,
    goals: &EpisodeGoals,
    settings: &RewardSettings,
    sparse_every: Option<usize>,
) -> Result<(Vec<ScoreLine>, ScoreReport, Vec<GoalVideo>), RunError> {
    check_observations(run)?;
    let task: TaskKind = run
        .manifest
        .task
        .parse()
        .map_err(|e: genreward_sim::UnknownTask| RunError::Invalid(e.to_string()))?;
    let episodes = &run.manifest.episodes;
    if episodes.is_empty() {
        return Err(RunError::Invalid(format!(
            "run '{}' has no finished episode to score",
            run.path.display()
        )));
    }
    let (mut seeds, mut firsts, mut size) = (Vec::new(), Vec::new(), (0, 0));
    for ep in episodes {
        if !seeds.contains(&ep.seed) {
            let v = run.episode_frames(ep.episode)?;
            let Some(first) = v.frames.into_iter().next() else {
                return Err(RunError::Invalid(format!(
                    "episode {} has no observation frame",
                    ep.episode
                )));
            };
            seeds.push(ep.seed);
            firsts.push(first);
            size = (v.width, v.height);
        }
    }
    let refs: Vec<&[u8]> = firsts.iter().map(Vec::as_slice).collect();
    let length = run.manifest.config.max_steps;
    let made = goals
        .generator
        .goal_videos(&refs, size, task, &goals.settings, length)?;
    let per_episode: Vec<(GoalVideo, Option<usize>)> = episodes
        .iter()
        .map(|ep| {
            let k = seeds
                .iter()
                .position(|&s| s == ep.seed)
                .expect("every seed");
            (made[k].0.clone(), made[k].1.picked)
        })
        .collect();
    let mut loaded = Loaded::from_video(per_episode[0].0.clone(), "generated", settings, task)?;
    loaded.info.generated = Some(goals.info(length));
    let (lines, report) = score_episodes(run, loaded, sparse_every, Some(&per_episode))?;
    Ok((
        lines,
        report,
        per_episode.into_iter().map(|g| g.0).collect(),
    ))
}

fn check_observations(run: &RunDir) -> Result<(), RunError> {
    if run.manifest.observations.is_none() {
        return Err(RunError::NotARun {
            path: run.path.clone(),
            reason: "it has no camera observations (record it with rollout --camera)".into(),
        });
    }
    Ok(())
}

/// Scores the episodes, re-aiming the terms at `goals[k]` (a goal video and its picked sample)
/// before episode `k` when given.
fn score_episodes(
    run: &RunDir,
    loaded: Loaded,
    sparse_every: Option<usize>,
    goals: Option<&[(GoalVideo, Option<usize>)]>,
) -> Result<(Vec<ScoreLine>, ScoreReport), RunError> {
    let k = sparse_every.or(run.manifest.config.sparse_every);
    let steps = run.steps()?;
    let Loaded { mut terms, info } = loaded;
    let weights = MixWeights {
        alpha: info.alpha,
        beta: info.beta,
        sparse_every: k.filter(|k| *k > 1),
    };
    let mut lines = Vec::with_capacity(steps.len());
    let mut summaries = Vec::new();
    let mut ms = Vec::new();
    let mut fb_ms = Vec::new();
    for (e, ep) in run.manifest.episodes.iter().enumerate() {
        let own_goal = match goals {
            Some(g) => {
                terms.retarget(g[e].0.clone())?;
                Some(EpisodeGoal {
                    goal_frame: terms.goal_frame.frame,
                    picked: g[e].1,
                })
            }
            None => None,
        };
        let recs: Vec<_> = steps.iter().filter(|r| r.episode == ep.episode).collect();
        let frames = run.episode_frames(ep.episode)?;
        if frames.len() < recs.len() {
            return Err(RunError::Invalid(format!(
                "episode {} has {} steps but {} observation frames",
                ep.episode,
                recs.len(),
                frames.len()
            )));
        }
        terms.video.reset();
        let mut paid = Vec::new();
        let mut r_video = Vec::with_capacity(recs.len());
        for f in frames.frames.iter().take(recs.len()) {
            let value = terms.video.push(f, frames.width, frames.height)?;
            if let Some(v) = value {
                paid.push(v);
                ms.push(terms.video.last_ms());
            }
            r_video.push(value.unwrap_or(0.0));
        }
        let r_fb = match &mut terms.fb {
            Some(fb) => {
                let t0 = std::time::Instant::now();
                let mut states = Vec::with_capacity(recs.len() * 39);
                let mut actions = Vec::with_capacity(recs.len() * 4);
                for rec in &recs {
                    let (s, act) = fb_inputs(&rec.obs, &rec.action);
                    states.extend(s);
                    actions.extend(act);
                }
                if fb.state_kind() == StateKind::Frame {
                    let refs: Vec<&[u8]> = frames
                        .frames
                        .iter()
                        .take(recs.len())
                        .map(Vec::as_slice)
                        .collect();
                    states = fb.frame_states(&refs, frames.width, frames.height)?;
                }
                let r = fb
                    .score(&states, &actions)
                    .map_err(|e| RunError::Invalid(format!("episode {}: {e}", ep.episode)))?;
                if !r.is_empty() {
                    // Per step, with the frames' encoding when F reads frames.
                    fb_ms.push(t0.elapsed().as_secs_f64() * 1e3 / r.len() as f64);
                }
                Some(r)
            }
            None => None,
        };
        let dense: Vec<f64> = recs.iter().map(|r| r.dense_reward).collect();
        let zeros = vec![0.0; recs.len()];
        let fb_vals = r_fb.as_deref().unwrap_or(&zeros);
        let total = mix(&dense, &r_video, fb_vals, &weights)?;
        let env = paid_env(&dense, weights.sparse_every);
        for (i, rec) in recs.iter().enumerate() {
            lines.push(ScoreLine {
                episode: rec.episode,
                step: rec.step,
                r_env: env[i],
                r_video: r_video[i],
                r_fb: r_fb.as_ref().map(|r| r[i]),
                reward: total[i],
            });
        }
        let n = recs.len().max(1) as f64;
        summaries.push(EpisodeScore {
            episode: ep.episode,
            seed: ep.seed,
            steps: recs.len(),
            success: ep.success,
            final_r_video: paid.last().copied(),
            r_video: paid,
            mean_r_fb: r_fb.as_ref().map(|r| r.iter().sum::<f64>() / n),
            return_env: env.iter().sum(),
            return_video: weights.alpha * r_video.iter().sum::<f64>(),
            return_fb: weights.beta * fb_vals.iter().sum::<f64>(),
            episode_return: total.iter().sum(),
            goal: own_goal,
        });
    }
    let report = ScoreReport {
        run: run.path.display().to_string(),
        goal: info,
        weights,
        episodes: summaries,
        ms_per_window: median(&ms),
        windows: ms.len(),
        ms_per_step_fb: (!fb_ms.is_empty()).then(|| median(&fb_ms)),
    };
    Ok((lines, report))
}
