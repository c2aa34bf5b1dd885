//! Inference building blocks of pretrained vision transformers (CLIP's towers, DINO), held as
//! plain burn tensors loaded from a user's weights: linear layers, layer norms, multi-head
//! attention, patch embedding. No training happens on these; they have no `Module` derive.

use crate::weights::{WeightError, WeightFile};
use burn::tensor::activation::{gelu, sigmoid, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// `y = x W + b`, with `W` stored `[in, out]` (PyTorch's `[out, in]` transposed on load).
#[derive(Clone, Debug)]
pub struct Linear<B: Backend> {
    pub w: Tensor<B, 2>,
    pub b: Option<Tensor<B, 1>>,
}

impl<B: Backend> Linear<B> {
    /// `<prefix>.weight` (`[out, in]`) and, if `bias`, `<prefix>.bias`.
    pub fn load(
        f: &WeightFile,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        dev: &B::Device,
    ) -> Result<Self, WeightError> {
        let w = f.tensor::<B, 2>(&format!("{prefix}.weight"), [d_out, d_in], dev)?;
        let b = if bias {
            Some(f.tensor::<B, 1>(&format!("{prefix}.bias"), [d_out], dev)?)
        } else {
            None
        };
        Ok(Linear {
            w: w.transpose(),
            b,
        })
    }

    /// A weight given as `[in, out]` already (CLIP's projections), no bias.
    pub fn from_in_out(w: Tensor<B, 2>) -> Self {
        Linear { w, b: None }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let y = x.matmul(self.w.clone().unsqueeze::<D>());
        match &self.b {
            Some(b) => y + b.clone().unsqueeze::<D>(),
            None => y,
        }
    }
}

/// Layer norm over the last dimension.
#[derive(Clone, Debug)]
pub struct LayerNorm<B: Backend> {
    pub w: Tensor<B, 1>,
    pub b: Tensor<B, 1>,
    pub eps: f64,
}

impl<B: Backend> LayerNorm<B> {
    /// `<prefix>.weight` and `<prefix>.bias` of size `d`.
    pub fn load(
        f: &WeightFile,
        prefix: &str,
        d: usize,
        eps: f64,
        dev: &B::Device,
    ) -> Result<Self, WeightError> {
        Ok(LayerNorm {
            w: f.tensor(&format!("{prefix}.weight"), [d], dev)?,
            b: f.tensor(&format!("{prefix}.bias"), [d], dev)?,
            eps,
        })
    }

    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mean = x.clone().mean_dim(2);
        let c = x - mean;
        let var = c.clone().powf_scalar(2.0).mean_dim(2);
        let n = c / (var + self.eps).sqrt();
        n * self.w.clone().unsqueeze::<3>() + self.b.clone().unsqueeze::<3>()
    }
}

/// The MLP's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Exact (erf) GELU.
    Gelu,
    /// `x * sigmoid(1.702 x)` (OpenAI's CLIP weights).
    QuickGelu,
}

impl Act {
    pub fn apply<const D: usize, B: Backend>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Act::Gelu => gelu(x),
            Act::QuickGelu => x.clone() * sigmoid(x * 1.702),
        }
    }
}

/// Scaled dot-product attention of `[N, T, C]` queries, keys and values split into `heads`
/// heads, with an optional additive `[T, T]` mask; returns `[N, T, C]`.
pub fn attention<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    heads: usize,
    mask: Option<&Tensor<B, 2>>,
) -> Tensor<B, 3> {
    let [n, t, c] = q.dims();
    let dh = c / heads;
    let split = |x: Tensor<B, 3>| x.reshape([n, t, heads, dh]).swap_dims(1, 2);
    let (q, k, v) = (split(q), split(k), split(v));
    let mut s = q.matmul(k.swap_dims(2, 3)) / (dh as f64).sqrt();
    if let Some(m) = mask {
        s = s + m.clone().unsqueeze::<4>();
    }
    softmax(s, 3).matmul(v).swap_dims(1, 2).reshape([n, t, c])
}

/// Patch embedding of `[N, 3, H, W]` images by a `p x p`, stride-`p` convolution whose weight is
/// `[C, 3, p, p]`: returns `[N, (H/p) * (W/p), C]`, patches in row-major order.
pub fn patchify<B: Backend>(
    x: Tensor<B, 4>,
    w: &Tensor<B, 4>,
    b: Option<&Tensor<B, 1>>,
) -> Tensor<B, 3> {
    let [n, ch, h, wd] = x.dims();
    let [c, _, p, _] = w.dims();
    let (gh, gw) = (h / p, wd / p);
    let x = x
        .reshape([n, ch, gh, p, gw, p])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([n, gh * gw, ch * p * p]);
    let wm = w.clone().reshape([c, ch * p * p]).transpose();
    let y = x.matmul(wm.unsqueeze::<3>());
    match b {
        Some(b) => y + b.clone().unsqueeze::<3>(),
        None => y,
    }
}

