//! DreamerV3's world model: encoder, RSSM, decoder, reward and continue heads, and its loss.
//!
//! * Encoder: a 64x64 RGB frame as `x / 255 - 0.5` through 4 stages of conv 5x5 (stride 1) +
//!   2x2 max-pool + RMSNorm over channels + SiLU (channels `depth x [2, 3, 4, 4]`, 64 -> 4
//!   pixels), flattened; with `vector_dim > 0`, the state vector (the 39-d observation) as
//!   `symlog(x)` through 3 dense layers, concatenated (unless `vector_input` is `Some(false)`:
//!   then the state is a decoder target only, and the model reads frames alone).
//! * Decoder: the model state `[h, z]` -> a dense layer to 4x4x(4 depth) + RMSNorm + SiLU ->
//!   3 stages of nearest 2x upsampling + conv 5x5 + RMSNorm + SiLU (`4, 3, 2 x depth` channels)
//!   -> 2x upsampling + conv 5x5 to RGB + sigmoid; the loss is the squared error to `x / 255`
//!   summed over pixels. (The reference feeds `h` through a block-diagonal layer and `z`
//!   through a dense one to save compute at `deter` 8192; one dense layer from `[h, z]` is the
//!   same function class at our sizes.) The state vector: 3 dense layers to `symlog(x)`,
//!   squared error summed over dimensions.
//! * Reward head: one dense layer, then 255 two-hot logits (output layer zero-initialised);
//!   continue head: one dense layer and a logit, trained toward `(1 - terminal) (1 - 1/333)`.
//! * Loss per step: `rec + rew + con + 1.0 dyn + 0.1 rep` (KL with 1 free nat), averaged.
//! * With `strided` (the reference's option of that name, and `train dreamer`'s default), each
//!   encoder stage is one stride-2 conv 5x5 and each decoder stage one stride-2 transposed
//!   conv 5x5: the same shapes, about half the update time on the CPU.

use super::dist::{kl_losses, symlog, TwoHot};
use super::rssm::{Dense, Rssm, RssmConfig, State};
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d, RmsNorm, RmsNormConfig};
use burn::tensor::activation::{log_sigmoid, sigmoid, silu};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Side of the frames the world model reads.
pub const IMAGE: usize = 64;

#[derive(Config, Debug, PartialEq)]
pub struct WorldModelConfig {
    pub rssm: RssmConfig,
    /// Base channel count of the CNNs.
    pub depth: usize,
    /// Width of the dense layers of the vector encoder, the decoder's vector path and heads.
    pub units: usize,
    /// Size of the state vector read and reconstructed besides the frame (0: frames only).
    #[config(default = 0)]
    pub vector_dim: usize,
    /// Whether the encoder reads the state vector (`None`: yes, as every model before the
    /// option). `Some(false)`: the state is reconstructed from the model state but not read, so
    /// the model (and the agent acting from it) sees frames alone while training pushes what
    /// the state holds, such as reach's goal, into `[h, z]`. An `Option` because burn's
    /// `Config` fills a missing field with its default only through `new`, not when loading.
    pub vector_input: Option<bool>,
    /// Which entries of each step's state the vector holds, in this order (`None`: all of them,
    /// `vector_dim` of them). With the state a decoder target only, `Some(vec![36, 37, 38])`
    /// makes reach's goal the whole target, so the hand's easy entries do not fill its error.
    /// `vector_dim` is then the list's length. An `Option` so configs from before it load.
    pub vector_dims: Option<Vec<usize>>,
    /// Discount folded into the continue target (`1 - 1/333`).
    #[config(default = 0.996996996996997)]
    pub discount: f64,
    #[config(default = 1.0)]
    pub free_nats: f64,
    #[config(default = 1.0)]
    pub dyn_scale: f64,
    #[config(default = 0.1)]
    pub rep_scale: f64,
    /// The reference's `strided` CNNs: stride-2 convolutions in the encoder (instead of a
    /// stride-1 convolution and 2x2 max-pooling) and stride-2 transposed convolutions in the
    /// decoder (instead of nearest 2x upsampling and a convolution). Same shapes and channels,
    /// about a quarter of the pixels convolved: the CPU recipe's choice.
    #[config(default = false)]
    pub strided: bool,
}

