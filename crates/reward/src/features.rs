//! Goal features: what the FB representation's B reads of a frame ([`GoalEncoder`]).
//!
//! - `dino`: as in the paper, a frozen DINO image tower (DINOv3 ViT-S/16 there; DINOv2 or
//!   DINOv3 weights the user brings, `train fb --dino DIR`), its CLS feature (384 values for a
//!   ViT-S) of the frame resized to the tower's input size (its `image_size`, or
//!   `--dino-size`).
//! - `vae`, the fallback that works with nothing downloaded: the shipped video VAE's encoder,
//!   each frame encoded alone, its latent mean (4 x 8 x 8 = 256 values for a 64x64 frame)
//!   flattened. It keeps where things are in the picture, which is what a manipulation goal is
//!   about, and it is trained on exactly these scenes.
//!
//! Frames reach either encoder at the VAE's frame size (the size datasets and goal videos are
//! read at). F's state is either the 39-d observation or these same features of the current
//! frame ([`StateKind`]). An FB checkpoint records which features it was trained on (kind,
//! a fingerprint of the weights, DINO's input size); scoring with other features is refused.

use crate::video::VideoEncoder;
use crate::RewardError;
use burn::tensor::backend::Backend;
use genreward_models::dino::DinoModel;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What F reads as the agent's state (`meta.json`'s `"state"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// The 39-d observation (standardised inside the model).
    Obs39,
    /// The goal features of the current camera frame (the same encoder as B's goals).
    Frame,
    /// A DreamerV3 agent's model state `[h, z]` at the step (`train dreamer --fb-state
    /// dreamer` trains such a representation online): only a live run of that agent
    /// (`rollout --policy agent:DIR`) can give it.
    #[serde(rename = "dreamer")]
    Model,
}

impl StateKind {
    /// The name in `meta.json` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StateKind::Obs39 => "obs39",
            StateKind::Frame => "frame",
            StateKind::Model => "dreamer",
        }
    }
}

impl std::str::FromStr for StateKind {
    type Err = RewardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "obs39" | "obs" => Ok(StateKind::Obs39),
            "frame" | "image" => Ok(StateKind::Frame),
            "dreamer" | "model" => Ok(StateKind::Model),
            other => Err(RewardError::Invalid(format!(
                "unknown FB state '{other}' (known: obs39, frame, dreamer)"
            ))),
        }
    }
}

/// The name of the VAE fallback in checkpoints' `meta.json`.
pub const FEATURES_VAE: &str = "vae";
/// The name of DINO features in checkpoints' `meta.json`.
pub const FEATURES_DINO: &str = "dino";

/// A short fingerprint of a file (FNV-1a, 64 bits), so an FB model is only ever paired with the
/// encoder it learned from.
pub fn file_fingerprint(path: &Path) -> Result<String, RewardError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .map_err(|e| RewardError::Invalid(format!("cannot read '{}': {e}", path.display())))?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| RewardError::Invalid(format!("cannot read '{}': {e}", path.display())))?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{h:016x}"))
}

/// The fingerprint of a VAE checkpoint's weights (`model.mpk`).
pub fn vae_fingerprint(vae: &Path) -> Result<String, RewardError> {
    file_fingerprint(&vae.join(genreward_models::checkpoint::MODEL_FILE))
}

/// The fingerprint of DINO weights (the folder's safetensors file).
pub fn dino_fingerprint(dir: &Path) -> Result<String, RewardError> {
    file_fingerprint(&genreward_models::weights::find_safetensors(dir)?)
}

/// A frozen DINO tower as a goal-feature encoder.
pub struct DinoFeatures<B: Backend> {
    model: DinoModel<B>,
    dir: PathBuf,
    fingerprint: String,
    /// The side frames are resized to before the tower.
    side: u32,
    /// The side of the frames handed in (the VAE's).
    frame: u32,
}

/// Goal features of frames at the VAE's size: the VAE fallback or a DINO tower.
pub enum GoalEncoder<B: Backend> {
    Vae {
        encoder: Box<VideoEncoder<B>>,
        dir: PathBuf,
        fingerprint: String,
    },
    Dino(Box<DinoFeatures<B>>),
}

impl<B: Backend> std::fmt::Debug for GoalEncoder<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GoalEncoder({})", self.meta())
    }
}

impl<B: Backend> GoalEncoder<B> {
    /// The VAE in `dir` as the encoder.
    pub fn vae(dir: &Path, device: B::Device) -> Result<Self, RewardError> {
        Ok(GoalEncoder::Vae {
            encoder: Box::new(crate::load::load_encoder(dir, device)?),
            dir: dir.to_path_buf(),
            fingerprint: vae_fingerprint(dir)?,
        })
    }

    /// The DINO weights in `dir`, frames (`frame x frame`) resized to `side` (default: the
    /// tower's `image_size`; a multiple of its patch size).
    pub fn dino(
        dir: &Path,
        side: Option<usize>,
        frame: u32,
        device: &B::Device,
    ) -> Result<Self, RewardError> {
        let model = DinoModel::<B>::load(dir, device)?;
        let (p, side) = (model.config.patch, side.unwrap_or(model.config.image_size));
        if side == 0 || side % p != 0 {
            return Err(RewardError::Invalid(format!(
                "--dino-size {side} is not a positive multiple of the DINO patch size {p}"
            )));
        }
        Ok(GoalEncoder::Dino(Box::new(DinoFeatures {
            fingerprint: dino_fingerprint(dir)?,
            model,
            dir: dir.to_path_buf(),
            side: side as u32,
            frame,
        })))
    }

