//! genreward-reward: GenReward's reward terms on top of the models.
//!
//! - [`sample`]: which 16 frames of a video (or of an episode so far) the reward looks at;
//! - [`prep`]: frames of any size brought to the model's input (centre crop, resize);
//! - [`goal_frame`]: which sampled goal frame the frame-level reward aims at;
//! - [`generate`]: goal videos generated from a first frame and a task;
//! - [`goal`]: the goal video, loaded from any readable file and sampled once;
//! - [`fb`]: the frame-level reward `r_fb = F(s, a, z)^T z` toward a goal frame;
//! - [`field`]: the reward field, r_fb with the hand or object moved over a grid;
//! - [`features`]: goal features for the FB representation (the VAE fallback);
//! - [`terms`]: all of the above toward one goal video, loaded together;
//! - [`mix`]: `r = r_env + alpha r_video + beta r_fb`, with `r_env` dense or sparse;
//! - [`video`]: the video-level reward `r_video`, the cosine similarity of VAE latents,
//!   fed one frame per step by [`VideoReward`] and paid every `K` steps.

pub mod fb;
pub mod features;
pub mod field;
pub mod generate;
pub mod goal;
pub mod goal_frame;
pub mod load;
pub mod mix;
pub mod prep;
pub mod sample;
pub mod settings;
pub mod terms;
pub mod video;

pub use fb::{default_fb_dir, fb_term, FbReward, StepTerm};
pub use generate::{
    default_goalgen_dir, stretch_to_length, GenSettings, GeneratedGoal, GoalGenerator,
    LoadedGenerator, SamplePick, DEFAULT_GEN_PICK, DEFAULT_GEN_SAMPLES,
};
pub use goal::GoalVideo;
pub use goal_frame::{GoalFrameChoice, GoalFramePicker};
pub use load::{default_vae_dir, load_encoder, load_video_reward, video_term};
pub use mix::{mix, mix_step, paid_env, MixWeights};
pub use sample::{uniform_indices, WINDOW};
pub use settings::{
    fb_inputs, load_terms, load_terms_video, RewardSettings, DEFAULT_ALPHA, DEFAULT_BETA,
};
pub use terms::{load_genreward, load_genreward_video, FbChoice, GenRewardSpec, GenRewardTerms};
pub use video::{cosine, FrameTerm, VideoEncoder, VideoReward, DEFAULT_EVERY};

/// Errors of the reward layer; one line each.
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    #[error(transparent)]
    Video(#[from] genreward_record::RecordError),
    #[error(transparent)]
    Checkpoint(#[from] genreward_models::CheckpointError),
    #[error(transparent)]
    Weights(#[from] genreward_models::weights::WeightError),
    #[error("goal video '{path}' has {frames} frame(s); a goal video needs at least 2")]
    TooShort { path: String, frames: usize },
    #[error("a frame of {width}x{height} RGB needs {} bytes, not {bytes}", *width as u64 * *height as u64 * 3)]
    FrameSize {
        bytes: usize,
        width: u32,
        height: u32,
    },
    #[error(transparent)]
    Frames(#[from] genreward_models::frames::FrameSizeError),
    #[error("{0}")]
    Invalid(String),
}