impl WorldModelConfig {
    /// Size of the frame embedding (`4 x 4 x 4 depth`) plus the vector embedding (when a
    /// `vector_dim`-d state is read: 0 for none).
    pub fn embed_dim(depth: usize, units: usize, vector_dim: usize) -> usize {
        16 * 4 * depth + if vector_dim > 0 { units } else { 0 }
    }

    /// Whether the encoder reads a state vector (besides frames).
    pub fn reads_vector(&self) -> bool {
        self.vector_dim > 0 && self.vector_input != Some(false)
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> WorldModel<B> {
        let d = self.depth;
        let chans = [3, 2 * d, 3 * d, 4 * d, 4 * d];
        let conv = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [5, 5])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        // 64 -> 32: (64 + 2 * 2 - 5) / 2 + 1 = 32.
        let down = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [5, 5])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device)
        };
        // 4 -> 8: (4 - 1) * 2 - 2 * 2 + 5 + 1 = 8.
        let up = |i: usize, o: usize| {
            ConvTranspose2dConfig::new([i, o], [5, 5])
                .with_stride([2, 2])
                .with_padding([2, 2])
                .with_padding_out([1, 1])
                .init(device)
        };
        let strided = self.strided;
        let dec_chans = [4 * d, 4 * d, 3 * d, 2 * d, 3];
        let feat = self.rssm.feat_dim();
        let vec_layers = |input: usize| -> Vec<Dense<B>> {
            (0..3)
                .map(|i| Dense::new(if i == 0 { input } else { self.units }, self.units, device))
                .collect()
        };
        WorldModel {
            enc_convs: (0..4)
                .map(|i| {
                    if strided {
                        down(chans[i], chans[i + 1])
                    } else {
                        conv(chans[i], chans[i + 1])
                    }
                })
                .collect(),
            enc_norms: (0..4)
                .map(|i| RmsNormConfig::new(chans[i + 1]).init(device))
                .collect(),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            enc_vec: if self.reads_vector() {
                vec_layers(self.vector_dim)
            } else {
                Vec::new()
            },
            rssm: self.rssm.init(device),
            dec_in: LinearConfig::new(feat, 16 * 4 * d).init(device),
            dec_in_norm: RmsNormConfig::new(4 * d).init(device),
            dec_convs: if strided {
                Vec::new()
            } else {
                (0..4)
                    .map(|i| conv(dec_chans[i], dec_chans[i + 1]))
                    .collect()
            },
            dec_up: if strided {
                (0..4).map(|i| up(dec_chans[i], dec_chans[i + 1])).collect()
            } else {
                Vec::new()
            },
            dec_norms: [4 * d, 3 * d, 2 * d]
                .iter()
                .map(|&c| RmsNormConfig::new(c).init(device))
                .collect(),
            dec_vec: if self.vector_dim > 0 {
                vec_layers(feat)
            } else {
                Vec::new()
            },
            dec_vec_out: (self.vector_dim > 0)
                .then(|| LinearConfig::new(self.units, self.vector_dim).init(device)),
            reward: Dense::new(feat, self.units, device),
            reward_out: LinearConfig::new(self.units, super::dist::BINS)
                .with_initializer(Initializer::Zeros)
                .init(device),
            cont: Dense::new(feat, self.units, device),
            cont_out: LinearConfig::new(self.units, 1).init(device),
            depth: d,
            strided,
            discount: self.discount,
            free_nats: self.free_nats,
            dyn_scale: self.dyn_scale,
            rep_scale: self.rep_scale,
        }
    }
}

