//! genreward-models: the burn models of GenReward, generic over burn's `Backend`, no Bevy inside.
//!
//! - [`vae`]: the 3D causal video VAE whose latents give the video-level reward;
//! - [`fb`]: the forward-backward representation whose `F^T z` gives the frame-level reward;
//! - [`clip`]: CLIP's image and text towers (OpenCLIP layout) from a user's weights, with its
//!   BPE tokenizer ([`bpe`]), scoring goal frames against the task's sentence;
//! - [`dino`]: DINOv2 image towers from a user's weights, for goal features;
//! - [`dreamer`]: DreamerV3's building blocks (two-hot heads, categorical latents, return
//!   normalisation);
//! - [`vit`], [`weights`]: transformer pieces and safetensors loading for pretrained models;
//! - [`backend`]: the CPU (`flex`) and GPU (`wgpu`) backends and `--device cpu|wgpu`;
//! - [`checkpoint`]: burn records with their config as JSON beside them, checked on load;
//! - [`frames`]: uint8 RGB frames to tensors and back;
//! - [`train`]: the VAE's training step (the data and the loop's bookkeeping live in the caller).
//!
//! Every module is a `#[derive(Module)]` built by `init` on a `#[derive(Config)]`.

pub mod backend;
pub mod bpe;
pub mod checkpoint;
pub mod clip;
pub mod dino;
pub mod dreamer;
pub mod fb;
pub mod frames;
pub mod goalgen;
pub mod train;
pub mod vae;
pub mod vit;
pub mod weights;

pub use backend::{DeviceKind, UnknownDevice};
pub use checkpoint::{CheckpointError, FbCheckpoint, VaeCheckpoint};
pub use fb::{FbBatch, FbConfig, FbModel, FbStats, FbTrainer};
pub use vae::{VideoVae, VideoVaeConfig};
