//! The evaluation of r_fb (`genreward eval-fb`): how well it leads toward the goal and tells
//! good behaviour from bad, on seeds the FB model never saw. For every task, `episodes`
//! episodes of each behaviour on seeds `seed`.. (`steps` steps, rendered in one batch per
//! step). Each episode's goal video is the expert's from that episode's own initial scene (the
//! paper generates the goal video from the episode's first frame; the expert stands in for the
//! generator), held to the episode length, its goal frame chosen as `score` does; with
//! `goal_seed: Some(S)` one goal video (seed S) serves every episode instead. r_fb of every
//! step is scored in one batch per episode. Reports per task:
//!
//! * `spearman_to_success`: for expert episodes, Spearman's correlation between r_fb and the
//!   step index over the steps before the first success (does r_fb rise toward success?),
//!   averaged over the episodes that succeed after at least 3 steps;
//! * `auc_expert_vs_random`: of the mean r_fb per episode;
//! * the mean r_fb of each behaviour, and `ms_per_step_fb` (batched scoring, per step).

use crate::error::bail;
use crate::{episode_seeds, mean};
use crate::{EvalError, Result};
use genreward_episodes::{expert_goal, Lockstep, VARIANTS};
use genreward_models::DeviceKind;
use genreward_render::{CameraName, Renderer, Size, ViewSpec};
use genreward_reward::features::StateKind;
use genreward_reward::goal_frame::GoalFramePicker;
use genreward_reward::{default_fb_dir, fb_term, StepTerm};
use genreward_sim::{PolicyKind, TaskKind};
use genreward_stats::{auc, median, spearman};
use indicatif::ProgressBar;
use std::path::PathBuf;

/// What [`eval_fb`] evaluates. [`Default`] gives the command's defaults.
#[derive(Clone, Debug)]
pub struct EvalFbConfig {
    /// FB checkpoint folder (default `None`: the shipped one, [`default_fb_dir`]).
    pub fb: Option<PathBuf>,
    /// The VAE the FB model's goal features come from (default `None`: the shipped one).
    pub vae: Option<PathBuf>,
    /// Episodes per task and behaviour (default 20; at least 1).
    pub episodes: usize,
    /// First agent seed (default 9000; the dataset uses 1000.. and 1500..).
    pub seed: u32,
    /// One goal video for every episode: the expert's on this seed (default `None`: each
    /// episode's own seed, as the paper's goal videos start from the episode's first frame).
    pub goal_seed: Option<u32>,
    /// Episode length (default 256; at least 1).
    pub steps: usize,
    /// The tasks (default: all of them, in [`TaskKind::ALL`] order).
    pub tasks: Vec<TaskKind>,
    /// CLIP weights to pick each goal video's goal frame by the task's sentence (default
    /// `None`: the automatic choice without CLIP).
    pub clip: Option<PathBuf>,
    /// DINO weights of an FB checkpoint trained with `train fb --dino` (default `None`: the
    /// folder it was trained with).
    pub dino: Option<PathBuf>,
    /// Use this sampled goal frame (0-15) instead of the automatic choice (default `None`).
    pub goal_frame: Option<usize>,
    /// Camera of the episodes and the goal videos (default corner2), at the VAE's frame size.
    pub camera: CameraName,
    /// Backend of the models (default cpu).
    pub device: DeviceKind,
}

impl Default for EvalFbConfig {
    fn default() -> Self {
        EvalFbConfig {
            fb: None,
            vae: None,
            episodes: 20,
            seed: 9000,
            goal_seed: None,
            steps: 256,
            tasks: TaskKind::ALL.to_vec(),
            clip: None,
            dino: None,
            goal_frame: None,
            camera: CameraName::Corner2,
            device: DeviceKind::Cpu,
        }
    }
}