#[derive(Module, Debug)]
pub struct WorldModel<B: Backend> {
    enc_convs: Vec<Conv2d<B>>,
    enc_norms: Vec<RmsNorm<B>>,
    pool: MaxPool2d,
    enc_vec: Vec<Dense<B>>,
    pub rssm: Rssm<B>,
    dec_in: Linear<B>,
    dec_in_norm: RmsNorm<B>,
    /// The decoder's 4 convolutions (after each 2x upsampling; the last one to RGB), or with
    /// `strided` its 4 transposed convolutions.
    dec_convs: Vec<Conv2d<B>>,
    dec_up: Vec<ConvTranspose2d<B>>,
    dec_norms: Vec<RmsNorm<B>>,
    dec_vec: Vec<Dense<B>>,
    dec_vec_out: Option<Linear<B>>,
    reward: Dense<B>,
    reward_out: Linear<B>,
    cont: Dense<B>,
    cont_out: Linear<B>,
    depth: usize,
    strided: bool,
    discount: f64,
    free_nats: f64,
    dyn_scale: f64,
    rep_scale: f64,
}

/// RMSNorm over the channels of `[N, C, H, W]`: `x / sqrt(mean_c(x^2) + eps) * gamma_c`, as
/// burn's `RmsNorm` computes over a last dimension, without moving the channels last and back
/// (two copies of the activations each way on the CPU).
///
/// The CPU backend multiplies broadcast operands of more than two dimensions element by element
/// through a strided iterator; so the inverse RMS is repeated over the channels (a same-shape
/// product) and `gamma` is applied to `[N C, H W]` rows (a two-dimensional broadcast). Forward
/// and backward together take 0.28 of the time of the plain broadcasts at our shapes.
fn norm_channels<B: Backend>(norm: &RmsNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let x = x.reshape([n, c, h * w]);
    let inv = (x.clone().square().mean_dim(1) + norm.epsilon)
        .sqrt()
        .recip()
        .repeat_dim(1, c);
    let gamma = norm
        .gamma
        .val()
        .reshape([1, c])
        .repeat_dim(0, n)
        .reshape([n * c, 1]);
    ((x * inv).reshape([n * c, h * w]) * gamma).reshape([n, c, h, w])
}

/// Nearest-neighbour 2x upsampling of `[N, C, H, W]`.
fn upsample<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .expand([n, c, h, 2, w, 2])
        .reshape([n, c, 2 * h, 2 * w])
}

/// A batch of sequences `[B, T, ..]` for the world model.
#[derive(Clone, Debug)]
pub struct Batch<B: Backend> {
    /// Frames as `x / 255` in [0, 1], `[B, T, 3, 64, 64]`.
    pub image: Tensor<B, 5>,
    /// State vectors `[B, T, V]` (when the model reads them).
    pub vector: Option<Tensor<B, 3>>,
    /// The action taken after each frame `[B, T, A]`.
    pub action: Tensor<B, 3>,
    /// The reward received for arriving at each frame `[B, T]` (0 on first steps).
    pub reward: Tensor<B, 2>,
    /// 1 on the first step of an episode `[B, T]`.
    pub is_first: Tensor<B, 2>,
    /// 1 where the episode ended by termination (not by a time limit) `[B, T]`.
    pub is_terminal: Tensor<B, 2>,
}

/// The world model's loss terms, each averaged over the batch and the steps.
#[derive(Clone, Debug)]
pub struct WorldLoss<B: Backend> {
    pub total: Tensor<B, 1>,
    pub image: Tensor<B, 1>,
    pub vector: Option<Tensor<B, 1>>,
    pub reward: Tensor<B, 1>,
    pub cont: Tensor<B, 1>,
    pub dynamics: Tensor<B, 1>,
    pub representation: Tensor<B, 1>,
}

