//! Checkpoints: a folder holding `config.json` (the model's `#[derive(Config)]`), `model.mpk`
//! (burn's named MessagePack record, full precision) and `meta.json` (how it was made and how it
//! scored). Loading checks everything a user can get wrong and says so in one line: a missing
//! folder or file, a config that does not parse or differs from the one expected, a truncated or
//! corrupt record, and parameter shapes that differ from the config's.

use crate::fb::{FbConfig, FbModel};
use crate::vae::{VideoVae, VideoVaeConfig};
use burn::config::Config;
use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use std::path::{Path, PathBuf};

/// The recorder every checkpoint uses.
pub type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// File names inside a checkpoint folder.
pub const CONFIG_FILE: &str = "config.json";
pub const MODEL_FILE: &str = "model.mpk";
pub const META_FILE: &str = "meta.json";

/// Everything that can go wrong with a checkpoint; every message is one line naming the path.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint '{}' not found (expected a folder with {CONFIG_FILE} and {MODEL_FILE})", .0.display())]
    Missing(PathBuf),
    #[error("checkpoint file '{}' is missing", .0.display())]
    MissingFile(PathBuf),
    #[error("checkpoint config '{}' is not a valid {kind} config: {reason}", path.display())]
    BadConfig {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("checkpoint '{}' was made for another model: {reason}", path.display())]
    ConfigMismatch { path: PathBuf, reason: String },
    #[error("checkpoint weights '{}' are truncated or corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("checkpoint weights '{}' do not match its config: {reason}", path.display())]
    ShapeMismatch { path: PathBuf, reason: String },
    #[error("cannot write checkpoint '{}': {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

fn one_line(s: impl std::fmt::Display) -> String {
    let s = s.to_string().replace('\n', " ");
    if s.len() > 300 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(300).map(|c| c.0).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

/// Shapes of every float parameter, in visiting order.
pub fn param_shapes<B: Backend, M: Module<B>>(m: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            self.0.push(p.val().dims().to_vec());
        }
    }
    let mut v = Shapes(Vec::new());
    m.visit(&mut v);
    v.0
}

/// Writes `model` with its config (and `meta`, any JSON) into the folder `dir` (created).
pub fn save<B: Backend, M: Module<B>, C: Config>(
    dir: &Path,
    model: &M,
    config: &C,
    meta: &serde_json::Value,
) -> Result<(), CheckpointError> {
    let werr = |reason: String| CheckpointError::Write {
        path: dir.to_path_buf(),
        reason: one_line(reason),
    };
    std::fs::create_dir_all(dir).map_err(|e| werr(e.to_string()))?;
    // burn initialises parameters lazily, and a clone of a never-used model initialises its own
    // copy with fresh random numbers: touch every parameter first so the record holds the
    // weights this model computes with.
    param_shapes::<B, M>(model);
    // burn's recorder warns on stderr when it replaces a file; a checkpoint is rewritten on
    // purpose, so clear the old one first.
    let _ = std::fs::remove_file(dir.join(MODEL_FILE));
    std::fs::write(dir.join(CONFIG_FILE), burn::config::config_to_json(config))
        .map_err(|e| werr(e.to_string()))?;
    CheckpointRecorder::new()
        .record(model.clone().into_record(), dir.join("model"))
        .map_err(|e| werr(e.to_string()))?;
    let meta = serde_json::to_string_pretty(meta).map_err(|e| werr(e.to_string()))?;
    std::fs::write(dir.join(META_FILE), meta + "\n").map_err(|e| werr(e.to_string()))?;
    Ok(())
}

/// Writes an extra record (optimiser state, target networks) as `dir/<name>.mpk`.
pub fn save_record<R: burn::record::Record<B>, B: Backend>(
    dir: &Path,
    name: &str,
    record: R,
) -> Result<(), CheckpointError> {
    let _ = std::fs::remove_file(dir.join(format!("{name}.mpk")));
    CheckpointRecorder::new()
        .record(record, dir.join(name))
        .map_err(|e| CheckpointError::Write {
            path: dir.to_path_buf(),
            reason: one_line(format!("{e:?}")),
        })
}

/// Reads an extra record written by [`save_record`].
pub fn load_record<R: burn::record::Record<B>, B: Backend>(
    dir: &Path,
    name: &str,
    device: &B::Device,
) -> Result<R, CheckpointError> {
    let path = dir.join(format!("{name}.mpk"));
    if !path.is_file() {
        return Err(CheckpointError::MissingFile(path));
    }
    CheckpointRecorder::new()
        .load(dir.join(name), device)
        .map_err(|e| CheckpointError::Corrupt {
            path,
            reason: one_line(format!("{e:?}")),
        })
}

/// Reads and parses `dir/config.json`.
pub fn read_config<C: Config>(dir: &Path, kind: &'static str) -> Result<C, CheckpointError> {
    if !dir.is_dir() {
        return Err(CheckpointError::Missing(dir.to_path_buf()));
    }
    let path = dir.join(CONFIG_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|_| CheckpointError::MissingFile(path.clone()))?;
    C::load_binary(text.as_bytes()).map_err(|e| CheckpointError::BadConfig {
        path,
        kind,
        reason: one_line(format!("{e:?}")),
    })
}

