//! The 3D causal video VAE (in the manner of CogVideoX's), whose latent means give the
//! video-level reward.
//!
//! Layout (defaults in brackets), for input videos `[B, 3, T, H, W]` in `[-1, 1]`:
//!
//! * **Encoder.** Per-frame 2D convolutions: three stride-2 4x4 convolutions 3 -> c0 [16] ->
//!   c1 [32] -> c2 [64] (H x W -> H/8 x W/8; the first one is a patchify stem straight from RGB,
//!   so nothing runs at full resolution), then `temporal_blocks` [2] residual blocks of causal
//!   3x3x3 convolutions at H/8 x W/8, and a 1x1x1 head to the mean and log-variance of a
//!   diagonal Gaussian with `latent_channels` [4] channels: latents `[B, 4, T, H/8, W/8]`.
//! * **Decoder.** The mirror: a causal 3x3x3 convolution from the latent, the residual causal
//!   blocks, three stride-2 transposed 4x4 convolutions c2 -> c1 -> c0 -> c0 back to H x W, and a
//!   3x3 convolution to RGB.
//!
//! **Causal in time.** Every temporal convolution pads the past only, by repeating the first
//! frame (CogVideoX's convention), and the 2D parts work frame by frame, so latent `t` depends on
//! frames `0..=t` only (tested).
//!
//! **No temporal compression.** CogVideoX keeps frame 0 alone and pools the rest 4x, which needs
//! `4k + 1` frames. The reward samples 16 frames spread over a whole episode (16 control steps
//! apart for 256 steps): they are already a coarse summary in time, and pooling four of them into
//! one would blur the end state the reward is about. So `T` latent frames come from `T` frames.
//!
//! **Sized for the reward's budget.** Encoding one 16-frame 64x64 window is the reward's unit of
//! work, and it must stay well under 50 ms on 2 CPU cores. Measured per layer on burn-flex, the
//! full-resolution layers of an earlier layout (a 3x3 convolution and SiLU at 64x64) cost more
//! than the whole 3D part, so the encoder starts with the stride-2 stem; the decoder, which only
//! training runs, keeps a full-resolution output convolution for sharper reconstructions.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{
    Conv2d, Conv2dConfig, Conv3d, Conv3dConfig, ConvTranspose2d, ConvTranspose2dConfig,
};
use burn::nn::PaddingConfig2d;
use burn::nn::PaddingConfig3d;
use burn::tensor::activation::silu;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

/// A 3D convolution that is causal in time: `kernel_t - 1` copies of the first frame are put
/// before the clip, none after, so output frame `t` sees input frames `t - kernel_t + 1 ..= t`.
/// Space is padded symmetrically to keep H x W.
#[derive(Module, Debug)]
pub struct CausalConv3d<B: Backend> {
    conv: Conv3d<B>,
    time_pad: usize,
}

/// Configuration of [`CausalConv3d`]: channels in and out, a cubic kernel.
#[derive(Config, Debug)]
pub struct CausalConv3dConfig {
    pub channels_in: usize,
    pub channels_out: usize,
    #[config(default = 3)]
    pub kernel: usize,
}

impl CausalConv3dConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> CausalConv3d<B> {
        let k = self.kernel;
        let pad = k / 2;
        let conv = Conv3dConfig::new([self.channels_in, self.channels_out], [k, k, k])
            .with_padding(PaddingConfig3d::Explicit(0, pad, pad))
            .init(device);
        CausalConv3d {
            conv,
            time_pad: k - 1,
        }
    }
}

impl<B: Backend> CausalConv3d<B> {
    /// `[B, C_in, T, H, W]` -> `[B, C_out, T, H, W]`.
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let x = if self.time_pad > 0 {
            let [b, c, _, h, w] = x.dims();
            let first = x.clone().slice([0..b, 0..c, 0..1, 0..h, 0..w]);
            let mut parts = vec![first; self.time_pad];
            parts.push(x);
            Tensor::cat(parts, 2)
        } else {
            x
        };
        self.conv.forward(x)
    }
}

