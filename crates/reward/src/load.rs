//! Loading the video VAE for scoring: the user's checkpoint or the shipped default, on the
//! backend the user picked.

use crate::goal::GoalVideo;
use crate::video::{FrameTerm, VideoEncoder, VideoReward};
use crate::RewardError;
use burn::tensor::backend::Backend;
use genreward_models::backend::{gpu_device, Cpu, Gpu};
use genreward_models::{DeviceKind, VaeCheckpoint};
use std::path::{Path, PathBuf};

/// Where the shipped VAE lives inside the repository.
pub const SHIPPED_VAE: &str = "assets/models/vae";

/// The checkpoint used when no `--vae` is given: `$GENREWARD_VAE` if set, else `assets/models/vae`
/// of this checkout (found from the build's source folder, so it works from any directory).
pub fn default_vae_dir() -> PathBuf {
    shipped_dir("GENREWARD_VAE", SHIPPED_VAE)
}

/// A shipped model's folder: `$<env>` if set, else `<rel>` under the working directory if it
/// exists, else `<rel>` in this checkout (found from the build's source folder, so it works
/// from any directory).
pub fn shipped_dir(env: &str, rel: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from(rel);
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Loads the encoder from `dir` on backend `B`.
pub fn load_encoder<B: Backend>(
    dir: &Path,
    device: B::Device,
) -> Result<VideoEncoder<B>, RewardError> {
    let ck = VaeCheckpoint::<B>::load(dir, None, &device)?;
    Ok(VideoEncoder::new(ck.model, ck.config, device))
}

/// The frame size of the VAE checkpoint in `dir`, read from its config without loading weights.
pub fn vae_frame_size(dir: &Path) -> Result<u32, RewardError> {
    let cfg: genreward_models::VideoVaeConfig =
        genreward_models::checkpoint::read_config(dir, "video VAE")?;
    Ok(cfg.frame_size as u32)
}

/// `r_video` toward `goal` (a file), paid every `every` steps, with the VAE in `vae` on `device`.
/// Returns the term and the goal as sampled.
pub fn load_video_reward(
    vae: &Path,
    goal: &Path,
    every: usize,
    device: DeviceKind,
) -> Result<(Box<dyn FrameTerm>, GoalVideo), RewardError> {
    if every == 0 {
        return Err(RewardError::Invalid(
            "r_video's interval must be at least 1 step".into(),
        ));
    }
    let size = vae_frame_size(vae)?;
    let goal = GoalVideo::load(goal, size)?;
    let term = video_term(vae, &goal, every, device)?;
    Ok((term, goal))
}

/// `r_video` toward an already sampled `goal`, on the backend `device` names.
pub fn video_term(
    vae: &Path,
    goal: &GoalVideo,
    every: usize,
    device: DeviceKind,
) -> Result<Box<dyn FrameTerm>, RewardError> {
    Ok(match device {
        DeviceKind::Cpu => Box::new(VideoReward::new(
            load_encoder::<Cpu>(vae, Default::default())?,
            goal,
            every,
        )?),
        DeviceKind::Wgpu => Box::new(VideoReward::new(
            load_encoder::<Gpu>(vae, gpu_device())?,
            goal,
            every,
        )?),
    })
}