/// What [`WorldModel::observe`] returns: the posterior states `[B, T, ..]` flattened to rows
/// `b * T + t`, the probabilities, and the last state to continue from.
pub struct Observed<B: Backend> {
    pub feat: Tensor<B, 2>,
    pub deter: Tensor<B, 2>,
    pub stoch: Tensor<B, 2>,
    pub post: Tensor<B, 3>,
    pub last: State<B>,
}

impl<B: Backend> WorldModel<B> {
    /// Embeds frames `[N, 3, 64, 64]` (in [0, 1]) and state vectors `[N, V]`.
    pub fn encode(&self, image: Tensor<B, 4>, vector: Option<Tensor<B, 2>>) -> Tensor<B, 2> {
        let [n, _, _, _] = image.dims();
        let mut x = image - 0.5;
        for (conv, norm) in self.enc_convs.iter().zip(&self.enc_norms) {
            let y = conv.forward(x);
            let y = if self.strided {
                y
            } else {
                self.pool.forward(y)
            };
            x = silu(norm_channels(norm, y));
        }
        let [_, c, h, w] = x.dims();
        let mut parts = vec![x.reshape([n, c * h * w])];
        if let (Some(v), false) = (vector, self.enc_vec.is_empty()) {
            let mut v = symlog(v);
            for l in &self.enc_vec {
                v = l.forward(v);
            }
            parts.push(v);
        }
        Tensor::cat(parts, 1)
    }

    /// Decodes model states `[N, F]` to frames `[N, 3, 64, 64]` in [0, 1].
    pub fn decode_image(&self, feat: Tensor<B, 2>) -> Tensor<B, 4> {
        let [n, _] = feat.dims();
        let c = 4 * self.depth;
        let x = self.dec_in.forward(feat).reshape([n, c, 4, 4]);
        let mut x = silu(norm_channels(&self.dec_in_norm, x));
        let last = 3;
        for i in 0..=last {
            let y = if self.strided {
                self.dec_up[i].forward(x)
            } else {
                self.dec_convs[i].forward(upsample(x))
            };
            x = if i == last {
                y
            } else {
                silu(norm_channels(&self.dec_norms[i], y))
            };
        }
        sigmoid(x)
    }

    /// The predicted `symlog` of the state vector `[N, V]`.
    pub fn decode_vector(&self, feat: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        let out = self.dec_vec_out.as_ref()?;
        let mut x = feat;
        for l in &self.dec_vec {
            x = l.forward(x);
        }
        Some(out.forward(x))
    }

    /// Reward logits `[N, 255]` (decode with [`TwoHot::mean`]).
    pub fn reward_logits(&self, feat: Tensor<B, 2>) -> Tensor<B, 2> {
        self.reward_out.forward(self.reward.forward(feat))
    }

    /// Continue logits `[N]`; `sigmoid` of it is the discounted continuation.
    pub fn cont_logit(&self, feat: Tensor<B, 2>) -> Tensor<B, 1> {
        let [n, _] = feat.dims();
        self.cont_out.forward(self.cont.forward(feat)).reshape([n])
    }