/// Loads weights for `fresh` (a model built from the checkpoint's config) from `dir/model.mpk`
/// and checks every parameter's shape against `fresh`.
pub fn load_weights<B: Backend, M: Module<B>>(
    dir: &Path,
    fresh: M,
    device: &B::Device,
) -> Result<M, CheckpointError> {
    let path = dir.join(MODEL_FILE);
    if !path.is_file() {
        return Err(CheckpointError::MissingFile(path));
    }
    let want = param_shapes::<B, M>(&fresh);
    let record = CheckpointRecorder::new()
        .load::<M::Record>(dir.join("model"), device)
        .map_err(|e| CheckpointError::Corrupt {
            path: path.clone(),
            reason: one_line(format!("{e:?}")),
        })?;
    // A record whose structure differs from the model can make burn panic deep inside: turn
    // that into the same one-line error.
    let loaded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fresh.load_record(record)))
            .map_err(|_| CheckpointError::ShapeMismatch {
                path: path.clone(),
                reason: "the record's structure differs from the model's".into(),
            })?;
    let got = param_shapes::<B, M>(&loaded);
    if got.len() != want.len() {
        return Err(CheckpointError::ShapeMismatch {
            path,
            reason: format!("{} parameters, the config needs {}", got.len(), want.len()),
        });
    }
    if let Some((i, (g, w))) = got.iter().zip(&want).enumerate().find(|(_, (g, w))| g != w) {
        return Err(CheckpointError::ShapeMismatch {
            path,
            reason: format!("parameter {i} has shape {g:?}, the config needs {w:?}"),
        });
    }
    Ok(loaded)
}

/// A loaded video VAE with its config and metadata.
#[derive(Debug)]
pub struct VaeCheckpoint<B: Backend> {
    pub model: VideoVae<B>,
    pub config: VideoVaeConfig,
    pub meta: serde_json::Value,
}

/// `dir/meta.json` as JSON (`null` when absent or unreadable: metadata is informative only).
pub fn read_meta(dir: &Path) -> serde_json::Value {
    std::fs::read_to_string(dir.join(META_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Reads the config of the `kind` checkpoint in `dir` (refused when `expect` is given and
/// differs), builds the model with `init` and loads its weights.
fn load_folder<B: Backend, C: Config + PartialEq + std::fmt::Display, M: Module<B>>(
    dir: &Path,
    kind: &'static str,
    expect: Option<&C>,
    init: impl FnOnce(&C) -> M,
    device: &B::Device,
) -> Result<(M, C), CheckpointError> {
    let config: C = read_config(dir, kind)?;
    if let Some(want) = expect {
        if want != &config {
            return Err(CheckpointError::ConfigMismatch {
                path: dir.to_path_buf(),
                reason: format!("its config is {config}, expected {want}").replace('\n', ""),
            });
        }
    }
    let model = load_weights(dir, init(&config), device)?;
    Ok((model, config))
}

impl<B: Backend> VaeCheckpoint<B> {
    /// Loads the VAE in `dir`. With `expect`, a checkpoint whose config differs is refused.
    pub fn load(
        dir: &Path,
        expect: Option<&VideoVaeConfig>,
        device: &B::Device,
    ) -> Result<Self, CheckpointError> {
        let (model, config) = load_folder(
            dir,
            "video VAE",
            expect,
            |c: &VideoVaeConfig| c.init::<B>(device),
            device,
        )?;
        Ok(VaeCheckpoint {
            model,
            config,
            meta: read_meta(dir),
        })
    }
}

/// A loaded FB representation with its config and metadata.
#[derive(Debug)]
pub struct FbCheckpoint<B: Backend> {
    pub model: FbModel<B>,
    pub config: FbConfig,
    pub meta: serde_json::Value,
}

impl<B: Backend> FbCheckpoint<B> {
    /// Loads the FB model in `dir`. With `expect`, a checkpoint whose config differs is refused.
    pub fn load(
        dir: &Path,
        expect: Option<&FbConfig>,
        device: &B::Device,
    ) -> Result<Self, CheckpointError> {
        let (model, config) = load_folder(
            dir,
            "FB",
            expect,
            |c: &FbConfig| c.init::<B>(device),
            device,
        )?;
        Ok(FbCheckpoint {
            model,
            config,
            meta: read_meta(dir),
        })
    }
}

/// A loaded goal-video generator with its config and metadata.
#[derive(Debug)]
pub struct GoalGenCheckpoint<B: Backend> {
    pub model: crate::goalgen::GoalGen<B>,
    pub config: crate::goalgen::GoalGenConfig,
    pub meta: serde_json::Value,
}

impl<B: Backend> GoalGenCheckpoint<B> {
    /// Loads the generator in `dir`.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self, CheckpointError> {
        let (model, config) = load_folder(
            dir,
            "goal generator",
            None,
            |c: &crate::goalgen::GoalGenConfig| c.init::<B>(device),
            device,
        )?;
        Ok(GoalGenCheckpoint {
            model,
            config,
            meta: read_meta(dir),
        })
    }
}
