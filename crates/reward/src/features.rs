//! Goal features: what the FB representation's B reads of a frame.
//!
//! The paper embeds goal frames with a frozen DINOv3 ViT-S/16. Without weights on the machine
//! (nothing is downloaded here), the fallback is the shipped video VAE's encoder: each frame
//! encoded alone, its latent mean (4 x 8 x 8 = 256 values for a 64x64 frame) flattened. It keeps
//! where things are in the picture, which is what a manipulation goal is about, and it is
//! trained on exactly these scenes.
//!
//! F's state is either the 39-d observation or these same features of the current frame
//! ([`StateKind`]). An FB checkpoint records which features it was trained on (kind and a fingerprint of the
//! VAE's weights); scoring with other features is refused.

use crate::RewardError;
use std::path::Path;

/// What F reads as the agent's state (`meta.json`'s `"state"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// The 39-d observation (standardised inside the model).
    Obs39,
    /// The goal features of the current camera frame (the same encoder as B's goals).
    Frame,
}

impl StateKind {
    /// The name in `meta.json` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StateKind::Obs39 => "obs39",
            StateKind::Frame => "frame",
        }
    }
}

impl std::str::FromStr for StateKind {
    type Err = RewardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "obs39" | "obs" => Ok(StateKind::Obs39),
            "frame" | "image" => Ok(StateKind::Frame),
            other => Err(RewardError::Invalid(format!(
                "unknown FB state '{other}' (known: obs39, frame)"
            ))),
        }
    }
}

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
