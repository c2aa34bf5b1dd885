//! `genreward goal-frame`: which of the goal video's 16 sampled frames the frame-level reward
//! aims at, the score of every frame, and a picture of the strip with the choice marked.

use crate::score::{parse_device, vae_dir};
use anyhow::Result;
use genreward_record::picture::Picture;
use genreward_reward::load::vae_frame_size;
use genreward_reward::{GoalFrameChoice, GoalFramePicker, GoalVideo};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct GoalFrameArgs {
    /// The goal video (.mp4, .gif, .npy, a folder of .png).
    #[arg(long)]
    goal: PathBuf,
    /// The task, whose sentence (see `genreward tasks`) CLIP scores the frames against.
    #[arg(long)]
    task: String,
    /// Where to save the 16 sampled frames with their scores and the choice marked (.png).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The VAE whose input size the frames are sampled at (and whose features the fallback
    /// scores with; default: the shipped one).
    #[arg(long)]
    vae: Option<PathBuf>,
    /// CLIP weights (OpenCLIP layout: *.safetensors, open_clip_config.json, the BPE vocabulary):
    /// score each frame against the task's sentence and take the best. Without them: the last
    /// sampled frame, scored by its VAE-feature cosine to the last one.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Take this frame (0-15) instead; the scores are still shown.
    #[arg(long, allow_negative_numbers = true)]
    goal_frame: Option<usize>,
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn goal_frame(a: GoalFrameArgs) -> Result<()> {
    let task: genreward_sim::TaskKind = a.task.parse()?;
    parse_device(&a.device)?;
    if let Some(out) = &a.out {
        crate::check_png(out)?;
    }
    let vae = vae_dir(&a.vae);
    let goal = GoalVideo::load(&a.goal, vae_frame_size(&vae)?)?;
    let mut picker = GoalFramePicker::new(&vae)?;
    if let Some(dir) = &a.clip {
        picker = picker.with_clip(dir, task.goal_text())?;
    }
    let choice = picker.pick(&goal, a.goal_frame)?;
    if let Some(out) = &a.out {
        strip(&goal, &choice, task).save_png(out)?;
    }
    println!("{}", serde_json::to_string(&choice)?);
    Ok(())
}

/// The strip: two rows of eight sampled frames (2x), each with its index and score under it, the
/// chosen one framed in yellow; a title line with the task and method.
pub fn strip(goal: &GoalVideo, choice: &GoalFrameChoice, task: genreward_sim::TaskKind) -> Picture {
    const GAP: i64 = 6;
    const LABEL: i64 = 22;
    const TITLE: i64 = 40;
    let s = goal.size as i64;
    let scale = if s < 128 { (128 / s.max(1)) as u32 } else { 1 };
    let cell = s * scale as i64;
    let cols = 8i64;
    let rows = (goal.window.len() as i64 + cols - 1) / cols;
    let w = cols * cell + (cols + 1) * GAP;
    let h = TITLE + rows * (cell + LABEL + GAP) + GAP;
    let mut p = Picture::new(w as u32, h as u32, [24, 24, 28]);
    let title = format!(
        "{}: goal frame {} ({})",
        task.name(),
        choice.frame,
        choice.method
    );
    p.text(GAP, 2, &title, 2, [230, 230, 230]);
    p.text(
        GAP,
        22,
        &format!("\"{}\"", task.goal_text()),
        1,
        [170, 170, 170],
    );
    for (k, frame) in goal.window.iter().enumerate() {
        let (c, r) = (k as i64 % cols, k as i64 / cols);
        let x = GAP + c * (cell + GAP);
        let y = TITLE + GAP + r * (cell + LABEL + GAP);
        p.blit(frame, goal.size, goal.size, x, y, scale);
        let chosen = k == choice.frame;
        if chosen {
            p.outline(x - 3, y - 3, cell + 6, cell + 6, 3, [255, 210, 40]);
        }
        let color = if chosen {
            [255, 210, 40]
        } else {
            [220, 220, 220]
        };
        p.text(x, y, &format!("{k}"), 1, color);
        p.text(
            x,
            y + cell + 3,
            &format!("{:.3}", choice.scores[k]),
            2,
            color,
        );
    }
    p
}
