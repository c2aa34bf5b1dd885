//! The evaluation of r_video (`genreward eval-reward`): how well it tells good behaviour from
//! bad, on seeds the VAE never saw. For every task: one goal video from the expert on
//! `goal_seed`; `episodes` episodes of each behaviour (expert, expert + noise 0.1 / 0.3 / 0.6,
//! random) on seeds `seed`, `seed`+1, ...; each `steps` steps, rendered in one batch per step;
//! the final r_video (the last step, all frames so far sampled to 16) of each. Reports, per
//! task, the mean final r_video of each behaviour and the AUC of expert against random (the
//! probability that a random expert episode outscores a random random-action episode, ties
//! counting half).

use crate::error::bail;
use crate::{episode_seeds, mean};
use crate::{EvalError, Result};
use genreward_episodes::{expert_goal, Lockstep, VARIANTS};
use genreward_models::DeviceKind;
use genreward_render::{CameraName, Renderer, Size, ViewSpec};
use genreward_reward::{video_term, FrameTerm};
use genreward_sim::{PolicyKind, TaskKind};
use genreward_stats::{auc, median};
use indicatif::ProgressBar;
use std::path::PathBuf;

/// What [`eval_reward`] evaluates. [`Default`] gives the command's defaults.
#[derive(Clone, Debug)]
pub struct EvalRewardConfig {
    /// VAE checkpoint folder (default `None`: the shipped one, [`genreward_reward::default_vae_dir`]).
    pub vae: Option<PathBuf>,
    /// Episodes per task and behaviour (default 20; at least 1).
    pub episodes: usize,
    /// First agent seed (default 9000; the dataset uses 1000.. and 1500..).
    pub seed: u32,
    /// Seed of the expert's goal video (default 8000).
    pub goal_seed: u32,
    /// Episode length; r_video is read at its last step (default 256; at least 1).
    pub steps: usize,
    /// The tasks (default: all of them, in [`TaskKind::ALL`] order).
    pub tasks: Vec<TaskKind>,
    /// Frames of each goal video (the expert's final state held until then); `Some(0)`: the
    /// short hold of `genreward goal`; default `None`: as long as the episodes, so the 16
    /// sampled frames of goal and agent line up in time.
    pub goal_length: Option<usize>,
    /// Camera of the episodes and the goal videos (default corner2), at the VAE's frame size.
    pub camera: CameraName,
    /// Backend of the VAE (default cpu).
    pub device: DeviceKind,
}

impl Default for EvalRewardConfig {
    fn default() -> Self {
        EvalRewardConfig {
            vae: None,
            episodes: 20,
            seed: 9000,
            goal_seed: 8000,
            steps: 256,
            tasks: TaskKind::ALL.to_vec(),
            goal_length: None,
            camera: CameraName::Corner2,
            device: DeviceKind::Cpu,
        }
    }
}

/// One task's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RewardTaskEval {
    pub auc_expert_vs_random: f64,
    /// Mean final r_video per behaviour, in [`VARIANTS`] order.
    pub mean: Vec<(String, f64)>,
    /// The noisy experts' mean lies between the random and the expert means.
    pub noisy_between: bool,
    pub task: String,
}

/// What [`eval_reward`] found; serialises to the command's JSON line (keys in alphabetical
/// order).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RewardReport {
    pub episodes: usize,
    /// The goal videos' length in frames.
    pub goal_length: usize,
    pub goal_seed: u32,
    /// Mean over the tasks of `auc_expert_vs_random`.
    pub mean_auc: f64,
    /// Each behaviour's mean final r_video, averaged over the tasks, in [`VARIANTS`] order.
    pub mean_over_tasks: Vec<(String, f64)>,
    pub min_auc: f64,
    /// Median milliseconds of one r_video window (encoding 16 frames and comparing).
    pub ms_per_window: f64,
    /// Every noisy expert's task-averaged mean lies between the random and the expert ones.
    pub noisy_between_on_average: bool,
    /// The seeds used: `[seed, seed + episodes)`.
    pub seeds: [u32; 2],
    pub steps: usize,
    pub tasks: Vec<RewardTaskEval>,
    /// The VAE's folder.
    pub vae: String,
}

