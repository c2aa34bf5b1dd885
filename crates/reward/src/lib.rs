//! genreward-reward: GenReward's reward terms on top of the models.
//!
//! - [`sample`]: which 16 frames of a video (or of an episode so far) the reward looks at;
//! - [`prep`]: frames of any size brought to the model's input (centre crop, resize);
//! - [`goal`]: the goal video, loaded from any readable file and sampled once;
//! - [`video`]: the video-level reward `r_video`, the cosine similarity of VAE latents,
//!   fed one frame per step by [`VideoReward`] and paid every `K` steps.

pub mod goal;
pub mod load;
pub mod prep;
pub mod sample;
pub mod video;

pub use goal::GoalVideo;
pub use load::{default_vae_dir, load_encoder, load_video_reward, video_term};
pub use sample::{uniform_indices, WINDOW};
pub use video::{cosine, FrameTerm, VideoEncoder, VideoReward, DEFAULT_EVERY};

/// Errors of the reward layer; one line each.
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    #[error(transparent)]
    Video(#[from] genreward_record::RecordError),
    #[error(transparent)]
    Checkpoint(#[from] genreward_models::CheckpointError),
    #[error("goal video '{path}' has {frames} frame(s); a goal video needs at least 2")]
    TooShort { path: String, frames: usize },
    #[error("{0}")]
    Invalid(String),
}