/// A residual block of two causal 3x3x3 convolutions with SiLU.
#[derive(Module, Debug)]
pub struct CausalResBlock<B: Backend> {
    a: CausalConv3d<B>,
    b: CausalConv3d<B>,
}

impl<B: Backend> CausalResBlock<B> {
    fn new(channels: usize, device: &B::Device) -> Self {
        let cfg = CausalConv3dConfig::new(channels, channels);
        CausalResBlock {
            a: cfg.init(device),
            b: cfg.init(device),
        }
    }

    fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let h = self.a.forward(silu(x.clone()));
        let h = self.b.forward(silu(h));
        x + h
    }
}

/// Hyper-parameters of [`VideoVae`]; saved as `config.json` beside every checkpoint.
#[derive(Config, Debug, PartialEq)]
pub struct VideoVaeConfig {
    /// Channels of the latent per frame and position (the paper's 4).
    #[config(default = 4)]
    pub latent_channels: usize,
    /// Channels at 1/2, 1/4 and 1/8 resolution.
    #[config(default = "[16, 32, 64]")]
    pub channels: [usize; 3],
    /// Residual causal 3D blocks in the encoder and in the decoder.
    #[config(default = 2)]
    pub temporal_blocks: usize,
    /// Frame size the model is trained for (inputs are resized to it).
    #[config(default = 64)]
    pub frame_size: usize,
    /// Weight of the KL term in the training loss (per latent element, against the per-pixel
    /// squared error).
    #[config(default = 1e-4)]
    pub kl_weight: f64,
}

/// Spatial compression: three stride-2 stages.
pub const SPATIAL_FACTOR: usize = 8;

impl VideoVaeConfig {
    /// Builds the model with freshly initialised weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> VideoVae<B> {
        let [c0, c1, c2] = self.channels;
        let z = self.latent_channels;
        let down = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let up = |i: usize, o: usize| {
            ConvTranspose2dConfig::new([i, o], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        let same3 = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        VideoVae {
            enc_down: vec![down(3, c0), down(c0, c1), down(c1, c2)],
            enc_blocks: (0..self.temporal_blocks)
                .map(|_| CausalResBlock::new(c2, device))
                .collect(),
            enc_head: Conv3dConfig::new([c2, 2 * z], [1, 1, 1]).init(device),
            dec_in: CausalConv3dConfig::new(z, c2).init(device),
            dec_blocks: (0..self.temporal_blocks)
                .map(|_| CausalResBlock::new(c2, device))
                .collect(),
            dec_up: vec![up(c2, c1), up(c1, c0), up(c0, c0)],
            dec_out: same3(c0, 3),
            latent_channels: z,
        }
    }
}

/// The video VAE. See the module documentation for the layout.
#[derive(Module, Debug)]
pub struct VideoVae<B: Backend> {
    enc_down: Vec<Conv2d<B>>,
    enc_blocks: Vec<CausalResBlock<B>>,
    enc_head: Conv3d<B>,
    dec_in: CausalConv3d<B>,
    dec_blocks: Vec<CausalResBlock<B>>,
    dec_up: Vec<ConvTranspose2d<B>>,
    dec_out: Conv2d<B>,
    latent_channels: usize,
}

/// What one pass through the VAE gives.
#[derive(Debug, Clone)]
pub struct VaeOutput<B: Backend> {
    /// Reconstruction `[B, 3, T, H, W]`, in the input's `[-1, 1]` scale.
    pub recon: Tensor<B, 5>,
    /// Posterior mean `[B, Z, T, H/8, W/8]`.
    pub mean: Tensor<B, 5>,
    /// Posterior log-variance, same shape, clamped to `[-30, 20]`.
    pub logvar: Tensor<B, 5>,
}

/// `[B, C, T, H, W]` -> `[B*T, C, H, W]` (frames become batch items).
fn frames_to_batch<B: Backend>(x: Tensor<B, 5>) -> Tensor<B, 4> {
    let [b, c, t, h, w] = x.dims();
    x.swap_dims(1, 2).reshape([b * t, c, h, w])
}

/// `[B*T, C, H, W]` -> `[B, C, T, H, W]`.
fn batch_to_frames<B: Backend>(x: Tensor<B, 4>, b: usize, t: usize) -> Tensor<B, 5> {
    let [_, c, h, w] = x.dims();
    x.reshape([b, t, c, h, w]).swap_dims(1, 2)
}

impl<B: Backend> VideoVae<B> {
    /// Latent channels per frame and position.
    pub fn latent_channels(&self) -> usize {
        self.latent_channels
    }

