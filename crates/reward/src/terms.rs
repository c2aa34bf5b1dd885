//! Everything GenReward needs toward one goal video, loaded together: `r_video` (the VAE), the
//! goal frame and `r_fb` (the FB representation aimed at it). `score`, `rollout --goal` and the
//! app load through [`load_genreward`].

use crate::fb::{default_fb_dir, fb_term, StepTerm};
use crate::goal::GoalVideo;
use crate::goal_frame::{GoalFrameChoice, GoalFramePicker};
use crate::load::{vae_frame_size, video_term};
use crate::video::FrameTerm;
use crate::RewardError;
use genreward_models::DeviceKind;
use std::path::{Path, PathBuf};

/// Which FB representation pays `r_fb`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FbChoice {
    /// The shipped one (`assets/models/fb`, or `$GENREWARD_FB`). When the VAE is not the one
    /// it was trained with, `r_fb` is left out with a note instead of failing, so a user's own
    /// VAE still gets `r_video`.
    Default,
    /// The user's checkpoint: any mismatch is an error.
    Path(PathBuf),
    /// No `r_fb`.
    Off,
}

/// What to load.
#[derive(Clone, Debug)]
pub struct GenRewardSpec {
    pub vae: PathBuf,
    /// Whether `vae` is the default (decides how a default FB that does not fit is treated).
    pub vae_is_default: bool,
    pub fb: FbChoice,
    /// `r_video` is paid on steps where `step + 1` is a multiple of `every`.
    pub every: usize,
    /// `--goal-frame`: the user's goal frame, an index into the 16 sampled frames.
    pub goal_frame: Option<usize>,
    /// CLIP weights and the sentence to score goal frames against (`--clip DIR`, the task's).
    pub clip: Option<(PathBuf, String)>,
    /// Where the DINO weights of a DINO-feature FB checkpoint are (`--dino`; default: the folder
    /// it was trained with).
    pub dino: Option<PathBuf>,
    pub device: DeviceKind,
}

/// The loaded terms.
pub struct GenRewardTerms {
    pub video: Box<dyn FrameTerm>,
    pub fb: Option<Box<dyn StepTerm>>,
    /// The FB checkpoint in use.
    pub fb_dir: Option<PathBuf>,
    /// Why `r_fb` is off when it is (for a warning line), `None` when it is on or asked off.
    pub fb_note: Option<String>,
    pub goal: GoalVideo,
    pub goal_frame: GoalFrameChoice,
    /// Picks the goal frame of the next goal ([`GenRewardTerms::retarget`]).
    picker: GoalFramePicker,
    /// The user's goal frame, kept for every goal.
    user_frame: Option<usize>,
}

/// Loads `r_video` and `r_fb` toward the goal video in `goal` (any readable video).
pub fn load_genreward(goal: &Path, spec: &GenRewardSpec) -> Result<GenRewardTerms, RewardError> {
    if spec.every == 0 {
        return Err(RewardError::Invalid(
            "the r_video interval (every) must be at least 1".into(),
        ));
    }
    let size = vae_frame_size(&spec.vae)?;
    load_genreward_video(GoalVideo::load(goal, size)?, spec)
}

/// [`load_genreward`] toward a goal video already read and sampled at the VAE's size (one made
/// on the spot: the expert's from an episode's own first scene).
pub fn load_genreward_video(
    goal: GoalVideo,
    spec: &GenRewardSpec,
) -> Result<GenRewardTerms, RewardError> {
    if spec.every == 0 {
        return Err(RewardError::Invalid(
            "the r_video interval (every) must be at least 1".into(),
        ));
    }
    // The goal frame is chosen (and --goal-frame checked) even without r_fb: it is part of what
    // the run records about its goal.
    let mut picker = GoalFramePicker::new(&spec.vae)?;
    if let Some((dir, text)) = &spec.clip {
        picker = picker.with_clip(dir, text)?;
    }
    let goal_frame = picker.pick(&goal, spec.goal_frame)?;
    let video = video_term(&spec.vae, &goal, spec.every, spec.device)?;
    let frame = &goal.window[goal_frame.frame];
    let dino = spec.dino.as_deref();
    let (fb, fb_dir, fb_note) = match &spec.fb {
        FbChoice::Off => (None, None, None),
        FbChoice::Path(dir) => (
            Some(fb_term(dir, &spec.vae, dino, frame, spec.device)?),
            Some(dir.clone()),
            None,
        ),
        FbChoice::Default => {
            let dir = default_fb_dir();
            match fb_term(&dir, &spec.vae, dino, frame, spec.device) {
                Ok(t) => (Some(t), Some(dir), None),
                Err(e) if !spec.vae_is_default && dino.is_none() => (
                    None,
                    None,
                    Some(format!(
                        "r_fb is off: the shipped FB representation does not fit this VAE ({e}); give an FB trained on it"
                    )),
                ),
                Err(e) => return Err(e),
            }
        }
    };
    Ok(GenRewardTerms {
        video,
        fb,
        fb_dir,
        fb_note,
        goal,
        goal_frame,
        picker,
        user_frame: spec.goal_frame,
    })
}

impl GenRewardTerms {
    /// Aims every term at another goal video (one episode's own, generated from its first
    /// frame): r_video's goal latent, the goal frame picked again as at loading (the same CLIP
    /// sentence or fallback, the same override), and r_fb's goal. The models stay loaded.
    pub fn retarget(&mut self, goal: GoalVideo) -> Result<(), RewardError> {
        let goal_frame = self.picker.pick(&goal, self.user_frame)?;
        self.video.set_goal(&goal)?;
        if let Some(fb) = &mut self.fb {
            fb.set_goal(&goal.window[goal_frame.frame])?;
        }
        self.goal = goal;
        self.goal_frame = goal_frame;
        Ok(())
    }
}
