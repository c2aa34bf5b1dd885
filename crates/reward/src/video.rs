//! The video-level reward.
//!
//! As in the paper: the agent's frames so far in the episode are sampled to 16
//! ([`uniform_indices`]), encoded by the video VAE (the posterior mean), flattened, and compared
//! with the goal video's flattened latent mean by cosine similarity. It is computed every `K`
//! steps (default 128) and paid on the steps where `step + 1` is a multiple of `K`; 0 elsewhere.
//!
//! **Which frames.** Frame `t` is the state the policy saw at step `t` (the convention of
//! `rollout --camera`), so the reward at step `t` looks at frames `0..=t`. A recorded run and a
//! live one therefore score the same frames.

use crate::goal::GoalVideo;
use crate::prep::to_model_input;
use crate::sample::{uniform_indices, WINDOW};
use crate::RewardError;
use burn::tensor::backend::Backend;
use genreward_models::frames::clips_to_tensor;
use genreward_models::{VideoVae, VideoVaeConfig};
use std::time::Instant;

/// The paper's interval between video rewards, in steps.
pub const DEFAULT_EVERY: usize = 128;

/// A video VAE used as a frozen encoder of 16-frame windows.
#[derive(Debug, Clone)]
pub struct VideoEncoder<B: Backend> {
    model: VideoVae<B>,
    config: VideoVaeConfig,
    device: B::Device,
}

impl<B: Backend> VideoEncoder<B> {
    pub fn new(model: VideoVae<B>, config: VideoVaeConfig, device: B::Device) -> Self {
        VideoEncoder {
            model,
            config,
            device,
        }
    }

    /// Side of the square frames the model takes.
    pub fn size(&self) -> u32 {
        self.config.frame_size as u32
    }

    pub fn config(&self) -> &VideoVaeConfig {
        &self.config
    }

    pub fn model(&self) -> &VideoVae<B> {
        &self.model
    }

    /// The flattened latent mean of `frames` (each `size x size x 3`), in `[Z, T, h, w]` order.
    pub fn encode(&self, frames: &[&[u8]]) -> Result<Vec<f32>, RewardError> {
        let s = self.config.frame_size;
        let x = clips_to_tensor::<B>(frames, 1, frames.len(), s, &self.device)?;
        let (mean, _) = self.model.encode(x);
        Ok(mean
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .expect("f32 latents"))
    }

    /// Per-frame features: each frame encoded alone (a one-frame clip), the latent mean
    /// flattened to `latent_channels * (size/8)^2` values; `frames.len()` rows, concatenated.
    /// Frames go through the model in chunks of 256.
    pub fn frame_features(&self, frames: &[&[u8]]) -> Result<Vec<f32>, RewardError> {
        let s = self.config.frame_size;
        let mut out = Vec::with_capacity(frames.len() * self.frame_feature_dim());
        for chunk in frames.chunks(256) {
            let x = clips_to_tensor::<B>(chunk, chunk.len(), 1, s, &self.device)?;
            let (mean, _) = self.model.encode(x);
            out.extend(
                mean.into_data()
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .expect("f32 latents"),
            );
        }
        Ok(out)
    }

    /// Length of one frame's [`frame_features`](Self::frame_features).
    pub fn frame_feature_dim(&self) -> usize {
        let h = self.config.frame_size / genreward_models::vae::SPATIAL_FACTOR;
        self.config.latent_channels * h * h
    }

    /// The latent of the goal video's sampled window.
    pub fn encode_goal(&self, goal: &GoalVideo) -> Result<Vec<f32>, RewardError> {
        let refs: Vec<&[u8]> = goal.window.iter().map(Vec::as_slice).collect();
        self.encode(&refs)
    }
}

/// Cosine similarity of two vectors (0 when either is all zeros), accumulated in f64. Both come
/// from one encoder, so they have one length; a longer one is cut to the shorter.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len(), "latents of different sizes");
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Takes an episode's frames one step at a time and yields `r_video` when it is due.
#[derive(Debug)]
pub struct VideoReward<B: Backend> {
    encoder: VideoEncoder<B>,
    goal_latent: Vec<f32>,
    every: usize,
    history: Vec<Vec<u8>>,
    /// Milliseconds spent in the last window's encode + cosine.
    pub last_ms: f64,
}

