//! `genreward eval-fb`: how well r_fb leads toward the goal and tells good behaviour from bad,
//! on seeds the FB model never saw. For every task, `--episodes` episodes of each behaviour on
//! seeds `--seed`.. (256 steps, rendered in one batch per step). Each episode's goal video is the
//! expert's from that episode's own initial scene (the paper generates the goal video from the
//! episode's first frame; the expert stands in for the generator), held to the episode length,
//! its goal frame chosen as `score` does; with `--goal-seed S` one goal video (seed S) serves
//! every episode instead. r_fb of every step is scored in one batch per episode. Reports per
//! task:
//!
//! * `spearman_to_success`: for expert episodes, Spearman's correlation between r_fb and the
//!   step index over the steps before the first success (does r_fb rise toward success?),
//!   averaged over the episodes that succeed after at least 3 steps;
//! * `auc_expert_vs_random`: of the mean r_fb per episode;
//! * the mean r_fb of each behaviour, and `ms_per_step_fb` (batched scoring, per step).

use crate::dataset::{parse_tasks, Lockstep, VARIANTS};
use crate::goal::{eval_bar, expert_goal};
use crate::score::{median, parse_device, vae_dir};
use crate::stats::{auc, spearman};
use anyhow::{bail, Result};
use genreward_render::{Renderer, ViewSpec};
use genreward_reward::goal_frame::GoalFramePicker;
use genreward_reward::{default_fb_dir, fb_term};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalFbArgs {
    /// FB checkpoint folder (default: the shipped assets/models/fb).
    #[arg(long)]
    fb: Option<PathBuf>,
    /// The VAE the FB model's goal features come from (default: the shipped one).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Episodes per task and behaviour.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    episodes: usize,
    /// First agent seed (the dataset uses 1000.. and 1500..; keep clear of them).
    #[arg(long, default_value_t = 9000, allow_negative_numbers = true)]
    seed: u32,
    /// One goal video for every episode: the expert's on this seed (default: each episode's
    /// own seed, as the paper's goal videos start from the episode's first frame).
    #[arg(long)]
    goal_seed: Option<u32>,
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    steps: usize,
    /// Comma-separated tasks, or all.
    #[arg(long, default_value = "all")]
    tasks: String,
    /// CLIP weights to pick each goal video's goal frame by the task's sentence.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// DINO weights of an FB checkpoint trained with `train fb --dino` (default: the folder it
    /// was trained with).
    #[arg(long)]
    dino: Option<PathBuf>,
    /// Use this sampled goal frame (0-15) instead of the automatic choice.
    #[arg(long)]
    goal_frame: Option<usize>,
    #[arg(long, default_value = "corner2")]
    camera: String,
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(serde::Serialize)]
struct TaskEval {
    task: String,
    /// The goal frame chosen for each episode's goal video (one entry with --goal-seed).
    goal_frames: Vec<usize>,
    /// Mean r_fb over each behaviour's episodes, in VARIANTS order.
    mean: Vec<(String, f64)>,
    auc_expert_vs_random: f64,
    spearman_to_success: Option<f64>,
    /// Expert episodes that count toward the Spearman mean.
    spearman_episodes: usize,
    /// Episodes left out because the expert found no goal video on their seed.
    skipped_episodes: usize,
}

/// One behaviour's episodes: per episode the r_fb of every step (toward `goals[k]`, or
/// `goals[0]` for all; no values where that goal is missing) and the first success step.
#[allow(clippy::too_many_arguments)]
fn run_variant(
    task: genreward_sim::TaskKind,
    (kind, noise): (genreward_sim::PolicyKind, f64),
    a: &EvalFbArgs,
    view: ViewSpec,
    renderer: &mut Renderer,
    term: &mut dyn genreward_reward::StepTerm,
    goals: &[Option<Vec<u8>>],
    ms: &mut Vec<f64>,
) -> Result<Vec<(Vec<f64>, Option<usize>)>> {
    let seeds: Vec<u32> = (0..a.episodes).map(|k| a.seed + k as u32).collect();
    let mut episodes = Lockstep::new(task, kind, noise, &seeds, a.steps);
    let n = seeds.len();
    let mut states = vec![Vec::new(); n];
    let mut actions = vec![Vec::new(); n];
    let mut first = vec![None; n];
    // An FB model reading frames gets each episode's frames encoded in one batch at the end.
    let frame_state = term.state_kind() == genreward_reward::features::StateKind::Frame;
    let mut frames: Vec<Vec<Vec<u8>>> = vec![Vec::new(); n];
    for t in 0..a.steps {
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
        let Some(goal) = &goals[k.min(goals.len() - 1)] else {
            out.push((Vec::new(), None));
            continue;
        };
        if goals.len() > 1 || k == 0 {
            term.set_goal(goal);
        }
        // Per step: encoding the frames too when F reads them.
        let t0 = std::time::Instant::now();
        if frame_state {
            let refs: Vec<&[u8]> = frames[k].iter().map(Vec::as_slice).collect();
            states[k] = term.frame_states(&refs, view.width, view.height);
        }
        let encode_ms = t0.elapsed().as_secs_f64() * 1e3;
        let r = term.score(&states[k], &actions[k])?;
        ms.push((encode_ms + term.last_ms()) / r.len().max(1) as f64);
        out.push((r, first[k]));
    }
    Ok(out)
}

