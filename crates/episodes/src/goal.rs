//! Expert goal videos, the stand-in for the paper's generated ones: the scripted expert runs
//! from the seed's initial scene until the task succeeds, then holds for a few steps; every
//! step's frame (the state before the action, as in rollouts) is kept.

use crate::error::bail;
use crate::Result;
use genreward_record::{save_frames, ClipFormat};
use genreward_render::{render_envs, Renderer, ViewSpec};
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind};
use std::path::Path;

/// Steps kept after the first success, so the goal state is held on screen.
pub const HOLD_STEPS: usize = 16;

/// What [`write_expert_goal`] renders.
#[derive(Clone, Debug)]
pub struct ExpertGoal {
    pub task: TaskKind,
    /// Placement seed of the scene the expert starts from.
    pub seed: u32,
    pub view: ViewSpec,
    /// Give up if the expert has not succeeded after this many steps.
    pub max_steps: usize,
    /// Steps kept after the first success.
    pub hold: usize,
    /// Hold the final state until the video has at least this many frames (0: no minimum).
    pub length: usize,
}

/// What [`write_expert_goal`] wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GoalReport {
    pub task: String,
    pub seed: u32,
    pub out: String,
    pub format: String,
    pub frames: usize,
    /// Steps until the first success.
    pub success_step: usize,
    pub camera: ViewSpec,
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

/// Renders the expert's goal video and saves it to `out` (.mp4, .gif, .npy, or a folder of
/// PNG frames), at the control rate.
pub fn write_expert_goal(g: &ExpertGoal, out: &Path) -> Result<GoalReport> {
    let format = ClipFormat::from_path(out)?;
    if g.max_steps == 0 {
        bail!("the expert needs at least one step");
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| crate::EpisodesError::io("create", parent, e))?;
    }
    let mut renderer = Renderer::new()?;
    let (frames, success_step) = expert_goal_frames(
        g.task,
        g.seed,
        g.view,
        g.max_steps,
        g.hold,
        g.length,
        &mut renderer,
    )?;
    save_frames(
        out,
        g.view.width,
        g.view.height,
        genreward_sim::CONTROL_HZ,
        &frames,
    )?;
    Ok(GoalReport {
        task: g.task.name().into(),
        seed: g.seed,
        out: out.display().to_string(),
        format: format!("{format:?}").to_lowercase(),
        frames: frames.len(),
        success_step,
        camera: g.view,
    })
}