impl<B: Backend> VideoReward<B> {
    /// `every` = K: the reward is computed on steps where `step + 1` is a multiple of K (a K of
    /// 0 counts as 1; the loaders refuse it first).
    pub fn new(
        encoder: VideoEncoder<B>,
        goal: &GoalVideo,
        every: usize,
    ) -> Result<Self, RewardError> {
        let every = every.max(1);
        let goal_latent = encoder.encode_goal(goal)?;
        Ok(VideoReward {
            encoder,
            goal_latent,
            every,
            history: Vec::new(),
            last_ms: 0.0,
        })
    }

    /// Starts a new episode.
    pub fn reset(&mut self) {
        self.history.clear();
    }

    /// Aims at another goal video (its 16 sampled frames encoded once).
    pub fn set_goal(&mut self, goal: &GoalVideo) -> Result<(), RewardError> {
        self.goal_latent = self.encoder.encode_goal(goal)?;
        Ok(())
    }

    pub fn every(&self) -> usize {
        self.every
    }

    pub fn goal_latent(&self) -> &[f32] {
        &self.goal_latent
    }

    /// Feeds the frame the policy saw at the next step (`w x h` RGB). Returns `Some(r_video)` on
    /// the steps where it is paid, `None` (pay 0) elsewhere; a frame whose bytes are not
    /// `w x h x 3` is [`RewardError::FrameSize`] and is not kept.
    pub fn push(&mut self, rgb: &[u8], w: u32, h: u32) -> Result<Option<f64>, RewardError> {
        self.history
            .push(to_model_input(rgb, w, h, self.encoder.size())?);
        Ok(if self.history.len().is_multiple_of(self.every) {
            Some(self.score_now()?)
        } else {
            None
        })
    }

    /// `r_video` of the frames so far (at least one), whether due or not.
    pub fn score_now(&mut self) -> Result<f64, RewardError> {
        let t0 = Instant::now();
        let idx = uniform_indices(self.history.len(), WINDOW);
        let refs: Vec<&[u8]> = idx.iter().map(|&i| self.history[i].as_slice()).collect();
        let z = self.encoder.encode(&refs)?;
        let r = cosine(&z, &self.goal_latent);
        self.last_ms = t0.elapsed().as_secs_f64() * 1e3;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::cosine;

    #[test]
    fn cosine_closed_forms() {
        assert!((cosine(&[1.0, 0.0], &[0.0, 2.0])).abs() < 1e-12);
        assert!((cosine(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((cosine(&[1.0, 2.0], &[-1.0, -2.0]) + 1.0).abs() < 1e-12);
        assert!((cosine(&[1.0, 1.0], &[1.0, 0.0]) - 0.5f64.sqrt()).abs() < 1e-7);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}

/// A reward term fed one camera frame per step, behind a trait object so a caller can pick the
/// backend at run time ([`load_video_reward`]).
pub trait FrameTerm: Send {
    /// The term's name in `steps.jsonl` (`r_video`).
    fn name(&self) -> &'static str;
    /// A new episode begins.
    fn reset(&mut self);
    /// Aims at another goal video (sampled for this term's model, as loaded).
    fn set_goal(&mut self, goal: &GoalVideo) -> Result<(), RewardError>;
    /// The frame the policy saw at the next step; `Some(value)` when the term is paid.
    fn push(&mut self, rgb: &[u8], w: u32, h: u32) -> Result<Option<f64>, RewardError>;
    /// Milliseconds of the last computation (encode + cosine).
    fn last_ms(&self) -> f64;
}

impl<B: Backend> FrameTerm for VideoReward<B>
where
    VideoReward<B>: Send,
{
    fn name(&self) -> &'static str {
        "r_video"
    }
    fn reset(&mut self) {
        VideoReward::reset(self)
    }
    fn set_goal(&mut self, goal: &GoalVideo) -> Result<(), RewardError> {
        VideoReward::set_goal(self, goal)
    }
    fn push(&mut self, rgb: &[u8], w: u32, h: u32) -> Result<Option<f64>, RewardError> {
        VideoReward::push(self, rgb, w, h)
    }
    fn last_ms(&self) -> f64 {
        self.last_ms
    }
}
