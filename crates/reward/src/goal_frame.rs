//! Which of the goal video's 16 sampled frames is the goal of the frame-level reward.
//!
//! The paper scores every frame of the generated video against the task's text with CLIP and
//! takes the best: with the user's CLIP weights (`--clip DIR`, OpenCLIP layout) so do we, each
//! sampled frame's score being its cosine similarity with the task's sentence (`genreward
//! tasks`). Without CLIP weights the fallback is `"last"`: the last sampled frame, the
//! end state a goal video is made to reach (a generated video ends with the task done; the
//! expert's goal videos hold the success state). Its scores are each frame's cosine similarity
//! to the last one in goal-feature space, which shows where the video settles. The user can
//! always name the frame (`--goal-frame K`, method `"user"`).

use crate::goal::GoalVideo;
use crate::video::{cosine, VideoEncoder};
use crate::RewardError;
use genreward_models::backend::Cpu;
use genreward_models::clip::ClipModel;
use std::path::Path;

/// The choice and the scores behind it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GoalFrameChoice {
    /// Index into the 16 sampled frames.
    pub frame: usize,
    /// One score per sampled frame (higher: more goal-like).
    pub scores: Vec<f64>,
    /// `"clip"`, `"last"` or `"user"`.
    pub method: String,
}

/// The fallback: the last frame, scored by cosine similarity to it. `features` holds one row of
/// `dim` values per sampled frame.
pub fn choose_last(features: &[f32], dim: usize) -> GoalFrameChoice {
    debug_assert!(dim > 0 && features.len().is_multiple_of(dim) && !features.is_empty());
    let rows: Vec<&[f32]> = features.chunks_exact(dim.max(1)).collect();
    let last = rows.last().copied().unwrap_or_default();
    GoalFrameChoice {
        frame: rows.len().saturating_sub(1),
        scores: rows.iter().map(|r| cosine(r, last)).collect(),
        method: "last".into(),
    }
}

/// Applies the user's goal frame (`--goal-frame`): the scores stay, the frame and method change.
pub fn override_frame(
    mut choice: GoalFrameChoice,
    frame: Option<usize>,
) -> Result<GoalFrameChoice, RewardError> {
    if let Some(k) = frame {
        if k >= choice.scores.len() {
            return Err(RewardError::Invalid(format!(
                "goal frame {k} is out of range: the goal video is sampled to {} frames (0..={})",
                choice.scores.len(),
                choice.scores.len() - 1
            )));
        }
        choice.frame = k;
        choice.method = "user".into();
    }
    Ok(choice)
}

/// Picks goal frames of goal videos: with CLIP weights, the sampled frame CLIP scores highest
/// against the task's sentence (method `"clip"`); without, [`choose_last`] on the VAE features
/// of the 16 sampled frames; then the user's override. Holds its models, so many goal videos
/// (one per episode in `eval-fb`) cost one load. Runs on the CPU (16 frames per video).
pub struct GoalFramePicker {
    encoder: VideoEncoder<Cpu>,
    clip: Option<(ClipModel<Cpu>, String)>,
}

impl GoalFramePicker {
    /// Loads the VAE in `vae`.
    pub fn new(vae: &Path) -> Result<Self, RewardError> {
        Ok(GoalFramePicker {
            encoder: crate::load::load_encoder::<Cpu>(vae, Default::default())?,
            clip: None,
        })
    }

    /// Scores frames with the CLIP weights in `dir` against `text` (the task's sentence).
    pub fn with_clip(mut self, dir: &Path, text: &str) -> Result<Self, RewardError> {
        let model = ClipModel::<Cpu>::load(dir, &Default::default())?;
        self.clip = Some((model, text.to_string()));
        Ok(self)
    }

    /// The goal frame of `goal`; `user` is `--goal-frame`.
    pub fn pick(
        &self,
        goal: &GoalVideo,
        user: Option<usize>,
    ) -> Result<GoalFrameChoice, RewardError> {
        let choice = match &self.clip {
            Some((clip, text)) => {
                // CLIP sees the goal video's own frames, at their resolution.
                let v = &goal.video;
                let frames: Vec<&[u8]> = goal
                    .indices
                    .iter()
                    .map(|&i| v.frames[i].as_slice())
                    .collect();
                let scores: Vec<f64> = clip
                    .score_frames(&frames, v.width, v.height, text)?
                    .into_iter()
                    .map(f64::from)
                    .collect();
                // The best; the later frame on a tie (a goal video ends at its goal).
                let frame = (0..scores.len())
                    .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)))
                    .unwrap_or(0);
                GoalFrameChoice {
                    frame,
                    scores,
                    method: "clip".into(),
                }
            }
            None => {
                let refs: Vec<&[u8]> = goal.window.iter().map(Vec::as_slice).collect();
                let feats = self.encoder.frame_features(&refs)?;
                choose_last(&feats, self.encoder.frame_feature_dim())
            }
        };
        override_frame(choice, user)
    }
}

/// The goal frame of one goal video (see [`GoalFramePicker`]).
pub fn choose_goal_frame(
    vae: &Path,
    goal: &GoalVideo,
    user: Option<usize>,
) -> Result<GoalFrameChoice, RewardError> {
    GoalFramePicker::new(vae)?.pick(goal, user)
}

/// The goal frame of the goal video in `goal`, sampled at the VAE's input size, chosen with
/// CLIP (`clip`: its weights) by the task's sentence, by the VAE's features, or by the user
/// (`user`: an index 0-15, the scores still computed). Returns the sampled video and the choice.
pub fn pick_goal_frame(
    goal: &std::path::Path,
    vae: &std::path::Path,
    clip: Option<&std::path::Path>,
    user: Option<usize>,
    task: genreward_sim::TaskKind,
) -> Result<(GoalVideo, GoalFrameChoice), crate::RewardError> {
    let goal = GoalVideo::load(goal, crate::load::vae_frame_size(vae)?)?;
    let mut picker = GoalFramePicker::new(vae)?;
    if let Some(dir) = clip {
        picker = picker.with_clip(dir, task.goal_text())?;
    }
    let choice = picker.pick(&goal, user)?;
    Ok((goal, choice))
}

/// The strip: two rows of eight sampled frames (2x), each with its index and score under it, the
/// chosen one framed in yellow; a title line with the task and method.
pub fn strip_picture(
    goal: &GoalVideo,
    choice: &GoalFrameChoice,
    task: genreward_sim::TaskKind,
) -> genreward_record::picture::Picture {
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
    let mut p = genreward_record::picture::Picture::new(w as u32, h as u32, [24, 24, 28]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_frame_scores_are_cosines_to_it() {
        let f = [1.0, 0.0, 1.0, 1.0, 0.0, 2.0];
        let c = choose_last(&f, 2);
        assert_eq!(c.frame, 2);
        assert_eq!(c.method, "last");
        assert!((c.scores[0] - 0.0).abs() < 1e-12);
        assert!((c.scores[1] - 0.5f64.sqrt()).abs() < 1e-7);
        assert!((c.scores[2] - 1.0).abs() < 1e-12);
        let u = override_frame(c.clone(), Some(1)).unwrap();
        assert_eq!((u.frame, u.method.as_str()), (1, "user"));
        assert_eq!(u.scores, c.scores);
        let e = override_frame(c, Some(3)).unwrap_err().to_string();
        assert!(e.contains("goal frame 3 is out of range"), "{e}");
    }
}