/// One task's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FbTaskEval {
    /// Of each episode's mean r_fb, expert against random.
    pub auc_expert_vs_random: f64,
    /// The goal frame chosen for each episode's goal video (one entry with a goal seed).
    pub goal_frames: Vec<usize>,
    /// Mean r_fb over each behaviour's episodes, in [`VARIANTS`] order.
    pub mean: Vec<(String, f64)>,
    /// Episodes left out because the expert found no goal video on their seed.
    pub skipped_episodes: usize,
    /// Expert episodes that count toward the Spearman mean.
    pub spearman_episodes: usize,
    pub spearman_to_success: Option<f64>,
    pub task: String,
}

/// What [`eval_fb`] found; serialises to the command's JSON line (keys in alphabetical order).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FbReport {
    pub episodes: usize,
    /// The FB checkpoint's folder.
    pub fb: String,
    pub goal_seed: Option<u32>,
    /// Mean over the tasks of `auc_expert_vs_random`.
    pub mean_auc: f64,
    /// Mean over the tasks that have one of `spearman_to_success` (0 for none).
    pub mean_spearman_to_success: f64,
    pub min_auc: f64,
    /// Median milliseconds of scoring one step (batched, frames encoded included).
    pub ms_per_step_fb: f64,
    /// The seeds used: `[seed, seed + episodes)`.
    pub seeds: [u32; 2],
    pub steps: usize,
    pub tasks: Vec<FbTaskEval>,
    /// The VAE's folder.
    pub vae: String,
}

impl FbReport {
    /// The human summary: one line per task (AUC, Spearman, each behaviour's mean) and their
    /// mean with the scoring time.
    pub fn table(&self) -> String {
        let mut lines: Vec<String> = self
            .tasks
            .iter()
            .map(|t| {
                let m: Vec<String> = t.mean.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
                format!(
                    "{:<18} AUC {:.3}  rho {}  {}",
                    t.task,
                    t.auc_expert_vs_random,
                    t.spearman_to_success
                        .map_or("-".into(), |r| format!("{r:.3}")),
                    m.join("  ")
                )
            })
            .collect();
        lines.push(format!(
            "{:<18} AUC {:.3}  rho {:.3}  ms/step {:.4}",
            "mean", self.mean_auc, self.mean_spearman_to_success, self.ms_per_step_fb
        ));
        lines.join("\n")
    }
}

