//! DINO image towers (ViT-S/14 and the like) from a user's weights, for goal features: Hugging
//! Face transformers' `Dinov2Model` layout (`model.safetensors` + `config.json`). The output is
//! the CLS token after the final layer norm (transformers' `pooler_output`), 384 values for a
//! ViT-S. Frames are resized to the model's `image_size` (Pillow's bicubic) and normalised with
//! ImageNet's mean and std.
//!
//! The DINOv3 layout (`DINOv3ViTModel`: register tokens, rotary position embeddings) is refused
//! with a clear error for now; its fixtures are already in `tests/fixtures/dinov3*_tiny`.
//! Checked against transformers 5.17 on a tiny random-weight model (`tests/dino.rs`).

use crate::vit::{attention, frames_to_pixels, patchify, Act, LayerNorm, Linear};
use crate::weights::{find_safetensors, WeightError, WeightFile};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use std::path::Path;

pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Sizes read from `config.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct DinoConfig {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub mlp: usize,
    pub patch: usize,
    pub image_size: usize,
    pub eps: f64,
}

struct Layer<B: Backend> {
    norm1: LayerNorm<B>,
    q: Linear<B>,
    k: Linear<B>,
    v: Linear<B>,
    o: Linear<B>,
    ls1: Tensor<B, 1>,
    norm2: LayerNorm<B>,
    fc1: Linear<B>,
    fc2: Linear<B>,
    ls2: Tensor<B, 1>,
}

/// A DINOv2 image tower.
pub struct DinoModel<B: Backend> {
    pub config: DinoConfig,
    cls: Tensor<B, 1>,
    /// Position embeddings `[1 + grid^2, D]` as stored (interpolated per input size).
    pos: Vec<f32>,
    patch_w: Tensor<B, 4>,
    patch_b: Tensor<B, 1>,
    layers: Vec<Layer<B>>,
    norm: LayerNorm<B>,
    device: B::Device,
}

impl<B: Backend> DinoModel<B> {
    /// Loads the model in `dir` (see the module docs).
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self, WeightError> {
        let cpath = dir.join("config.json");
        let text = std::fs::read_to_string(&cpath).map_err(|e| WeightError::Read {
            path: cpath.clone(),
            reason: e.to_string(),
        })?;
        let c: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| WeightError::Corrupt {
                path: cpath.clone(),
                reason: e.to_string(),
            })?;
        match c["model_type"].as_str().unwrap_or("") {
            "dinov2" => {}
            "dinov3_vit" => {
                return Err(WeightError::Invalid(format!(
                    "'{}': the DINOv3 layout is not supported yet (DINOv2 is)",
                    dir.display()
                )))
            }
            other => {
                return Err(WeightError::Invalid(format!(
                    "'{}': model_type '{other}' is not a DINO image tower (dinov2)",
                    cpath.display()
                )))
            }
        }
        if c["use_swiglu_ffn"].as_bool().unwrap_or(false) {
            return Err(WeightError::Invalid(format!(
                "'{}': SwiGLU feed-forward layers (DINOv2 giant) are not supported",
                cpath.display()
            )));
        }
        let get = |k: &str| -> Result<usize, WeightError> {
            c[k].as_f64().map(|v| v as usize).ok_or_else(|| {
                WeightError::Invalid(format!("'{}' has no number '{k}'", cpath.display()))
            })
        };
        let hidden = get("hidden_size")?;
        let config = DinoConfig {
            hidden,
            layers: get("num_hidden_layers")?,
            heads: get("num_attention_heads")?,
            mlp: (hidden as f64 * c["mlp_ratio"].as_f64().unwrap_or(4.0)) as usize,
            patch: get("patch_size")?,
            image_size: get("image_size")?,
            eps: c["layer_norm_eps"].as_f64().unwrap_or(1e-6),
        };
        let f = WeightFile::open(&find_safetensors(dir)?)?;
        let (d, p, dev) = (hidden, config.patch, device);
        let grid = config.image_size / p;
        let (pos, pshape) = f.values("embeddings.position_embeddings")?;
        if pshape != [1, 1 + grid * grid, d] {
            return Err(WeightError::Shape {
                path: f.path().to_path_buf(),
                name: "embeddings.position_embeddings".into(),
                got: pshape,
                want: vec![1, 1 + grid * grid, d],
            });
        }
        let layers = (0..config.layers)
            .map(|i| {
                let l = format!("encoder.layer.{i}");
                Ok(Layer {
                    norm1: LayerNorm::load(&f, &format!("{l}.norm1"), d, config.eps, dev)?,
                    q: Linear::load(
                        &f,
                        &format!("{l}.attention.attention.query"),
                        d,
                        d,
                        true,
                        dev,
                    )?,
                    k: Linear::load(&f, &format!("{l}.attention.attention.key"), d, d, true, dev)?,
                    v: Linear::load(
                        &f,
                        &format!("{l}.attention.attention.value"),
                        d,
                        d,
                        true,
                        dev,
                    )?,
                    o: Linear::load(&f, &format!("{l}.attention.output.dense"), d, d, true, dev)?,
                    ls1: f.tensor(&format!("{l}.layer_scale1.lambda1"), [d], dev)?,
                    norm2: LayerNorm::load(&f, &format!("{l}.norm2"), d, config.eps, dev)?,
                    fc1: Linear::load(&f, &format!("{l}.mlp.fc1"), d, config.mlp, true, dev)?,
                    fc2: Linear::load(&f, &format!("{l}.mlp.fc2"), config.mlp, d, true, dev)?,
                    ls2: f.tensor(&format!("{l}.layer_scale2.lambda1"), [d], dev)?,
                })
            })
            .collect::<Result<Vec<_>, WeightError>>()?;
        Ok(DinoModel {
            cls: f
                .tensor::<B, 3>("embeddings.cls_token", [1, 1, d], dev)?
                .reshape([d]),
            pos,
            patch_w: f.tensor(
                "embeddings.patch_embeddings.projection.weight",
                [d, 3, p, p],
                dev,
            )?,
            patch_b: f.tensor("embeddings.patch_embeddings.projection.bias", [d], dev)?,
            layers,
            norm: LayerNorm::load(&f, "layernorm", d, config.eps, dev)?,
            config,
            device: device.clone(),
        })
    }

    /// Length of one feature vector.
    pub fn feature_dim(&self) -> usize {
        self.config.hidden
    }

    /// Position embeddings for a `gh x gw` patch grid: the stored ones, or their patch part
    /// resized as transformers does (PyTorch's bicubic, a = -0.75, half-pixel centres).
    fn positions(&self, gh: usize, gw: usize) -> Tensor<B, 2> {
        let d = self.config.hidden;
        let g = self.config.image_size / self.config.patch;
        let mut out = self.pos[..d].to_vec();
        if gh == g && gw == g {
            out.extend_from_slice(&self.pos[d..]);
        } else {
            let src = &self.pos[d..];
            let wy = cubic_taps(g, gh);
            let wx = cubic_taps(g, gw);
            for (ys, yw) in &wy {
                for (xs, xw) in &wx {
                    for c in 0..d {
                        let mut v = 0f32;
                        for (a, &iy) in ys.iter().enumerate() {
                            for (b, &ix) in xs.iter().enumerate() {
                                v += yw[a] * xw[b] * src[(iy * g + ix) * d + c];
                            }
                        }
                        out.push(v);
                    }
                }
            }
        }
        Tensor::from_data(TensorData::new(out, [1 + gh * gw, d]), &self.device)
    }

    /// Features (CLS after the final norm) of `[N, 3, H, W]` pixels already normalised; H and W
    /// multiples of the patch size.
    pub fn encode_pixels(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let [n, _, h, w] = x.dims();
        let (p, d) = (self.config.patch, self.config.hidden);
        let tokens = patchify(x, &self.patch_w, Some(&self.patch_b));
        let cls = self.cls.clone().reshape([1, 1, d]).repeat_dim(0, n);
        let mut z =
            Tensor::cat(vec![cls, tokens], 1) + self.positions(h / p, w / p).unsqueeze::<3>();
        for l in &self.layers {
            let y = l.norm1.forward(z.clone());
            let a = attention(
                l.q.forward(y.clone()),
                l.k.forward(y.clone()),
                l.v.forward(y),
                self.config.heads,
                None,
            );
            z = z + l.o.forward(a) * l.ls1.clone().unsqueeze::<3>();
            let y = Act::Gelu.apply(l.fc1.forward(l.norm2.forward(z.clone())));
            z = z + l.fc2.forward(y) * l.ls2.clone().unsqueeze::<3>();
        }
        self.norm.forward(z).narrow(1, 0, 1).reshape([n, d])
    }

    /// Features of RGB frames (`w x h`, any size), resized to the model's image size.
    pub fn encode_frames(&self, frames: &[&[u8]], w: u32, h: u32) -> Tensor<B, 2> {
        let s = self.config.image_size as u32;
        let px = frames_to_pixels::<B>(frames, w, h, s, IMAGENET_MEAN, IMAGENET_STD, &self.device);
        self.encode_pixels(px)
    }
}

/// For each of `n_out` positions resized from `n_in`: the four source indices (clamped at the
/// edges) and PyTorch's bicubic weights (a = -0.75, `align_corners=False`).
fn cubic_taps(n_in: usize, n_out: usize) -> Vec<([usize; 4], [f32; 4])> {
    let a = -0.75f64;
    let near = |t: f64| ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    let far = |t: f64| ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    let scale = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let src = (o as f64 + 0.5) * scale - 0.5;
            let x0 = src.floor();
            let t = src - x0;
            let w = [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)];
            let idx = [-1i64, 0, 1, 2].map(|k| (x0 as i64 + k).clamp(0, n_in as i64 - 1) as usize);
            (idx, w.map(|v| v as f32))
        })
        .collect()
}
