//! The trainers, as library calls: one training loop ([`train_loop::TrainLoop`]) and the video
//! VAE ([`vae::train_vae`], [`vae::reconstruct`]), the FB representation on dataset episodes
//! ([`fb::train_fb`]), the goal-video generator ([`goalgen::train_goalgen`]) and DreamerV3 ([`dreamer::train_dreamer`], [`dreamer::DreamerTrainer`],
//! with an FB representation trained online beside it: [`online_fb`]).
//!
//! Every trainer takes a typed config, the caller's progress bar and a stop flag (set it to end
//! the run after the step in hand; the checkpoint is saved), and returns a typed report: the
//! JSON line the CLI prints. Nothing here prints; human notes go to `tracing`.

pub mod dreamer;
mod error;
pub mod fb;
pub mod goalgen;
mod json;
pub mod online_fb;
pub mod train_loop;
pub mod vae;

pub use dreamer::{
    train_dreamer, BestEval, Cnn, DreamerGoal, DreamerReport, DreamerReward, DreamerTrainer,
    StateDims, TrainDreamerConfig, EVAL_SEED,
};
pub use error::{Result, TrainError};
pub use fb::{train_fb, FbMeta, FbReport, FbValidation, TrainFbConfig};
pub use goalgen::{
    clip_sentences, task_sentences, train_goalgen, GoalGenMeta, GoalGenReport, TrainGoalGenConfig,
};
pub use online_fb::{FbState, OnlineFb, OnlineFbMeta, OnlineFbSummary};
pub use train_loop::{LoopMeta, TrainLoop};
pub use vae::{
    reconstruct, train_vae, ReconstructConfig, ReconstructReport, TrainVaeConfig, VaeMeta,
    VaeReport,
};
