//! Goal features: what the FB representation's B reads of a frame.
//!
//! The paper embeds goal frames with a frozen DINOv3 ViT-S/16. Without weights on the machine
//! (nothing is downloaded here), the fallback is the shipped video VAE's encoder: each frame
//! encoded alone, its latent mean (4 x 8 x 8 = 256 values for a 64x64 frame) flattened. It keeps
//! where things are in the picture, which is what a manipulation goal is about, and it is
//! trained on exactly these scenes.
//!
//! An FB checkpoint records which features it was trained on (kind and a fingerprint of the
//! VAE's weights); scoring with other features is refused.

use crate::RewardError;
use std::path::Path;

/// The name of the VAE fallback in checkpoints' `meta.json`.
pub const FEATURES_VAE: &str = "vae";

/// A short fingerprint of a VAE checkpoint's weights (FNV-1a, 64 bits, of `model.mpk`), so an
/// FB model is only ever paired with the encoder it learned from.
pub fn vae_fingerprint(vae: &Path) -> Result<String, RewardError> {
    let path = vae.join(genreward_models::checkpoint::MODEL_FILE);
    let bytes = std::fs::read(&path)
        .map_err(|e| RewardError::Invalid(format!("cannot read '{}': {e}", path.display())))?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{h:016x}"))
}