/// Runs the evaluation; `bar` counts (task, behaviour) pairs.
pub fn eval_fb(cfg: &EvalFbConfig, bar: &ProgressBar) -> Result<FbReport> {
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
    let fb = cfg.fb.clone().unwrap_or_else(default_fb_dir);
    let side = genreward_reward::load::vae_frame_size(&vae)?;
    let size: Size = format!("{side}x{side}")
        .parse()
        .map_err(EvalError::Invalid)?;
    let view = ViewSpec::new(cfg.camera, size);
    let seeds = episode_seeds(cfg.seed, cfg.episodes);
    let mut renderer = Renderer::new()?;
    bar.set_length((cfg.tasks.len() * VARIANTS.len()) as u64);
    let mut out = Vec::new();
    let mut ms = Vec::new();
    for &task in &cfg.tasks {
        // One picker per task (with CLIP it holds the task's sentence), shared by its episodes.
        let mut picker = GoalFramePicker::new(&vae)?;
        if let Some(dir) = &cfg.clip {
            picker = picker.with_clip(dir, task.goal_text())?;
        }
        let goal_seeds: Vec<u32> = match cfg.goal_seed {
            Some(s) => vec![s],
            None => seeds.clone(),
        };
        let mut goals = Vec::new();
        let mut chosen = Vec::new();
        for &gs in &goal_seeds {
            // The expert fails a few seeds (bin-picking 96 %): those episodes have no goal video
            // and are left out of every figure (counted in `skipped_episodes`).
            let Ok(goal) = expert_goal(task, gs, view, cfg.steps, &mut renderer) else {
                if cfg.goal_seed.is_some() {
                    bail!("the expert did not solve {task} on goal seed {gs}; try another");
                }
                goals.push(None);
                continue;
            };
            let choice = picker.pick(&goal, cfg.goal_frame)?;
            chosen.push(choice.frame);
            goals.push(Some(goal.window[choice.frame].clone()));
        }
        let Some(first) = goals.iter().flatten().next() else {
            bail!("the expert solved no goal seed of {task}");
        };
        let mut term = fb_term(&fb, &vae, cfg.dino.as_deref(), first, cfg.device)?;
        let skipped = goals.iter().filter(|g| g.is_none()).count();
        let mut means = Vec::new();
        let mut per_ep: Vec<Vec<f64>> = Vec::new();
        let mut rhos = Vec::new();
        for (k, (name, kind, noise)) in VARIANTS.into_iter().enumerate() {
            bar.set_message(format!("{task} {name}"));
            let run = Variant {
                task,
                kind,
                noise,
                seeds: &seeds,
                steps: cfg.steps,
                view,
            };
            let eps = run.scores(&mut renderer, term.as_mut(), &goals, &mut ms)?;
            let ep_means: Vec<f64> = eps
                .iter()
                .filter(|(r, _)| !r.is_empty())
                .map(|(r, _)| mean(r))
                .collect();
            if k == 0 {
                for (r, first) in eps.iter().filter(|(r, _)| !r.is_empty()) {
                    rhos.extend(rise_to_success(r, *first));
                }
            }
            means.push((name.to_string(), mean(&ep_means)));
            per_ep.push(ep_means);
            bar.inc(1);
        }
        out.push(FbTaskEval {
            task: task.name().into(),
            goal_frames: chosen,
            skipped_episodes: skipped,
            auc_expert_vs_random: auc(&per_ep[0], &per_ep[VARIANTS.len() - 1]),
            spearman_to_success: (!rhos.is_empty()).then(|| mean(&rhos)),
            spearman_episodes: rhos.len(),
            mean: means,
        });
    }
    bar.finish_and_clear();
    let aucs: Vec<f64> = out.iter().map(|t| t.auc_expert_vs_random).collect();
    let rhos: Vec<f64> = out.iter().filter_map(|t| t.spearman_to_success).collect();
    let mean0 = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(FbReport {
        fb: fb.display().to_string(),
        vae: vae.display().to_string(),
        episodes: cfg.episodes,
        seeds: [cfg.seed, cfg.seed.wrapping_add(cfg.episodes as u32)],
        goal_seed: cfg.goal_seed,
        steps: cfg.steps,
        mean_auc: mean0(&aucs),
        min_auc: aucs.iter().cloned().fold(f64::INFINITY, f64::min),
        mean_spearman_to_success: mean0(&rhos),
        ms_per_step_fb: median(&ms),
        tasks: out,
    })
}

