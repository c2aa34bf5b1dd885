//! DINO image towers (ViT-S/14, ViT-S/16 and the like) from a user's weights, for goal
//! features, in Hugging Face transformers' layouts (`model.safetensors` + `config.json`):
//!
//! - `Dinov2Model` (`model_type` `dinov2`): learned position embeddings, interpolated
//!   (PyTorch's bicubic) when the input is not the trained size;
//! - `DINOv3ViTModel` (`dinov3_vit`, the paper's ViT-S/16): register tokens after the CLS
//!   token, rotary position embeddings on the patch tokens' queries and keys (patch centres in
//!   [-1, 1], `head_dim / 4` frequencies per axis, so any input size works), optional biases,
//!   and the gated (SwiGLU-style) MLP of the larger models.
//!
//! The output is the CLS token after the final layer norm (transformers' `pooler_output`), 384
//! values for a ViT-S. Frames are resized (Pillow's bicubic) and normalised with ImageNet's mean
//! and std. Checked against transformers 5.17 on tiny random-weight models (`tests/dino.rs`).

use crate::frames::FrameSizeError;
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
    pub layout: Layout,
}

/// Which family the weights are.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    Dinov2,
    Dinov3 {
        registers: usize,
        rope_theta: f64,
        gated_mlp: bool,
    },
}

impl Layout {
    /// `dinov2` or `dinov3`, as goal-feature metadata names it.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Dinov2 => "dinov2",
            Layout::Dinov3 { .. } => "dinov3",
        }
    }
}

struct Layer<B: Backend> {
    norm1: LayerNorm<B>,
    q: Linear<B>,
    k: Linear<B>,
    v: Linear<B>,
    o: Linear<B>,
    ls1: Tensor<B, 1>,
    norm2: LayerNorm<B>,
    /// The MLP's first projection (`up_proj` in DINOv3).
    fc1: Linear<B>,
    /// DINOv3's gate projection when the MLP is gated: `down(act(gate x) * up x)`.
    gate: Option<Linear<B>>,
    fc2: Linear<B>,
    ls2: Tensor<B, 1>,
}