impl RewardReport {
    /// The human summary: one line per task (AUC and each behaviour's mean) and their mean.
    pub fn table(&self) -> String {
        let line = |name: &str, auc: f64, mean: &[(String, f64)]| {
            let m: Vec<String> = mean.iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
            format!("{name:<18} AUC {auc:.3}  {}", m.join("  "))
        };
        let mut lines: Vec<String> = self
            .tasks
            .iter()
            .map(|t| line(&t.task, t.auc_expert_vs_random, &t.mean))
            .collect();
        lines.push(line("mean", self.mean_auc, &self.mean_over_tasks));
        lines.join("\n")
    }
}

/// Runs the evaluation; `bar` counts (task, behaviour) pairs.
pub fn eval_reward(cfg: &EvalRewardConfig, bar: &ProgressBar) -> Result<RewardReport> {
    if cfg.episodes == 0 || cfg.steps == 0 {
        bail!("episodes and steps must be at least 1");
    }
    if cfg.tasks.is_empty() {
        bail!("no tasks to evaluate");
    }
    let vae = cfg
        .vae
        .clone()
        .unwrap_or_else(genreward_reward::default_vae_dir);
    let side = genreward_reward::load::vae_frame_size(&vae)?;
    let size: Size = format!("{side}x{side}")
        .parse()
        .map_err(EvalError::Invalid)?;
    let view = ViewSpec::new(cfg.camera, size);
    let goal_length = cfg.goal_length.unwrap_or(cfg.steps);
    let seeds = episode_seeds(cfg.seed, cfg.episodes);
    let mut renderer = Renderer::new()?;
    bar.set_length((cfg.tasks.len() * VARIANTS.len()) as u64);
    let mut out = Vec::new();
    let mut ms = Vec::new();
    for &task in &cfg.tasks {
        let goal = expert_goal(task, cfg.goal_seed, view, goal_length, &mut renderer)?;
        let mut term = video_term(&vae, &goal, cfg.steps, cfg.device)?;
        let mut means = Vec::new();
        let mut finals: Vec<Vec<f64>> = Vec::new();
        for (name, kind, noise) in VARIANTS {
            bar.set_message(format!("{task} {name}"));
            let run = Variant {
                task,
                kind,
                noise,
                seeds: &seeds,
                steps: cfg.steps,
                view,
            };
            let scores = run.final_scores(&mut renderer, term.as_mut(), &mut ms)?;
            means.push((name.to_string(), mean(&scores)));
            finals.push(scores);
            bar.inc(1);
        }
        let (e, r) = (means[0].1, means[VARIANTS.len() - 1].1);
        let noisy: Vec<f64> = means[1..VARIANTS.len() - 1].iter().map(|m| m.1).collect();
        let noisy_mean = mean(&noisy);
        out.push(RewardTaskEval {
            task: task.name().into(),
            auc_expert_vs_random: auc(&finals[0], &finals[VARIANTS.len() - 1]),
            noisy_between: noisy_mean <= e && noisy_mean >= r,
            mean: means,
        });
    }
    bar.finish_and_clear();
    let aucs: Vec<f64> = out.iter().map(|t| t.auc_expert_vs_random).collect();
    // Each behaviour's mean final r_video, averaged over the tasks.
    let mean_over_tasks: Vec<(String, f64)> = VARIANTS
        .iter()
        .enumerate()
        .map(|(k, (name, _, _))| {
            let per_task: Vec<f64> = out.iter().map(|t| t.mean[k].1).collect();
            (name.to_string(), mean(&per_task))
        })
        .collect();
    let (e, r) = (mean_over_tasks[0].1, mean_over_tasks[VARIANTS.len() - 1].1);
    let noisy_between_on_average = mean_over_tasks[1..VARIANTS.len() - 1]
        .iter()
        .all(|(_, m)| *m <= e && *m >= r);
    Ok(RewardReport {
        vae: vae.display().to_string(),
        episodes: cfg.episodes,
        seeds: [cfg.seed, cfg.seed.wrapping_add(cfg.episodes as u32)],
        goal_seed: cfg.goal_seed,
        goal_length,
        steps: cfg.steps,
        mean_auc: mean(&aucs),
        min_auc: aucs.iter().cloned().fold(f64::INFINITY, f64::min),
        ms_per_window: median(&ms),
        mean_over_tasks,
        noisy_between_on_average,
        tasks: out,
    })
}