/// Spearman's correlation of an episode's per-step r_fb with the step index over the steps
/// before its first success (`first`); `None` when it never succeeded, succeeded before step 3,
/// or r_fb was constant there.
pub(crate) fn rise_to_success(r: &[f64], first: Option<usize>) -> Option<f64> {
    let f = first.filter(|&f| f >= 3 && f <= r.len())?;
    let steps: Vec<f64> = (0..f).map(|t| t as f64).collect();
    spearman(&r[..f], &steps)
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
    /// Per episode the r_fb of every step (toward `goals[k]`, or `goals[0]` for all; no values
    /// where that goal is missing) and the first success step; the milliseconds per step
    /// scored go to `ms`.
    fn scores(
        &self,
        renderer: &mut Renderer,
        term: &mut dyn StepTerm,
        goals: &[Option<Vec<u8>>],
        ms: &mut Vec<f64>,
    ) -> Result<Vec<(Vec<f64>, Option<usize>)>> {
        let view = self.view;
        let mut episodes = Lockstep::new(self.task, self.kind, self.noise, self.seeds, self.steps);
        let n = self.seeds.len();
        let mut states = vec![Vec::new(); n];
        let mut actions = vec![Vec::new(); n];
        let mut first = vec![None; n];
        // An FB model reading frames gets each episode's frames encoded in one batch at the end.
        let frame_state = term.state_kind() == StateKind::Frame;
        let mut frames: Vec<Vec<Vec<u8>>> = vec![Vec::new(); n];
        for t in 0..self.steps {
            for (k, s) in episodes
                .render_and_step(renderer, view)?
                .into_iter()
                .enumerate()
            {
                if frame_state {
                    frames[k].push(s.frame.rgb);
                } else {
                    states[k].extend(s.state.iter().map(|&v| v as f32));
                }
                actions[k].extend(s.action.iter().map(|&v| v as f32));
                if s.success && first[k].is_none() {
                    first[k] = Some(t);
                }
            }
        }
        let mut out = Vec::with_capacity(n);
        for k in 0..n {
            let Some(goal) = goals
                .get(k.min(goals.len().saturating_sub(1)))
                .and_then(Option::as_ref)
            else {
                out.push((Vec::new(), None));
                continue;
            };
            if goals.len() > 1 || k == 0 {
                term.set_goal(goal)?;
            }
            // Per step: encoding the frames too when F reads them.
            let t0 = std::time::Instant::now();
            if frame_state {
                let refs: Vec<&[u8]> = frames[k].iter().map(Vec::as_slice).collect();
                states[k] = term.frame_states(&refs, view.width, view.height)?;
            }
            let encode_ms = t0.elapsed().as_secs_f64() * 1e3;
            let r = term.score(&states[k], &actions[k])?;
            ms.push((encode_ms + term.last_ms()) / r.len().max(1) as f64);
            out.push((r, first[k]));
        }
        Ok(out)
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
        let mean = vec![("expert".to_string(), 0.5), ("random".to_string(), -0.25)];
        let task = |spearman: Option<f64>| FbTaskEval {
            task: "reach".into(),
            goal_frames: vec![15, 14],
            mean: mean.clone(),
            auc_expert_vs_random: 1.0,
            spearman_to_success: spearman,
            spearman_episodes: spearman.map_or(0, |_| 2),
            skipped_episodes: 1,
        };
        let report = FbReport {
            fb: "assets/models/fb".into(),
            vae: "assets/models/vae".into(),
            episodes: 2,
            seeds: [9000, 9002],
            goal_seed: None,
            steps: 12,
            mean_auc: 1.0,
            min_auc: 1.0,
            mean_spearman_to_success: 0.5,
            ms_per_step_fb: 0.125,
            tasks: vec![task(Some(0.5)), task(None)],
        };
        let old_task = |spearman: Option<f64>| {
            serde_json::json!({
                "task": "reach",
                "goal_frames": [15, 14],
                "mean": [["expert", 0.5], ["random", -0.25]],
                "auc_expert_vs_random": 1.0,
                "spearman_to_success": spearman,
                "spearman_episodes": spearman.map_or(0, |_| 2),
                "skipped_episodes": 1,
            })
        };
        let old = serde_json::json!({
            "fb": "assets/models/fb",
            "vae": "assets/models/vae",
            "episodes": 2,
            "seeds": [9000, 9002],
            "goal_seed": None::<u32>,
            "steps": 12,
            "mean_auc": 1.0,
            "min_auc": 1.0,
            "mean_spearman_to_success": 0.5,
            "ms_per_step_fb": 0.125,
            "tasks": [old_task(Some(0.5)), old_task(None)],
        });
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(line, old.to_string());
        assert_eq!(serde_json::from_str::<FbReport>(&line).unwrap(), report);
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "reach              AUC 1.000  rho 0.500  expert 0.500  random -0.250",
                "reach              AUC 1.000  rho -  expert 0.500  random -0.250",
                "mean               AUC 1.000  rho 0.500  ms/step 0.1250",
            ]
        );
    }

    /// Bad settings are errors that name no command-line flag.
    #[test]
    fn bad_settings_are_refused_before_any_work() {
        let bar = ProgressBar::hidden();
        let cfg = EvalFbConfig {
            episodes: 0,
            ..Default::default()
        };
        let e = eval_fb(&cfg, &bar).unwrap_err().to_string();
        assert_eq!(e, "episodes and steps must be at least 1");
    }
}