/// A DINOv2 or DINOv3 image tower.
pub struct DinoModel<B: Backend> {
    pub config: DinoConfig,
    cls: Tensor<B, 1>,
    /// DINOv3's register tokens `[R, D]`, placed after CLS.
    registers: Option<Tensor<B, 2>>,
    /// DINOv2's position embeddings `[1 + grid^2, D]` as stored (interpolated per input size).
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
        let (config, c) = read_config(dir)?;
        let v3 = matches!(config.layout, Layout::Dinov3 { .. });
        let f = WeightFile::open(&find_safetensors(dir)?)?;
        let (d, p, dev) = (config.hidden, config.patch, device);
        let pos = if v3 {
            Vec::new()
        } else {
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
            pos
        };
        let layers = (0..config.layers)
            .map(|i| load_layer(&f, i, &config, &c, dev))
            .collect::<Result<Vec<_>, WeightError>>()?;
        let registers = match config.layout {
            Layout::Dinov3 { registers: r, .. } if r > 0 => Some(
                f.tensor::<B, 3>("embeddings.register_tokens", [1, r, d], dev)?
                    .reshape([r, d]),
            ),
            _ => None,
        };
        let (pw, pb, norm) = if v3 {
            (
                "embeddings.patch_embeddings.weight",
                "embeddings.patch_embeddings.bias",
                "norm",
            )
        } else {
            (
                "embeddings.patch_embeddings.projection.weight",
                "embeddings.patch_embeddings.projection.bias",
                "layernorm",
            )
        };
        Ok(DinoModel {
            cls: f
                .tensor::<B, 3>("embeddings.cls_token", [1, 1, d], dev)?
                .reshape([d]),
            registers,
            pos,
            patch_w: f.tensor(pw, [d, 3, p, p], dev)?,
            patch_b: f.tensor(pb, [d], dev)?,
            layers,
            norm: LayerNorm::load(&f, norm, d, config.eps, dev)?,
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

    /// DINOv3's rotary tables for a `gh x gw` patch grid: `cos` and `sin`, `[gh * gw, head_dim]`.
    /// Patch centres in [-1, 1] (y, x); `head_dim / 4` frequencies `theta^-(4k / head_dim)` per
    /// axis; the angles `2 pi c f` laid out as (y freqs, x freqs) twice.
    fn rope(&self, gh: usize, gw: usize, theta: f64) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let dh = self.config.hidden / self.config.heads;
        let freqs: Vec<f64> = (0..dh / 4)
            .map(|k| 1.0 / theta.powf((4 * k) as f64 / dh as f64))
            .collect();
        let (mut cos, mut sin) = (
            Vec::with_capacity(gh * gw * dh),
            Vec::with_capacity(gh * gw * dh),
        );
        for y in 0..gh {
            for x in 0..gw {
                // As f32, the way the reference computes them.
                let cy = 2.0 * ((y as f32 + 0.5) / gh as f32) - 1.0;
                let cx = 2.0 * ((x as f32 + 0.5) / gw as f32) - 1.0;
                let half: Vec<f32> = [cy, cx]
                    .iter()
                    .flat_map(|&c| {
                        freqs
                            .iter()
                            .map(move |&f| 2.0 * std::f32::consts::PI * c * f as f32)
                    })
                    .collect();
                for _ in 0..2 {
                    cos.extend(half.iter().map(|a| a.cos()));
                    sin.extend(half.iter().map(|a| a.sin()));
                }
            }
        }
        let t = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [gh * gw, dh]), &self.device);
        (t(cos), t(sin))
    }

    /// Features (CLS after the final norm) of `[N, 3, H, W]` pixels already normalised; H and W
    /// multiples of the patch size.
    pub fn encode_pixels(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let [n, _, h, w] = x.dims();
        let (p, d, heads) = (self.config.patch, self.config.hidden, self.config.heads);
        let (gh, gw) = (h / p, w / p);
        let tokens = patchify(x, &self.patch_w, Some(&self.patch_b));
        let cls = self.cls.clone().reshape([1, 1, d]).repeat_dim(0, n);
        let (mut z, rope) = match self.config.layout {
            Layout::Dinov2 => (
                Tensor::cat(vec![cls, tokens], 1) + self.positions(gh, gw).unsqueeze::<3>(),
                None,
            ),
            Layout::Dinov3 { rope_theta, .. } => {
                let mut parts = vec![cls];
                if let Some(r) = &self.registers {
                    parts.push(r.clone().unsqueeze::<3>().repeat_dim(0, n));
                }
                parts.push(tokens);
                let prefix = 1 + self.registers.as_ref().map_or(0, |r| r.dims()[0]);
                (
                    Tensor::cat(parts, 1),
                    Some((self.rope(gh, gw, rope_theta), prefix)),
                )
            }
        };
        // q, k of the patch tokens rotated: x cos + rotate_half(x) sin, per head.
        let rotate = |x: Tensor<B, 3>| -> Tensor<B, 3> {
            let Some(((cos, sin), prefix)) = &rope else {
                return x;
            };
            let [n, t, c] = x.dims();
            let dh = c / heads;
            let x = x.reshape([n, t, heads, dh]);
            let head = x.clone().narrow(1, 0, *prefix);
            let pt = x.narrow(1, *prefix, t - prefix);
            let half = Tensor::cat(
                vec![
                    pt.clone().narrow(3, dh / 2, dh / 2).neg(),
                    pt.clone().narrow(3, 0, dh / 2),
                ],
                3,
            );
            let b = |m: &Tensor<B, 2>| m.clone().reshape([1, t - prefix, 1, dh]);
            let pt = pt * b(cos) + half * b(sin);
            Tensor::cat(vec![head, pt], 1).reshape([n, t, c])
        };
        for l in &self.layers {
            let y = l.norm1.forward(z.clone());
            let a = attention(
                rotate(l.q.forward(y.clone())),
                rotate(l.k.forward(y.clone())),
                l.v.forward(y),
                heads,
                None,
            );
            z = z + l.o.forward(a) * l.ls1.clone().unsqueeze::<3>();
            let y = l.norm2.forward(z.clone());
            let y = match &l.gate {
                Some(g) => Act::Gelu.apply(g.forward(y.clone())) * l.fc1.forward(y),
                None => Act::Gelu.apply(l.fc1.forward(y)),
            };
            z = z + l.fc2.forward(y) * l.ls2.clone().unsqueeze::<3>();
        }
        self.norm.forward(z).narrow(1, 0, 1).reshape([n, d])
    }

    /// Features of RGB frames (`w x h`, any size), resized to the model's image size.
    pub fn encode_frames(
        &self,
        frames: &[&[u8]],
        w: u32,
        h: u32,
    ) -> Result<Tensor<B, 2>, FrameSizeError> {
        self.encode_frames_at(frames, w, h, self.config.image_size as u32)
    }

    /// Features of RGB frames resized to `side x side` (a multiple of the patch size; DINOv2
    /// interpolates its position embeddings, DINOv3's rotary ones take any grid).
    /// A frame whose bytes are not `w x h x 3` is a [`FrameSizeError`].
    pub fn encode_frames_at(
        &self,
        frames: &[&[u8]],
        w: u32,
        h: u32,
        side: u32,
    ) -> Result<Tensor<B, 2>, FrameSizeError> {
        let px = frames_to_pixels::<B>(
            frames,
            w,
            h,
            side,
            IMAGENET_MEAN,
            IMAGENET_STD,
            &self.device,
        );
        Ok(self.encode_pixels(px?))
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

/// The model's shape from `dir/config.json`, checked, and the raw config (its per-layer bias
/// flags).
fn read_config(dir: &Path) -> Result<(DinoConfig, serde_json::Value), WeightError> {
    let cpath = dir.join("config.json");
    let text = std::fs::read_to_string(&cpath).map_err(|e| WeightError::Read {
        path: cpath.clone(),
        reason: e.to_string(),
    })?;
    let c: serde_json::Value = serde_json::from_str(&text).map_err(|e| WeightError::Corrupt {
        path: cpath.clone(),
        reason: e.to_string(),
    })?;
    let get = |k: &str| -> Result<usize, WeightError> {
        c[k].as_f64().map(|v| v as usize).ok_or_else(|| {
            WeightError::Invalid(format!("'{}' has no number '{k}'", cpath.display()))
        })
    };
    let flag = |k: &str, default: bool| c[k].as_bool().unwrap_or(default);
    let hidden = get("hidden_size")?;
    let (layout, mlp) = match c["model_type"].as_str().unwrap_or("") {
        "dinov2" => {
            if flag("use_swiglu_ffn", false) {
                return Err(WeightError::Invalid(format!(
                    "'{}': SwiGLU feed-forward layers (DINOv2 giant) are not supported",
                    cpath.display()
                )));
            }
            let ratio = c["mlp_ratio"].as_f64().unwrap_or(4.0);
            (Layout::Dinov2, (hidden as f64 * ratio) as usize)
        }
        "dinov3_vit" => (
            Layout::Dinov3 {
                registers: get("num_register_tokens")?,
                rope_theta: c["rope_theta"].as_f64().unwrap_or(100.0),
                gated_mlp: flag("use_gated_mlp", false),
            },
            get("intermediate_size")?,
        ),
        other => {
            return Err(WeightError::Invalid(format!(
                "'{}': model_type '{other}' is not a DINO image tower (dinov2, dinov3_vit)",
                cpath.display()
            )))
        }
    };
    let act = c["hidden_act"].as_str().unwrap_or("gelu");
    if act != "gelu" {
        return Err(WeightError::Invalid(format!(
            "'{}': hidden_act '{act}' is not supported (gelu)",
            cpath.display()
        )));
    }
    let config = DinoConfig {
        hidden,
        layers: get("num_hidden_layers")?,
        heads: get("num_attention_heads")?,
        mlp,
        patch: get("patch_size")?,
        image_size: get("image_size")?,
        eps: c["layer_norm_eps"].as_f64().unwrap_or(1e-6),
        layout,
    };
    let v3 = matches!(config.layout, Layout::Dinov3 { .. });
    if config.heads == 0
        || hidden % config.heads != 0
        || (v3 && !(hidden / config.heads).is_multiple_of(4))
    {
        return Err(WeightError::Invalid(format!(
            "'{}': hidden_size {hidden} does not split into {} heads{}",
            cpath.display(),
            config.heads,
            if v3 {
                " of a multiple of 4 (rotary embeddings)"
            } else {
                ""
            }
        )));
    }
    Ok((config, c))
}

/// Layer `i`'s weights, named as the checkpoint's layout names them.
fn load_layer<B: Backend>(
    f: &WeightFile,
    i: usize,
    config: &DinoConfig,
    c: &serde_json::Value,
    dev: &B::Device,
) -> Result<Layer<B>, WeightError> {
    let flag = |k: &str, default: bool| c[k].as_bool().unwrap_or(default);
    let bias = |k: &str| flag(k, true);
    let d = config.hidden;
    let lin = |name: &str, i: usize, o: usize, b: bool| Linear::load(f, name, i, o, b, dev);
    let (l, m) = (format!("layer.{i}"), config.mlp);
    Ok(match config.layout {
        Layout::Dinov2 => {
            let l = format!("encoder.{l}");
            let att = format!("{l}.attention.attention");
            Layer {
                norm1: LayerNorm::load(f, &format!("{l}.norm1"), d, config.eps, dev)?,
                q: lin(&format!("{att}.query"), d, d, true)?,
                k: lin(&format!("{att}.key"), d, d, true)?,
                v: lin(&format!("{att}.value"), d, d, true)?,
                o: lin(&format!("{l}.attention.output.dense"), d, d, true)?,
                ls1: f.tensor(&format!("{l}.layer_scale1.lambda1"), [d], dev)?,
                norm2: LayerNorm::load(f, &format!("{l}.norm2"), d, config.eps, dev)?,
                fc1: lin(&format!("{l}.mlp.fc1"), d, m, true)?,
                gate: None,
                fc2: lin(&format!("{l}.mlp.fc2"), m, d, true)?,
                ls2: f.tensor(&format!("{l}.layer_scale2.lambda1"), [d], dev)?,
            }
        }
        Layout::Dinov3 { gated_mlp, .. } => {
            let att = format!("{l}.attention");
            let mb = bias("mlp_bias");
            Layer {
                norm1: LayerNorm::load(f, &format!("{l}.norm1"), d, config.eps, dev)?,
                q: lin(&format!("{att}.q_proj"), d, d, bias("query_bias"))?,
                k: lin(&format!("{att}.k_proj"), d, d, flag("key_bias", false))?,
                v: lin(&format!("{att}.v_proj"), d, d, bias("value_bias"))?,
                o: lin(&format!("{att}.o_proj"), d, d, bias("proj_bias"))?,
                ls1: f.tensor(&format!("{l}.layer_scale1.lambda1"), [d], dev)?,
                norm2: LayerNorm::load(f, &format!("{l}.norm2"), d, config.eps, dev)?,
                fc1: lin(&format!("{l}.mlp.up_proj"), d, m, mb)?,
                gate: if gated_mlp {
                    Some(lin(&format!("{l}.mlp.gate_proj"), d, m, mb)?)
                } else {
                    None
                },
                fc2: lin(&format!("{l}.mlp.down_proj"), m, d, mb)?,
                ls2: f.tensor(&format!("{l}.layer_scale2.lambda1"), [d], dev)?,
            }
        }
    })
}
