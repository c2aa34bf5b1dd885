//! `genreward eval-reward`: how well r_video tells good behaviour from bad, on seeds the VAE never
//! saw. For every task: one goal video from the expert on `--goal-seed`; `--episodes` episodes of
//! each behaviour (expert, expert + noise 0.1 / 0.3 / 0.6, random) on seeds `--seed`, `--seed`+1,
//! ...; each 256 steps, rendered in one batch per step; the final r_video (step 255, frames
//! 0..=255 sampled to 16) of each. Reports, per task, the mean final r_video of each behaviour
//! and the AUC of expert against random (the probability that a random expert episode outscores
//! a random random-action episode, ties counting half).

use crate::dataset::{parse_tasks, Lockstep, VARIANTS};
use crate::goal::{eval_bar, expert_goal};
use crate::score::{median, parse_device, vae_dir};
use crate::stats::auc;
use anyhow::{bail, Result};
use genreward_render::{Renderer, ViewSpec};
use genreward_reward::{video_term, FrameTerm};
use genreward_sim::TaskKind;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// VAE checkpoint folder (default: the shipped assets/models/vae).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// Episodes per task and behaviour.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    episodes: usize,
    /// First agent seed (the dataset uses 1000.. and 1500..; keep clear of them).
    #[arg(long, default_value_t = 9000, allow_negative_numbers = true)]
    seed: u32,
    /// Seed of the expert's goal video (not an agent seed).
    #[arg(long, default_value_t = 8000, allow_negative_numbers = true)]
    goal_seed: u32,
    /// Episode length; r_video is read at its last step.
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    steps: usize,
    /// Comma-separated tasks, or all.
    #[arg(long, default_value = "all")]
    tasks: String,
    /// Frames of each goal video (the expert's final state held until then); 0 = the default
    /// short hold of `genreward goal`. By default as long as the episodes, so the 16 sampled
    /// frames of goal and agent line up in time.
    #[arg(long)]
    goal_length: Option<usize>,
    #[arg(long, default_value = "corner2")]
    camera: String,
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(serde::Serialize)]
struct TaskEval {
    task: String,
    /// Mean final r_video per behaviour, in VARIANTS order.
    mean: Vec<(String, f64)>,
    auc_expert_vs_random: f64,
    /// The noisy experts' mean lies between the random and the expert means.
    noisy_between: bool,
}

pub fn eval_reward(a: EvalArgs) -> Result<()> {
    let device = parse_device(&a.device)?;
    let tasks = parse_tasks(&a.tasks)?;
    if a.episodes == 0 || a.steps == 0 {
        bail!("--episodes and --steps must be at least 1");
    }
    let vae = vae_dir(&a.vae);
    let size = genreward_reward::load::vae_frame_size(&vae)?;
    let view = ViewSpec::parse(&a.camera, &format!("{size}x{size}")).map_err(anyhow::Error::msg)?;
    let mut renderer = Renderer::new()?;
    let bar = eval_bar(tasks.len() * VARIANTS.len());
    let mut out = Vec::new();
    let mut ms = Vec::new();
    for &task in &tasks {
        let glen = a.goal_length.unwrap_or(a.steps);
        let goal = expert_goal(task, a.goal_seed, view, glen, &mut renderer)?;
        let mut term = video_term(&vae, &goal, a.steps, device)?;
        let mut means = Vec::new();
        let mut finals: Vec<Vec<f64>> = Vec::new();
        for (name, kind, noise) in VARIANTS {
            bar.set_message(format!("{task} {name}"));
            let scores = run_variant(
                task,
                kind,
                noise,
                &a,
                view,
                &mut renderer,
                term.as_mut(),
                &mut ms,
            )?;
            means.push((
                name.to_string(),
                scores.iter().sum::<f64>() / scores.len() as f64,
            ));
            finals.push(scores);
            bar.inc(1);
        }
        let (e, r) = (means[0].1, means[VARIANTS.len() - 1].1);
        let noisy: Vec<f64> = means[1..VARIANTS.len() - 1].iter().map(|m| m.1).collect();
        let noisy_mean = noisy.iter().sum::<f64>() / noisy.len() as f64;
        out.push(TaskEval {
            task: task.name().into(),
            auc_expert_vs_random: auc(&finals[0], &finals[VARIANTS.len() - 1]),
            noisy_between: noisy_mean <= e && noisy_mean >= r,
            mean: means,
        });
    }
    bar.finish_and_clear();
    for t in &out {
        let m: Vec<String> = t.mean.iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
        eprintln!(
            "{:<18} AUC {:.3}  {}",
            t.task,
            t.auc_expert_vs_random,
            m.join("  ")
        );
    }
    let aucs: Vec<f64> = out.iter().map(|t| t.auc_expert_vs_random).collect();
    // Each behaviour's mean final r_video, averaged over the tasks.
    let over_tasks: Vec<(String, f64)> = VARIANTS
        .iter()
        .enumerate()
        .map(|(k, (name, _, _))| {
            let m = out.iter().map(|t| t.mean[k].1).sum::<f64>() / out.len() as f64;
            (name.to_string(), m)
        })
        .collect();
    let (e, r) = (over_tasks[0].1, over_tasks[VARIANTS.len() - 1].1);
    let noisy_between = over_tasks[1..VARIANTS.len() - 1]
        .iter()
        .all(|(_, m)| *m <= e && *m >= r);
    let m: Vec<String> = over_tasks
        .iter()
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect();
    eprintln!(
        "{:<18} AUC {:.3}  {}",
        "mean",
        aucs.iter().sum::<f64>() / aucs.len() as f64,
        m.join("  ")
    );
    let summary = serde_json::json!({
        "vae": vae.display().to_string(),
        "episodes": a.episodes,
        "seeds": [a.seed, a.seed + a.episodes as u32],
        "goal_seed": a.goal_seed,
        "goal_length": a.goal_length.unwrap_or(a.steps),
        "steps": a.steps,
        "mean_auc": aucs.iter().sum::<f64>() / aucs.len() as f64,
        "min_auc": aucs.iter().cloned().fold(f64::INFINITY, f64::min),
        "ms_per_window": median(&ms),
        "mean_over_tasks": over_tasks,
        "noisy_between_on_average": noisy_between,
        "tasks": out,
    });
    println!("{summary}");
    Ok(())
}

/// Final r_video of `--episodes` episodes of one behaviour, stepped in lockstep.
#[allow(clippy::too_many_arguments)]
fn run_variant(
    task: TaskKind,
    kind: genreward_sim::PolicyKind,
    noise: f64,
    a: &EvalArgs,
    view: ViewSpec,
    renderer: &mut Renderer,
    term: &mut dyn FrameTerm,
    ms: &mut Vec<f64>,
) -> Result<Vec<f64>> {
    let seeds: Vec<u32> = (0..a.episodes).map(|k| a.seed + k as u32).collect();
    let mut episodes = Lockstep::new(task, kind, noise, &seeds, a.steps);
    let mut frames: Vec<Vec<Vec<u8>>> = vec![Vec::with_capacity(a.steps); seeds.len()];
    for _ in 0..a.steps {
        for (f, shot) in frames
            .iter_mut()
            .zip(episodes.render_and_step(renderer, view)?)
        {
            f.push(shot.frame.rgb);
        }
    }
    let mut finals = Vec::with_capacity(seeds.len());
    for ep in frames {
        term.reset();
        let mut last = None;
        for f in &ep {
            if let Some(v) = term.push(f, view.width, view.height) {
                last = Some(v);
                ms.push(term.last_ms());
            }
        }
        finals.push(last.expect("the last step pays r_video"));
    }
    Ok(finals)
}