/// One behaviour's episodes of one task.
struct Variant<'a> {
    task: TaskKind,
    kind: PolicyKind,
    noise: f64,
    seeds: &'a [u32],
    steps: usize,
    view: ViewSpec,
}

impl Variant<'_> {
    /// The final r_video of each episode, stepped in lockstep; the milliseconds of each
    /// window scored go to `ms`.
    fn final_scores(
        &self,
        renderer: &mut Renderer,
        term: &mut dyn FrameTerm,
        ms: &mut Vec<f64>,
    ) -> Result<Vec<f64>> {
        let (view, steps) = (self.view, self.steps);
        let mut episodes = Lockstep::new(self.task, self.kind, self.noise, self.seeds, steps);
        let mut frames: Vec<Vec<Vec<u8>>> = vec![Vec::with_capacity(steps); self.seeds.len()];
        for _ in 0..steps {
            for (f, shot) in frames
                .iter_mut()
                .zip(episodes.render_and_step(renderer, view)?)
            {
                f.push(shot.frame.rgb);
            }
        }
        let mut finals = Vec::with_capacity(self.seeds.len());
        for ep in frames {
            term.reset();
            let mut last = None;
            for f in &ep {
                if let Some(v) = term.push(f, view.width, view.height)? {
                    last = Some(v);
                    ms.push(term.last_ms());
                }
            }
            let Some(last) = last else {
                bail!("r_video was not paid at the episode's last step");
            };
            finals.push(last);
        }
        Ok(finals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report serialises to exactly the line the command has always printed (built with
    /// `serde_json::json!`, whose keys come out sorted), reads back, and tabulates each task
    /// and the mean.
    #[test]
    fn the_report_is_the_old_json_line_and_a_table() {
        let mean = vec![("expert".to_string(), 0.9), ("random".to_string(), 0.25)];
        let report = RewardReport {
            vae: "assets/models/vae".into(),
            episodes: 3,
            seeds: [9000, 9003],
            goal_seed: 8000,
            goal_length: 256,
            steps: 256,
            mean_auc: 0.875,
            min_auc: 0.75,
            ms_per_window: 1.5,
            mean_over_tasks: mean.clone(),
            noisy_between_on_average: true,
            tasks: vec![RewardTaskEval {
                task: "reach".into(),
                mean: mean.clone(),
                auc_expert_vs_random: 0.75,
                noisy_between: false,
            }],
        };
        let old = serde_json::json!({
            "vae": "assets/models/vae",
            "episodes": 3,
            "seeds": [9000, 9003],
            "goal_seed": 8000,
            "goal_length": 256,
            "steps": 256,
            "mean_auc": 0.875,
            "min_auc": 0.75,
            "ms_per_window": 1.5,
            "mean_over_tasks": mean,
            "noisy_between_on_average": true,
            "tasks": [{
                "task": "reach",
                "mean": [["expert", 0.9], ["random", 0.25]],
                "auc_expert_vs_random": 0.75,
                "noisy_between": false,
            }],
        });
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(line, old.to_string());
        assert_eq!(serde_json::from_str::<RewardReport>(&line).unwrap(), report);
        let table = report.table();
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(
            table.starts_with("reach              AUC 0.750  expert 0.9000  random 0.2500"),
            "{table}"
        );
        assert!(table.ends_with("mean               AUC 0.875  expert 0.9000  random 0.2500"));
    }

    /// Bad settings are errors that name no command-line flag.
    #[test]
    fn bad_settings_are_refused_before_any_work() {
        let bar = ProgressBar::hidden();
        for cfg in [
            EvalRewardConfig {
                episodes: 0,
                ..Default::default()
            },
            EvalRewardConfig {
                steps: 0,
                ..Default::default()
            },
        ] {
            let e = eval_reward(&cfg, &bar).unwrap_err().to_string();
            assert_eq!(e, "episodes and steps must be at least 1");
        }
        let cfg = EvalRewardConfig {
            tasks: Vec::new(),
            ..Default::default()
        };
        assert!(eval_reward(&cfg, &bar).is_err());
    }
}
