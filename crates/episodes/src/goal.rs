//! `genreward goal`: the default stand-in for the paper's generated goal videos. The scripted
//! expert runs from the seed's initial scene until the task succeeds, then holds for a few steps;
//! every step's frame (the state before the action, as in rollouts) is kept.

use anyhow::{bail, Result};
use genreward_record::{save_frames, ClipFormat};
use genreward_render::{render_envs, Renderer, ViewSpec};
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind};
use std::path::PathBuf;

/// Steps kept after the first success, so the goal state is held on screen.
pub const HOLD_STEPS: usize = 16;

#[derive(clap::Args, Debug)]
pub struct GoalArgs {
    /// Task name.
    #[arg(long)]
    task: String,
    /// Placement seed of the scene the expert starts from.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u32,
    /// .mp4, .gif, .npy, or a folder name (no extension) for PNG frames.
    #[arg(long)]
    out: PathBuf,
    /// Camera (the agent's, by default).
    #[arg(long, default_value = "corner2")]
    camera: String,
    /// Frame size, WxH.
    #[arg(long, default_value = "64x64")]
    size: String,
    /// Give up if the expert has not succeeded after this many steps.
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    max_steps: usize,
    /// Steps kept after the first success.
    #[arg(long, default_value_t = HOLD_STEPS, allow_negative_numbers = true)]
    hold: usize,
    /// Hold the final state longer, until the video has at least this many frames. A goal video
    /// as long as the agent's episodes (256 in the paper's setting) lines the 16 sampled frames
    /// up in time with the agent's (see the README).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    length: usize,
}

#[derive(serde::Serialize)]
struct GoalSummary {
    task: String,
    seed: u32,
    out: String,
    format: String,
    frames: usize,
    /// Steps until the first success.
    success_step: usize,
    camera: ViewSpec,
}

/// The expert's goal video on `seed` as the reward reads it (frames at `size`, sampled to 16),
/// held to `length` frames; see [`expert_goal_frames`].
pub fn expert_goal(
    task: TaskKind,
    seed: u32,
    view: ViewSpec,
    length: usize,
    renderer: &mut Renderer,
) -> Result<genreward_reward::GoalVideo> {
    let (frames, _) = expert_goal_frames(task, seed, view, 500, HOLD_STEPS, length, renderer)?;
    let video = genreward_record::Video {
        width: view.width,
        height: view.height,
        frames,
    };
    Ok(genreward_reward::GoalVideo::from_video(
        video,
        view.width,
        "expert goal",
    )?)
}

/// A progress bar over `len` units of `what` for the evaluations.
pub fn eval_bar(len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} (eta {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar
}

/// Renders the expert's goal video frames: frame t is the state before step t, from the initial
/// scene until `hold` steps after the first success, and on until there are at least `length`
/// frames. Returns them and the step of the first success.
pub fn expert_goal_frames(
    task: TaskKind,
    seed: u32,
    view: ViewSpec,
    max_steps: usize,
    hold: usize,
    length: usize,
    renderer: &mut Renderer,
) -> Result<(Vec<Vec<u8>>, usize)> {
    let mut env = Env::new(task, seed, PhysicsConfig::default());
    let hold_max = hold.max(length);
    env.set_max_path_length(max_steps + hold_max + 1);
    let mut expert = Policy::new(PolicyKind::Expert, task, 0.0, seed as u64);
    expert.reset(task, seed, 0);
    let mut frames = Vec::new();
    let mut success_at = None;
    for step in 0..max_steps + hold_max {
        frames.push(render_envs(renderer, &[env.world()], view)?.remove(0).rgb);
        if let Some(s) = success_at {
            if step >= s + hold && frames.len() >= length {
                break;
            }
        } else if step >= max_steps {
            break;
        }
        let obs = *env.last_obs();
        let a = Actor::act(
            &mut expert,
            &Observation {
                state: &obs,
                pixels: None,
            },
        );
        let r = env.step(a)?;
        if success_at.is_none() && r.info.is_success() {
            success_at = Some(step + 1);
        }
    }
    match success_at {
        Some(s) => Ok((frames, s)),
        None => bail!(
            "the expert did not solve {} seed {seed} within {max_steps} steps; try another seed",
            task.name()
        ),
    }
}

pub fn goal(a: GoalArgs) -> Result<()> {
    let task: TaskKind = a.task.parse()?;
    let view = ViewSpec::parse(&a.camera, &a.size).map_err(anyhow::Error::msg)?;
    let format = ClipFormat::from_path(&a.out)?;
    if a.max_steps == 0 {
        bail!("--max-steps must be at least 1");
    }
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
    }
    let mut renderer = Renderer::new()?;
    let (frames, success_step) = expert_goal_frames(
        task,
        a.seed,
        view,
        a.max_steps,
        a.hold,
        a.length,
        &mut renderer,
    )?;
    save_frames(
        &a.out,
        view.width,
        view.height,
        crate::record::VIDEO_FPS,
        &frames,
    )?;
    let s = GoalSummary {
        task: task.name().into(),
        seed: a.seed,
        out: a.out.display().to_string(),
        format: format!("{format:?}").to_lowercase(),
        frames: frames.len(),
        success_step,
        camera: view,
    };
    println!("{}", serde_json::to_string(&s)?);
    Ok(())
}