pub fn eval_fb(a: EvalFbArgs) -> Result<()> {
    let device = parse_device(&a.device)?;
    let tasks = parse_tasks(&a.tasks)?;
    if a.episodes == 0 || a.steps == 0 {
        bail!("--episodes and --steps must be at least 1");
    }
    let vae = vae_dir(&a.vae);
    let fb = a.fb.clone().unwrap_or_else(default_fb_dir);
    let size = genreward_reward::load::vae_frame_size(&vae)?;
    let view = ViewSpec::parse(&a.camera, &format!("{size}x{size}")).map_err(anyhow::Error::msg)?;
    let mut renderer = Renderer::new()?;
    let bar = eval_bar(tasks.len() * VARIANTS.len());
    let mut out = Vec::new();
    let mut ms = Vec::new();
    for &task in &tasks {
        // One picker per task (with CLIP it holds the task's sentence), shared by its episodes.
        let mut picker = GoalFramePicker::new(&vae)?;
        if let Some(dir) = &a.clip {
            picker = picker.with_clip(dir, task.goal_text())?;
        }
        let goal_seeds: Vec<u32> = match a.goal_seed {
            Some(s) => vec![s],
            None => (0..a.episodes).map(|k| a.seed + k as u32).collect(),
        };
        let mut goals = Vec::new();
        let mut chosen = Vec::new();
        for &gs in &goal_seeds {
            // The expert fails a few seeds (bin-picking 96 %): those episodes have no goal video
            // and are left out of every figure (counted in `skipped_episodes`).
            let Ok(goal) = expert_goal(task, gs, view, a.steps, &mut renderer) else {
                if a.goal_seed.is_some() {
                    bail!("the expert did not solve {task} on --goal-seed {gs}; try another");
                }
                goals.push(None);
                continue;
            };
            let choice = picker.pick(&goal, a.goal_frame)?;
            chosen.push(choice.frame);
            goals.push(Some(goal.window[choice.frame].clone()));
        }
        let Some(first) = goals.iter().flatten().next() else {
            bail!("the expert solved no goal seed of {task}");
        };
        let mut term = fb_term(&fb, &vae, a.dino.as_deref(), first, device)?;
        let skipped = goals.iter().filter(|g| g.is_none()).count();
        let mut means = Vec::new();
        let mut per_ep: Vec<Vec<f64>> = Vec::new();
        let mut rhos = Vec::new();
        for (k, (name, kind, noise)) in VARIANTS.into_iter().enumerate() {
            bar.set_message(format!("{task} {name}"));
            let eps = run_variant(
                task,
                (kind, noise),
                &a,
                view,
                &mut renderer,
                term.as_mut(),
                &goals,
                &mut ms,
            )?;
            let ep_means: Vec<f64> = eps
                .iter()
                .filter(|(r, _)| !r.is_empty())
                .map(|(r, _)| r.iter().sum::<f64>() / r.len() as f64)
                .collect();
            if k == 0 {
                for (r, first) in eps.iter().filter(|(r, _)| !r.is_empty()) {
                    if let Some(f) = first.filter(|&f| f >= 3) {
                        let steps: Vec<f64> = (0..f).map(|t| t as f64).collect();
                        if let Some(rho) = spearman(&r[..f], &steps) {
                            rhos.push(rho);
                        }
                    }
                }
            }
            means.push((
                name.to_string(),
                ep_means.iter().sum::<f64>() / ep_means.len() as f64,
            ));
            per_ep.push(ep_means);
            bar.inc(1);
        }
        out.push(TaskEval {
            task: task.name().into(),
            goal_frames: chosen,
            skipped_episodes: skipped,
            auc_expert_vs_random: auc(&per_ep[0], &per_ep[VARIANTS.len() - 1]),
            spearman_to_success: (!rhos.is_empty())
                .then(|| rhos.iter().sum::<f64>() / rhos.len() as f64),
            spearman_episodes: rhos.len(),
            mean: means,
        });
    }
    bar.finish_and_clear();
    for t in &out {
        let m: Vec<String> = t.mean.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
        eprintln!(
            "{:<18} AUC {:.3}  rho {}  {}",
            t.task,
            t.auc_expert_vs_random,
            t.spearman_to_success
                .map_or("-".into(), |r| format!("{r:.3}")),
            m.join("  ")
        );
    }
    let aucs: Vec<f64> = out.iter().map(|t| t.auc_expert_vs_random).collect();
    let rhos: Vec<f64> = out.iter().filter_map(|t| t.spearman_to_success).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let summary = serde_json::json!({
        "fb": fb.display().to_string(),
        "vae": vae.display().to_string(),
        "episodes": a.episodes,
        "seeds": [a.seed, a.seed + a.episodes as u32],
        "goal_seed": a.goal_seed,
        "steps": a.steps,
        "mean_auc": mean(&aucs),
        "min_auc": aucs.iter().cloned().fold(f64::INFINITY, f64::min),
        "mean_spearman_to_success": mean(&rhos),
        "ms_per_step_fb": median(&ms),
        "tasks": out,
    });
    eprintln!(
        "{:<18} AUC {:.3}  rho {:.3}  ms/step {:.4}",
        "mean",
        mean(&aucs),
        mean(&rhos),
        median(&ms)
    );
    println!("{summary}");
    Ok(())
}