    /// Encodes videos `[B, 3, T, H, W]` (H, W multiples of 8, values in `[-1, 1]`) into the
    /// posterior mean and log-variance, each `[B, Z, T, H/8, W/8]`.
    pub fn encode(&self, video: Tensor<B, 5>) -> (Tensor<B, 5>, Tensor<B, 5>) {
        let [b, _, t, _, _] = video.dims();
        let mut x = frames_to_batch(video);
        for d in &self.enc_down {
            x = silu(d.forward(x));
        }
        let mut x = batch_to_frames(x, b, t);
        for blk in &self.enc_blocks {
            x = blk.forward(x);
        }
        let stats = self.enc_head.forward(silu(x));
        let z = self.latent_channels;
        let mean = stats.clone().narrow(1, 0, z);
        let logvar = stats.narrow(1, z, z).clamp(-30.0, 20.0);
        (mean, logvar)
    }

    /// Decodes latents `[B, Z, T, h, w]` into videos `[B, 3, T, 8h, 8w]`.
    pub fn decode(&self, z: Tensor<B, 5>) -> Tensor<B, 5> {
        let [b, _, t, _, _] = z.dims();
        let mut x = self.dec_in.forward(z);
        for blk in &self.dec_blocks {
            x = blk.forward(x);
        }
        let mut x = frames_to_batch(x);
        for u in &self.dec_up {
            x = u.forward(silu(x));
        }
        let x = self.dec_out.forward(silu(x));
        batch_to_frames(x, b, t)
    }

    /// Encode, sample `z = mean + exp(logvar / 2) * eps` (or take the mean when `sample` is
    /// false), decode.
    pub fn forward(&self, video: Tensor<B, 5>, sample: bool) -> VaeOutput<B> {
        let (mean, logvar) = self.encode(video);
        let z = if sample {
            let eps = Tensor::random(mean.shape(), Distribution::Normal(0.0, 1.0), &mean.device());
            mean.clone() + (logvar.clone() * 0.5).exp() * eps
        } else {
            mean.clone()
        };
        VaeOutput {
            recon: self.decode(z),
            mean,
            logvar,
        }
    }
}

/// KL divergence of the diagonal Gaussian `N(mean, exp(logvar))` from `N(0, I)`, averaged over
/// all elements: `0.5 * mean(mean^2 + exp(logvar) - 1 - logvar)`. Zero exactly for a standard
/// normal (mean 0, logvar 0).
pub fn kl_divergence<B: Backend, const D: usize>(
    mean: Tensor<B, D>,
    logvar: Tensor<B, D>,
) -> Tensor<B, 1> {
    let v = mean.powf_scalar(2.0) + logvar.clone().exp() - logvar - 1.0;
    v.mean() * 0.5
}

/// The training loss of one batch: per-pixel squared error plus `kl_weight` times the KL per
/// latent element. Returns `(loss, mse, kl)`.
pub fn vae_loss<B: Backend>(
    out: &VaeOutput<B>,
    target: Tensor<B, 5>,
    kl_weight: f64,
) -> (Tensor<B, 1>, Tensor<B, 1>, Tensor<B, 1>) {
    let mse = (out.recon.clone() - target).powf_scalar(2.0).mean();
    let kl = kl_divergence(out.mean.clone(), out.logvar.clone());
    let loss = mse.clone() + kl.clone() * kl_weight;
    (loss, mse, kl)
}

/// PSNR in dB of a mean squared error measured on `[-1, 1]` images (peak-to-peak 2), the same
/// figure as on `[0, 1]` images with a quarter of the error: `10 log10(4 / mse)`.
pub fn psnr_db(mse_pm1: f64) -> f64 {
    10.0 * (4.0 / mse_pm1.max(1e-12)).log10()
}
