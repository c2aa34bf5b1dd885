//! Scripted episodes in batches, and what is made of them.
//!
//! - [`dataset`]: [`Lockstep`] (episodes of one task and behaviour stepped together, one render
//!   call a step), the training data of the video VAE and the FB representation
//!   ([`write_dataset`]) and its episodes read back ([`load_episodes`], [`load_trajectories`]);
//! - [`generated`]: goal videos generated from a first frame and the task
//!   ([`write_generated_goal`]), GenReward's own;
//! - [`goal`]: expert goal videos ([`expert_goal`], [`write_expert_goal`]), the stand-in for
//!   the paper's generated ones;
//! - [`goal_data`]: the goal-video generator's data, expert goal videos of many seeds as VAE
//!   latents beside their first frames ([`write_goal_data`]), from fixed disjoint seed ranges;
//! - [`field_map`]: the reward field over the table at the scene the expert reached, as a
//!   picture ([`field_map()`], [`draw_field`]).

pub mod dataset;
mod error;
pub mod field_map;
pub mod generated;
pub mod goal;
pub mod goal_data;

pub use dataset::{
    load_episodes, load_trajectories, write_dataset, DatasetConfig, DatasetReport, Episode,
    Lockstep, SeenStep, Trajectory, VAL_SEED_OFFSET, VARIANTS,
};
pub use error::{EpisodesError, Result};
pub use field_map::{draw_field, field_map, FieldMapConfig, FieldMapReport};
pub use generated::{
    first_frame, write_generated_goal, FirstFrame, GeneratedGoalReport, GeneratedGoalSpec,
};
pub use goal::{
    expert_goal, expert_goal_frames, write_expert_goal, ExpertGoal, GoalReport, HOLD_STEPS,
};
pub use goal_data::{
    expert_latents, goal_video_frames, write_goal_data, ExpertLatents, GoalDataConfig,
    GoalDataInfo, GoalDataReport, GoalSplit, GOAL_EVAL_SEED, GOAL_MAX_SEEDS, GOAL_TRAIN_SEED,
    GOAL_VAL_SEED,
};
