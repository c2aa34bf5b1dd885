//! Pretrained weights a user brings, read from `.safetensors` files into burn tensors.
//!
//! Tensors are looked up by name and checked against the shape the model expects; `f32`, `f16`
//! and `bf16` files are read (half precision is widened to `f32`). Every failure is one line
//! naming the file and, where it applies, the tensor and both shapes.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// Reading pretrained weights failed.
#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    #[error("weights folder '{}' not found", .0.display())]
    MissingDir(PathBuf),
    #[error("no .safetensors file in '{}'", .0.display())]
    NoFile(PathBuf),
    #[error("cannot read '{}': {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("'{}' is not a valid safetensors file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("'{}' has no tensor '{name}' (is this the right model?)", path.display())]
    MissingTensor { path: PathBuf, name: String },
    #[error("'{}': tensor '{name}' has shape {got:?}, the model needs {want:?}", path.display())]
    Shape {
        path: PathBuf,
        name: String,
        got: Vec<usize>,
        want: Vec<usize>,
    },
    #[error("'{}': tensor '{name}' is {dtype}; only f32, f16 and bf16 are read", path.display())]
    Dtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The first `.safetensors` file of `dir` (by name), or `dir` itself when it is a file.
pub fn find_safetensors(dir: &Path) -> Result<PathBuf, WeightError> {
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    if !dir.is_dir() {
        return Err(WeightError::MissingDir(dir.to_path_buf()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| WeightError::Read {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .ok_or_else(|| WeightError::NoFile(dir.to_path_buf()))
}

/// A safetensors file held in memory.
pub struct WeightFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl WeightFile {
    /// Reads `path` and checks its header.
    pub fn open(path: &Path) -> Result<WeightFile, WeightError> {
        let bytes = std::fs::read(path).map_err(|e| WeightError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        SafeTensors::deserialize(&bytes).map_err(|e| WeightError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(WeightFile {
            path: path.to_path_buf(),
            bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn st(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("checked on open")
    }

    /// Whether the file holds `name`.
    pub fn has(&self, name: &str) -> bool {
        self.st().tensor(name).is_ok()
    }

    /// Names of every tensor.
    pub fn names(&self) -> Vec<String> {
        self.st().names().into_iter().map(String::from).collect()
    }

    /// The shape of `name`.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>, WeightError> {
        let st = self.st();
        let t = st.tensor(name).map_err(|_| WeightError::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
        })?;
        Ok(t.shape().to_vec())
    }

    /// `name` as `f32` values, with its shape.
    pub fn values(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>), WeightError> {
        let st = self.st();
        let t = st.tensor(name).map_err(|_| WeightError::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
        })?;
        let d = t.data();
        let v: Vec<f32> = match t.dtype() {
            Dtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => d
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => d
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(WeightError::Dtype {
                    path: self.path.clone(),
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(WeightError::Invalid(format!(
                "'{}': tensor '{name}' holds a non-finite value at {i}",
                self.path.display()
            )));
        }
        Ok((v, t.shape().to_vec()))
    }

    /// `name` as a tensor of shape `want` (checked).
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        want: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D>, WeightError> {
        let (v, shape) = self.values(name)?;
        if shape != want {
            return Err(WeightError::Shape {
                path: self.path.clone(),
                name: name.to_string(),
                got: shape,
                want: want.to_vec(),
            });
        }
        Ok(Tensor::from_data(TensorData::new(v, want), device))
    }
}
