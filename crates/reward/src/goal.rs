//! The goal video: any readable video (the expert's, rendered by `genreward goal`, stands in for
//! the paper's generated ones), sampled once to [`WINDOW`] frames at the model's input size.

use crate::prep::to_model_input;
use crate::sample::{uniform_indices, WINDOW};
use crate::RewardError;
use genreward_record::{load_video, Video};
use std::path::Path;

/// A loaded goal video and its sampled window.
#[derive(Clone, Debug)]
pub struct GoalVideo {
    /// The video as read.
    pub video: Video,
    /// Indices of the sampled frames into `video.frames`.
    pub indices: Vec<usize>,
    /// The sampled frames at `size x size`, ready for the encoder.
    pub window: Vec<Vec<u8>>,
    pub size: u32,
}

impl GoalVideo {
    /// Reads `path` (`.mp4`, `.gif`, `.npy`, a folder of `.png`) and samples it for a model of
    /// input `size`. A video needs at least two frames.
    pub fn load(path: &Path, size: u32) -> Result<GoalVideo, RewardError> {
        let video = load_video(path)?;
        Self::from_video(video, size, &path.display().to_string())
    }

    /// Samples an already decoded video; `name` is used in errors.
    pub fn from_video(video: Video, size: u32, name: &str) -> Result<GoalVideo, RewardError> {
        if video.len() < 2 {
            return Err(RewardError::TooShort {
                path: name.to_string(),
                frames: video.len(),
            });
        }
        let indices = uniform_indices(video.len(), WINDOW);
        let window = indices
            .iter()
            .map(|&i| to_model_input(&video.frames[i], video.width, video.height, size))
            .collect::<Result<_, _>>()?;
        Ok(GoalVideo {
            video,
            indices,
            window,
            size,
        })
    }
}