    /// The encoder an FB checkpoint's `meta.json` names (`goal_features`), checked against the
    /// weights found: the VAE in `vae` (whose frame size frames come at), and for DINO features
    /// `dino` or else the folder the checkpoint was trained with.
    pub fn from_meta(
        meta: &Value,
        fb: &Path,
        vae: &Path,
        dino: Option<&Path>,
        device: &B::Device,
    ) -> Result<Self, RewardError> {
        let feats = &meta["goal_features"];
        let kind = feats["kind"].as_str().unwrap_or("");
        let fbn = fb.display();
        match kind {
            FEATURES_VAE => {
                if let Some(d) = dino {
                    return Err(RewardError::Invalid(format!(
                        "FB checkpoint '{fbn}' reads VAE goal features, not DINO ones: --dino '{}' does not apply (train fb --dino to use DINO)",
                        d.display()
                    )));
                }
                let want = feats["vae_fingerprint"].as_str().unwrap_or("");
                let have = vae_fingerprint(vae)?;
                if want != have {
                    return Err(RewardError::Invalid(format!(
                        "FB checkpoint '{fbn}' was trained on the features of another VAE (fingerprint {want}; '{}' is {have}): pass the --vae it was trained with",
                        vae.display()
                    )));
                }
                Self::vae(vae, device.clone())
            }
            FEATURES_DINO => {
                let recorded = feats["dino"].as_str().map(PathBuf::from);
                let dir = match (dino, &recorded) {
                    (Some(d), _) => d.to_path_buf(),
                    (None, Some(r)) if r.is_dir() => r.clone(),
                    (None, r) => {
                        return Err(RewardError::Invalid(format!(
                            "FB checkpoint '{fbn}' reads DINO goal features of '{}', which is not here: give the folder that holds those weights",
                            r.as_deref().unwrap_or(Path::new("?")).display()
                        )))
                    }
                };
                let want = feats["dino_fingerprint"].as_str().unwrap_or("");
                let have = dino_fingerprint(&dir)?;
                if want != have {
                    return Err(RewardError::Invalid(format!(
                        "FB checkpoint '{fbn}' was trained on other DINO weights (fingerprint {want}; '{}' is {have})",
                        dir.display()
                    )));
                }
                let frame = crate::load::vae_frame_size(vae)?;
                let want_frame = feats["frame_size"].as_u64().unwrap_or(0) as u32;
                if want_frame != frame {
                    return Err(RewardError::Invalid(format!(
                        "FB checkpoint '{fbn}' saw DINO features of {want_frame}-pixel frames; the VAE '{}' reads {frame}",
                        vae.display()
                    )));
                }
                let side = feats["size"].as_u64().map(|v| v as usize);
                Self::dino(&dir, side, frame, device)
            }
            other => Err(RewardError::Invalid(format!(
                "FB checkpoint '{fbn}' reads goal features '{other}'; this build computes '{FEATURES_VAE}' and '{FEATURES_DINO}'"
            ))),
        }
    }

    /// `vae` or `dino`.
    pub fn kind(&self) -> &'static str {
        match self {
            GoalEncoder::Vae { .. } => FEATURES_VAE,
            GoalEncoder::Dino(_) => FEATURES_DINO,
        }
    }

    /// Length of one frame's features.
    pub fn dim(&self) -> usize {
        match self {
            GoalEncoder::Vae { encoder, .. } => encoder.frame_feature_dim(),
            GoalEncoder::Dino(d) => d.model.feature_dim(),
        }
    }

    /// The side of the square frames [`features`](Self::features) takes (the VAE's).
    pub fn frame_size(&self) -> u32 {
        match self {
            GoalEncoder::Vae { encoder, .. } => encoder.size(),
            GoalEncoder::Dino(d) => d.frame,
        }
    }

    /// Features of frames (`frame_size` squared RGB each): `frames.len()` rows, concatenated.
    /// A frame of another size is [`RewardError::Frames`].
    pub fn features(&self, frames: &[&[u8]]) -> Result<Vec<f32>, RewardError> {
        match self {
            GoalEncoder::Vae { encoder, .. } => encoder.frame_features(frames),
            GoalEncoder::Dino(d) => {
                let mut out = Vec::with_capacity(frames.len() * d.model.feature_dim());
                for chunk in frames.chunks(32) {
                    let f = d.model.encode_frames_at(chunk, d.frame, d.frame, d.side)?;
                    out.extend(f.into_data().convert::<f32>().to_vec::<f32>().expect("f32"));
                }
                Ok(out)
            }
        }
    }

    /// What `meta.json` records as `goal_features`.
    pub fn meta(&self) -> Value {
        match self {
            GoalEncoder::Vae {
                dir, fingerprint, ..
            } => json!({"kind": FEATURES_VAE, "vae": dir.display().to_string(),
                "vae_fingerprint": fingerprint, "dim": self.dim()}),
            GoalEncoder::Dino(d) => json!({"kind": FEATURES_DINO,
                "dino": d.dir.display().to_string(), "dino_fingerprint": d.fingerprint,
                "layout": d.model.config.layout.name(), "size": d.side, "frame_size": d.frame,
                "dim": self.dim()}),
        }
    }
}