    /// Runs the posterior over a batch from `start` (zeros when `None`).
    pub fn observe(&self, batch: &Batch<B>, start: Option<State<B>>) -> Observed<B> {
        let [b, t, _, h, w] = batch.image.dims();
        let device = batch.image.device();
        let images = batch.image.clone().reshape([b * t, 3, h, w]);
        let vectors = batch.vector.clone().map(|v| {
            let [_, _, d] = v.dims();
            v.reshape([b * t, d])
        });
        let embed = self.encode(images, vectors);
        let [_, e] = embed.dims();
        let embed = embed.reshape([b, t, e]);
        let [_, _, a] = batch.action.dims();
        let mut state = start.unwrap_or_else(|| self.rssm.initial(b, &device));
        let mut prev = Tensor::<B, 2>::zeros([b, a], &device);
        let (mut feats, mut deters, mut stochs, mut posts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for step in 0..t {
            let first = batch.is_first.clone().slice([0..b, step..step + 1]);
            let x = embed
                .clone()
                .slice([0..b, step..step + 1, 0..e])
                .reshape([b, e]);
            let (next, post) = self.rssm.obs_step(state, prev, x, first);
            feats.push(next.feat().unsqueeze_dim::<3>(1));
            deters.push(next.deter.clone().unsqueeze_dim::<3>(1));
            stochs.push(next.stoch.clone().unsqueeze_dim::<3>(1));
            posts.push(post.unsqueeze_dim::<4>(1));
            prev = batch
                .action
                .clone()
                .slice([0..b, step..step + 1, 0..a])
                .reshape([b, a]);
            state = next;
        }
        let flat3 = |v: Vec<Tensor<B, 3>>| {
            let x = Tensor::cat(v, 1);
            let [_, _, d] = x.dims();
            x.reshape([b * t, d])
        };
        let post = Tensor::cat(posts, 1);
        let [_, _, s, k] = post.dims();
        Observed {
            feat: flat3(feats),
            deter: flat3(deters),
            stoch: flat3(stochs),
            post: post.reshape([b * t, s, k]),
            last: state,
        }
    }

    /// The world model's loss on a batch (from the zero state).
    pub fn loss(&self, batch: &Batch<B>, twohot: &TwoHot<B>) -> WorldLoss<B> {
        self.loss_and_states(batch, twohot).0
    }

    /// The loss and the posterior states (where imagination starts).
    pub fn loss_and_states(
        &self,
        batch: &Batch<B>,
        twohot: &TwoHot<B>,
    ) -> (WorldLoss<B>, Observed<B>) {
        let [b, t, _, h, w] = batch.image.dims();
        let n = b * t;
        let obs = self.observe(batch, None);
        let prior = self.rssm.prior(obs.deter.clone());
        let (dynamics, representation) = kl_losses(obs.post.clone(), prior, self.free_nats);
        let target = batch.image.clone().reshape([n, 3, h, w]).detach();
        let sq = (self.decode_image(obs.feat.clone()) - target).powi_scalar(2);
        let image = sq.sum_dim(3).sum_dim(2).sum_dim(1).reshape([n]);
        let vector = match (self.decode_vector(obs.feat.clone()), &batch.vector) {
            (Some(pred), Some(v)) => {
                let [_, _, d] = v.dims();
                let target = symlog(v.clone().reshape([n, d])).detach();
                Some((pred - target).powi_scalar(2).sum_dim(1).reshape([n]))
            }
            _ => None,
        };
        let reward = twohot.loss(
            self.reward_logits(obs.feat.clone()),
            batch.reward.clone().reshape([n]),
        );
        let cont_target = (-batch.is_terminal.clone().reshape([n]) + 1.0) * self.discount;
        let logit = self.cont_logit(obs.feat.clone());
        let cont = -(cont_target.clone() * log_sigmoid(logit.clone())
            + (-cont_target + 1.0) * log_sigmoid(-logit));
        let mut total = image.clone()
            + reward.clone()
            + cont.clone()
            + dynamics.clone() * self.dyn_scale
            + representation.clone() * self.rep_scale;
        if let Some(v) = &vector {
            total = total + v.clone();
        }
        let loss = WorldLoss {
            total: total.mean(),
            image: image.mean(),
            vector: vector.map(|v| v.mean()),
            reward: reward.mean(),
            cont: cont.mean(),
            dynamics: dynamics.mean(),
            representation: representation.mean(),
        };
        (loss, obs)
    }
}

impl<B: Backend> WorldModel<B> {
    /// Open-loop prediction, as the reference reports it: the posterior follows the first
    /// `context` frames of each sequence, then the prior alone imagines the rest with the
    /// recorded actions. Returns the decoded frames `[B, T, 3, 64, 64]` in [0, 1] (the context
    /// part reconstructed, the rest predicted).
    pub fn open_loop(&self, batch: &Batch<B>, context: usize) -> Tensor<B, 5> {
        let [b, t, _, h, w] = batch.image.dims();
        let context = context.clamp(1, t);
        let slice5 = |x: &Tensor<B, 5>| {
            let [_, _, c, hh, ww] = x.dims();
            x.clone().slice([0..b, 0..context, 0..c, 0..hh, 0..ww])
        };
        let slice3 = |x: &Tensor<B, 3>| {
            let [_, _, d] = x.dims();
            x.clone().slice([0..b, 0..context, 0..d])
        };
        let slice2 = |x: &Tensor<B, 2>| x.clone().slice([0..b, 0..context]);
        let ctx = Batch {
            image: slice5(&batch.image),
            vector: batch.vector.as_ref().map(slice3),
            action: slice3(&batch.action),
            reward: slice2(&batch.reward),
            is_first: slice2(&batch.is_first),
            is_terminal: slice2(&batch.is_terminal),
        };
        let obs = self.observe(&ctx, None);
        let recon = self.decode_image(obs.feat).reshape([b, context, 3, h, w]);
        let mut frames = vec![recon];
        let [_, _, a] = batch.action.dims();
        let mut state = obs.last;
        for step in context..t {
            let action = batch
                .action
                .clone()
                .slice([0..b, step - 1..step, 0..a])
                .reshape([b, a]);
            state = self.rssm.img_step(&state, action).0;
            frames.push(self.decode_image(state.feat()).reshape([b, 1, 3, h, w]));
        }
        Tensor::cat(frames, 1)
    }
}

/// The reference's open-loop report as pictures: per sequence a column of frames over time,
/// rows truth / model / error (`(model - truth + 1) / 2`, grey where they agree), 64x64 each.
/// Returns one RGB image (HWC uint8) per time step, sequences side by side.
pub fn open_loop_rows<B: Backend>(truth: Tensor<B, 5>, model: Tensor<B, 5>) -> Vec<Vec<u8>> {
    let [b, t, _, h, w] = truth.dims();
    let err = (model.clone() - truth.clone() + 1.0) / 2.0;
    let to_vec = |x: Tensor<B, 5>| -> Vec<f32> {
        x.clamp(0.0, 1.0)
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default()
    };
    let (truth, model, err) = (to_vec(truth), to_vec(model), to_vec(err));
    let width = b * w;
    (0..t)
        .map(|step| {
            let mut img = vec![0u8; 3 * h * width * 3];
            for (row, src) in [&truth, &model, &err].into_iter().enumerate() {
                for seq in 0..b {
                    for c in 0..3 {
                        for y in 0..h {
                            for x in 0..w {
                                let v = src[(((seq * t + step) * 3 + c) * h + y) * w + x];
                                let (oy, ox) = (row * h + y, seq * w + x);
                                img[(oy * width + ox) * 3 + c] = (v * 255.0).round() as u8;
                            }
                        }
                    }
                }
            }
            img
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::Distribution;

    /// The channel RMSNorm is burn's `RmsNorm` applied with the channels moved last.
    #[test]
    fn channel_norm_is_rms_norm_over_the_channels() {
        let d = Default::default();
        let norm = RmsNormConfig::new(5).init::<Flex>(&d);
        let gamma = Tensor::<Flex, 1>::from_floats([0.5, 1.0, 2.0, -1.0, 3.0], &d);
        let norm = RmsNorm {
            gamma: burn::module::Param::from_tensor(gamma),
            epsilon: norm.epsilon,
        };
        let x = Tensor::<Flex, 4>::random([2, 5, 3, 4], Distribution::Normal(0.0, 2.0), &d);
        let want = norm
            .forward(x.clone().permute([0, 2, 3, 1]))
            .permute([0, 3, 1, 2]);
        let diff = (norm_channels(&norm, x) - want).abs().max().into_scalar();
        assert!(diff < 1e-5, "{diff}");
    }
}