/// Square frames (`w x h` RGB bytes, any size) as a `[N, 3, size, size]` tensor: centre-cropped
/// to a square, resized with [`resize_bicubic`] (PIL's bicubic, which OpenCLIP's preprocessing
/// uses), scaled to [0, 1] and normalised per channel with `mean`, `std`.
pub fn frames_to_pixels<B: Backend>(
    frames: &[&[u8]],
    w: u32,
    h: u32,
    size: u32,
    mean: [f32; 3],
    std: [f32; 3],
    dev: &B::Device,
) -> Result<Tensor<B, 4>, crate::frames::FrameSizeError> {
    crate::frames::check_frames(frames, w, h)?;
    let s = size as usize;
    let (w, h) = (w as usize, h as usize);
    let side = w.min(h);
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    let mut out = vec![0f32; frames.len() * 3 * s * s];
    for (i, f) in frames.iter().enumerate() {
        let mut sq = Vec::with_capacity(side * side * 3);
        for y in y0..y0 + side {
            sq.extend_from_slice(&f[(y * w + x0) * 3..(y * w + x0 + side) * 3]);
        }
        let r = resize_bicubic(&sq, side, side, s, s);
        for p in 0..s * s {
            for c in 0..3 {
                out[((i * 3 + c) * s * s) + p] = (r[p * 3 + c] as f32 / 255.0 - mean[c]) / std[c];
            }
        }
    }
    Ok(Tensor::from_data(
        burn::tensor::TensorData::new(out, [frames.len(), 3, s, s]),
        dev,
    ))
}

/// Resizes RGB bytes `w x h` to `ow x oh` as Pillow's `Image.resize(..., BICUBIC)` does (the
/// bicubic kernel with a = -0.5, widened when shrinking; a horizontal then a vertical pass, each
/// with Pillow's 22-bit fixed-point weights and rounding to uint8), so CLIP sees the pixels
/// OpenCLIP's preprocessing gives it.
pub fn resize_bicubic(rgb: &[u8], w: usize, h: usize, ow: usize, oh: usize) -> Vec<u8> {
    const BITS: u32 = 22;
    fn cubic(x: f64) -> f64 {
        let a = -0.5;
        let x = x.abs();
        if x < 1.0 {
            ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        } else if x < 2.0 {
            (((x - 5.0) * x + 8.0) * x - 4.0) * a
        } else {
            0.0
        }
    }
    /// Per output index: the first input index and the fixed-point weights.
    fn coeffs(n_in: usize, n_out: usize) -> Vec<(usize, Vec<i64>)> {
        let scale = n_in as f64 / n_out as f64;
        let fs = scale.max(1.0);
        let support = 2.0 * fs;
        (0..n_out)
            .map(|o| {
                let centre = (o as f64 + 0.5) * scale;
                let lo = ((centre - support + 0.5).floor() as i64).max(0) as usize;
                let hi = ((centre + support + 0.5).floor() as i64).min(n_in as i64) as usize;
                let k: Vec<f64> = (lo..hi)
                    .map(|i| cubic((i as f64 - centre + 0.5) / fs))
                    .collect();
                let sum: f64 = k.iter().sum();
                let k = k
                    .iter()
                    .map(|v| {
                        let v = v / sum * (1i64 << BITS) as f64;
                        if v < 0.0 {
                            (v - 0.5) as i64
                        } else {
                            (v + 0.5) as i64
                        }
                    })
                    .collect();
                (lo, k)
            })
            .collect()
    }
    let clip8 = |v: i64| ((v + (1 << (BITS - 1))) >> BITS).clamp(0, 255) as u8;
    let mut mid = vec![0u8; ow * h * 3];
    if ow == w {
        mid.copy_from_slice(rgb);
    } else {
        let cx = coeffs(w, ow);
        for y in 0..h {
            for (x, (lo, k)) in cx.iter().enumerate() {
                for c in 0..3 {
                    let s: i64 = k
                        .iter()
                        .enumerate()
                        .map(|(j, &kk)| rgb[(y * w + lo + j) * 3 + c] as i64 * kk)
                        .sum();
                    mid[(y * ow + x) * 3 + c] = clip8(s);
                }
            }
        }
    }
    if oh == h {
        return mid;
    }
    let cy = coeffs(h, oh);
    let mut out = vec![0u8; ow * oh * 3];
    for (y, (lo, k)) in cy.iter().enumerate() {
        for x in 0..ow {
            for c in 0..3 {
                let s: i64 = k
                    .iter()
                    .enumerate()
                    .map(|(j, &kk)| mid[((lo + j) * ow + x) * 3 + c] as i64 * kk)
                    .sum();
                out[(y * ow + x) * 3 + c] = clip8(s);
            }
        }
    }
    out
}
