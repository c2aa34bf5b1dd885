//! The goal-video generator: a transformer over spatio-temporal patches of the video VAE's
//! latents, trained with flow matching to turn noise into the latent of a task done from a
//! given first frame (GenReward's "Gen"; the paper uses CogVideoX-5B-I2V).
//!
//! - **Input.** The latent video `x` (`[B, C, T, H, W]`: the VAE's `C` channels of `T` latent
//!   frames of `H x W`) and, as extra channels, the clean latent of frame 0 repeated over time
//!   (channel concatenation, as AVDC and CogVideoX-I2V condition on the first frame). Frame 0 of
//!   `x` itself is the clean latent too, re-inserted at every sampling step and left out of the
//!   loss: it is known, not generated.
//! - **Tokens.** Tubelets of `pt x ph x pw` latent cells (`4 x 2 x 2` by default: 64 tokens for
//!   16 frames of 8x8) embedded linearly, plus a learned position per token.
//! - **Conditioning.** The flow time (sinusoidal, then an MLP) plus a learned embedding of the
//!   task, whose last row is the null task of classifier-free guidance; every block and the
//!   output layer read it through adaLN-Zero (shift, scale and a gate per sub-layer, made by a
//!   zero-initialised linear map, so each block starts as the identity and the output as 0).
//! - **The scene** (`scene`, on in runs since 2026-12-07). The per-token concatenation above
//!   shows each token only its own cells of frame 0, and a transformer trained on it learnt to
//!   ignore them on unseen scenes (docs/goal-generator.md, run 6). With `scene` the flattened
//!   first latent also takes two global paths: an MLP into the adaLN conditioning (beside time
//!   and task), and a linear map to the whole video plus a per-task bias, the *scene prior*,
//!   added to the prediction with weight `1 - t` (all of it at `t = 0`, where sampling starts;
//!   none at `t = 1`, where the input is the answer), toward a task only (not the null task). Both start at zero, so a checkpoint without
//!   them resumes unchanged when they are added; the trainer then fits the prior in closed form
//!   (least squares on the training videos) and holds it out of the gradient.
//! - **The task's sentence** (`text_dim`, optional). Each task's sentence through CLIP's text
//!   tower (unit length, computed once by the trainer and stored, held out of the gradient), a
//!   zero-initialised linear map adding it to the conditioning beside the task embedding; the
//!   null task reads a zero row.
//! - **Objective.** Rectified flow: `x_t = t x_1 + (1 - t) x_0` between noise `x_0` and data
//!   `x_1`. The model predicts the clean latent `x_1` (by default; the velocity is then
//!   `(x_1 - x_t) / (1 - t)`) or the velocity `x_1 - x_0`; `t` is logit-normal
//!   (`sigmoid(N(0, 1))`) for half the examples and uniform for the rest.
//! - **Sampling.** Euler from `t = 0` to 1 in `steps` steps, with classifier-free guidance on the
//!   prediction `o = o_c + w (o_c - o_u)` (`w = 0`: the conditional model alone). The noise comes from a
//!   seeded generator, so `(first frame, task, seed)` fixes the video bit for bit.

use crate::checkpoint::{self, CheckpointError};
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::{gelu, silu, softmax};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, ElementConversion, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

#[derive(Config, Debug, PartialEq)]
pub struct GoalGenConfig {
    /// Latent channels of the VAE (4 for the shipped one).
    #[config(default = 4)]
    pub channels: usize,
    /// Latent frames of a goal video (the 16 frames the reward samples).
    #[config(default = 16)]
    pub frames: usize,
    /// Side of a latent frame (8 for 64x64 frames).
    #[config(default = 8)]
    pub side: usize,
    /// Tubelet `[time, height, width]` in latent cells.
    #[config(default = "[4, 2, 2]")]
    pub patch: [usize; 3],
    /// Width of the transformer.
    #[config(default = 192)]
    pub width: usize,
    /// Transformer blocks.
    #[config(default = 6)]
    pub depth: usize,
    /// Attention heads (dividing the width).
    #[config(default = 6)]
    pub heads: usize,
    /// Tasks the generator knows (the null task of guidance comes after them).
    #[config(default = 7)]
    pub tasks: usize,
    /// Share of training examples whose task is replaced by the null task.
    #[config(default = 0.1)]
    pub uncond_prob: f64,
    /// Share of training flow times drawn uniformly from [0, 1]; the rest are logit-normal.
    /// Logit-normal times alone almost never fall near t = 0, where a few-step sampler takes
    /// its first (and with 1 step its only) step.
    #[config(default = 0.5)]
    pub uniform_time: f64,
    /// The network predicts the clean latent `x_1` (the velocity is then
    /// `(x_1 - x_t) / (1 - t)`); otherwise it predicts the velocity `x_1 - x_0` itself. Predicting
    /// `x_1` spares it copying the noise to its output, which a velocity model must do exactly
    /// at `t = 0`, and measured far better here for few-step sampling (docs/goal-generator.md).
    #[config(default = true)]
    pub predict_x1: bool,
    /// The first latent's global paths (the scene MLP into the conditioning and the scene
    /// prior). `None` in checkpoints made before they existed, which load without them.
    pub scene: Option<bool>,
    /// Width of the task sentences' CLIP text embeddings (CLIP's `embed_dim`) when the task is
    /// also read through CLIP's text tower (`train goalgen --clip`); `None` without, and in
    /// checkpoints made before the text path existed.
    pub text_dim: Option<usize>,
}

impl GoalGenConfig {
    /// Whether the model has the first latent's global paths.
    pub fn has_scene(&self) -> bool {
        self.scene == Some(true)
    }

    /// Tokens per video.
    pub fn tokens(&self) -> usize {
        let [pt, ph, pw] = self.patch;
        (self.frames / pt) * (self.side / ph) * (self.side / pw)
    }

    /// Why this config cannot be built, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        let [pt, ph, pw] = self.patch;
        if pt == 0
            || ph == 0
            || pw == 0
            || self.frames % pt != 0
            || self.side % ph != 0
            || self.side % pw != 0
        {
            return Err(format!(
                "the tubelet {:?} does not tile {} latent frames of {}x{}",
                self.patch, self.frames, self.side, self.side
            ));
        }
        if self.heads == 0 || self.width % self.heads != 0 || self.width % 2 != 0 {
            return Err(format!(
                "the width {} must be even and a multiple of the {} heads",
                self.width, self.heads
            ));
        }
        if self.text_dim == Some(0) {
            return Err("the text embedding must be at least 1 wide".into());
        }
        if self.channels == 0 || self.depth == 0 || self.tasks == 0 {
            return Err("channels, depth and tasks must be at least 1".into());
        }
        Ok(())
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> GoalGen<B> {
        let [pt, ph, pw] = self.patch;
        let w = self.width;
        let cell = pt * ph * pw;
        let zero = |i: usize, o: usize| {
            LinearConfig::new(i, o)
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        GoalGen {
            embed: LinearConfig::new(2 * self.channels * cell, w).init(device),
            pos: Param::from_tensor(Tensor::random(
                [1, self.tokens(), w],
                Distribution::Normal(0.0, 0.02),
                device,
            )),
            time1: LinearConfig::new(w, w).init(device),
            time2: LinearConfig::new(w, w).init(device),
            task: EmbeddingConfig::new(self.tasks + 1, w).init(device),
            blocks: (0..self.depth)
                .map(|_| Block {
                    modulation: zero(w, 6 * w),
                    qkv: LinearConfig::new(w, 3 * w).init(device),
                    proj: LinearConfig::new(w, w).init(device),
                    fc1: LinearConfig::new(w, 4 * w).init(device),
                    fc2: LinearConfig::new(4 * w, w).init(device),
                })
                .collect(),
            scene: self.has_scene().then(|| self.init_scene(device)),
            text: self.text_dim.map(|d| self.init_text(d, device)),
            final_modulation: zero(w, 2 * w),
            out: zero(w, self.channels * cell),
            channels: self.channels,
            frames: self.frames,
            width: w,
            pt,
            ph,
            pw,
            heads: self.heads,
            null_task: self.tasks,
            predict_x1: self.predict_x1,
        }
    }
}

impl GoalGenConfig {
    /// The first latent's global paths, their output layers zero.
    fn init_scene<B: Backend>(&self, device: &B::Device) -> Scene<B> {
        let frame = self.channels * self.side * self.side;
        let video = frame * self.frames;
        let zero = |i: usize, o: usize| {
            LinearConfig::new(i, o)
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        Scene {
            cond1: LinearConfig::new(frame, self.width).init(device),
            cond2: zero(self.width, self.width),
            prior: zero(frame, video),
            prior_task: EmbeddingConfig::new(self.tasks + 1, video)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }
}

impl GoalGenConfig {
    /// The text path for `dim`-wide sentence embeddings: the table and the projection zero.
    fn init_text<B: Backend>(&self, dim: usize, device: &B::Device) -> Text<B> {
        Text {
            sentences: EmbeddingConfig::new(self.tasks + 1, dim)
                .with_initializer(Initializer::Zeros)
                .init(device),
            proj: LinearConfig::new(dim, self.width)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }
}

/// The task read through CLIP's text tower, as the paper's video model reads its prompt: each
/// task's sentence embedding, projected into the conditioning beside the learned task embedding.
#[derive(Module, Debug)]
struct Text<B: Backend> {
    /// `[tasks + 1, D]`: the task sentences' CLIP text embeddings (unit length), the null
    /// task's row zero. Set once from the CLIP weights and held out of the gradient, so the
    /// checkpoint carries them and sampling needs no CLIP.
    sentences: Embedding<B>,
    /// `D -> width`, zero at first (a model gaining the path keeps its outputs).
    proj: Linear<B>,
}

/// The first latent read as a whole: a conditioning vector and a prior on the video.
#[derive(Module, Debug)]
struct Scene<B: Backend> {
    cond1: Linear<B>,
    cond2: Linear<B>,
    /// Flattened first latent -> flattened video.
    prior: Linear<B>,
    /// A bias on the video per task (the null task's row too).
    prior_task: Embedding<B>,
}

#[derive(Module, Debug)]
struct Block<B: Backend> {
    /// Shift, scale and gate of the attention and of the MLP, from the conditioning.
    modulation: Linear<B>,
    qkv: Linear<B>,
    proj: Linear<B>,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

#[derive(Module, Debug)]
pub struct GoalGen<B: Backend> {
    embed: Linear<B>,
    pos: Param<Tensor<B, 3>>,
    time1: Linear<B>,
    time2: Linear<B>,
    task: Embedding<B>,
    blocks: Vec<Block<B>>,
    scene: Option<Scene<B>>,
    text: Option<Text<B>>,
    final_modulation: Linear<B>,
    out: Linear<B>,
    channels: usize,
    frames: usize,
    width: usize,
    pt: usize,
    ph: usize,
    pw: usize,
    heads: usize,
    null_task: usize,
    predict_x1: bool,
}

/// Layer norm without its own scale and shift (adaLN supplies them).
fn norm<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let (var, mean) = x.clone().var_mean_bias(2);
    (x - mean) / (var + 1e-6).sqrt()
}

/// `norm(x) * (1 + scale) + shift`, per batch row.
fn modulate<B: Backend>(x: Tensor<B, 3>, shift: Tensor<B, 2>, scale: Tensor<B, 2>) -> Tensor<B, 3> {
    norm(x) * (scale.unsqueeze_dim::<3>(1) + 1.0) + shift.unsqueeze_dim::<3>(1)
}

impl<B: Backend> Block<B> {
    fn forward(&self, x: Tensor<B, 3>, c: Tensor<B, 2>, heads: usize) -> Tensor<B, 3> {
        let m = self.modulation.forward(silu(c)).chunk(6, 1);
        let gate = |g: &Tensor<B, 2>| g.clone().unsqueeze_dim::<3>(1);
        let h = modulate(x.clone(), m[0].clone(), m[1].clone());
        let x = x + self.attention(h, heads) * gate(&m[2]);
        let h = modulate(x.clone(), m[3].clone(), m[4].clone());
        x + self.fc2.forward(gelu(self.fc1.forward(h))) * gate(&m[5])
    }

    fn attention(&self, x: Tensor<B, 3>, heads: usize) -> Tensor<B, 3> {
        let [b, n, w] = x.dims();
        let hd = w / heads;
        // [B, N, 3, heads, hd] -> three [B, heads, N, hd]
        let qkv = self
            .qkv
            .forward(x)
            .reshape([b, n, 3, heads, hd])
            .permute([2, 0, 3, 1, 4]);
        let part = |i: usize| qkv.clone().narrow(0, i, 1).reshape([b, heads, n, hd]);
        let (q, k, v) = (part(0), part(1), part(2));
        let att = softmax(q.matmul(k.swap_dims(2, 3)) / (hd as f64).sqrt(), 3);
        let y = att.matmul(v).swap_dims(1, 2).reshape([b, n, w]);
        self.proj.forward(y)
    }
}

/// Sinusoidal features of `t` (in [0, 1], scaled by 1000 as diffusion models do), `dim` wide.
fn time_features<B: Backend>(t: Tensor<B, 1>, dim: usize) -> Tensor<B, 2> {
    let half = dim / 2;
    let device = t.device();
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(10_000f32.ln()) * i as f32 / half as f32).exp())
        .collect();
    let freqs = Tensor::<B, 1>::from_floats(freqs.as_slice(), &device).unsqueeze_dim::<2>(0);
    let args = (t * 1000.0).unsqueeze_dim::<2>(1).matmul(freqs);
    Tensor::cat(vec![args.clone().cos(), args.sin()], 1)
}

impl<B: Backend> GoalGen<B> {
    /// The predicted velocity of `x` (`[B, C, T, H, W]`, frame 0 the clean first latent) at flow
    /// time `t` (`[B]`) toward task `task` (`[B]`, the null task being [`null_task`]), given the
    /// first frame's latent `first` (`[B, C, H, W]`).
    ///
    /// [`null_task`]: Self::null_task
    pub fn forward(
        &self,
        x: Tensor<B, 5>,
        first: Tensor<B, 4>,
        task: Tensor<B, 1, Int>,
        t: Tensor<B, 1>,
    ) -> Tensor<B, 5> {
        let [b, c, frames, h, w] = x.dims();
        let flat = first.clone().reshape([b, c * h * w]);
        let flat_device = flat.device();
        let cond = first.unsqueeze_dim::<5>(2).repeat_dim(2, frames);
        let tokens = self.patchify(Tensor::cat(vec![x, cond], 1));
        let width = self.width;
        let te = self
            .time2
            .forward(silu(self.time1.forward(time_features(t.clone(), width))));
        let task = task.unsqueeze_dim::<2>(1);
        let mut c_vec = te + self.task.forward(task.clone()).reshape([b, width]);
        if let Some(s) = &self.scene {
            c_vec = c_vec + s.cond2.forward(silu(s.cond1.forward(flat.clone())));
        }
        if let Some(text) = &self.text {
            let sentence = text
                .sentences
                .weight
                .val()
                .detach()
                .select(0, task.clone().reshape([b]));
            c_vec = c_vec + text.proj.forward(sentence);
        }
        let mut z = self.embed.forward(tokens) + self.pos.val();
        for block in &self.blocks {
            z = block.forward(z, c_vec.clone(), self.heads);
        }
        let m = self.final_modulation.forward(silu(c_vec)).chunk(2, 1);
        let z = modulate(z, m[0].clone(), m[1].clone());
        let dims = [b, c, frames, h, w];
        let out = self.unpatchify(self.out.forward(z), dims);
        match &self.scene {
            Some(s) => {
                // The prior is fitted (least squares on the training set), not trained: Adam's
                // per-weight steps on its strongly correlated inputs would scramble the fit,
                // so it is held out of the gradient and only the transformer learns around it.
                let prior = flat.matmul(s.prior.weight.val().detach())
                    + s.prior.bias.as_ref().map_or_else(
                        || Tensor::zeros([1, c * frames * h * w], &flat_device),
                        |bias| bias.val().detach().unsqueeze_dim::<2>(0),
                    )
                    + s.prior_task
                        .weight
                        .val()
                        .detach()
                        .select(0, task.clone().reshape([b]))
                        .reshape([b, c * frames * h * w]);
                // Only toward a task: the prior is a deviation from the task's mean, which the
                // null task of guidance has not (its rows, 10 % of training, measured a loss of
                // 0.5 with it and dominated the gradient).
                let known = task
                    .reshape([b])
                    .equal_elem(self.null_task as i64)
                    .bool_not()
                    .float();
                let weight = (t.neg() + 1.0) * known;
                out + (prior * weight.unsqueeze_dim::<2>(1)).reshape(dims)
            }
            None => out,
        }
    }

    /// Sets the scene prior's map: `weight` `[C * H * W, C * T * H * W]` (flattened first latent
    /// to flattened video) and `task_bias` `[tasks + 1, C * T * H * W]`. Fails (with the shapes)
    /// when the model has no scene paths or the shapes differ.
    pub fn set_scene_prior(
        &mut self,
        weight: Tensor<B, 2>,
        task_bias: Tensor<B, 2>,
    ) -> Result<(), String> {
        let Some(s) = self.scene.as_mut() else {
            return Err("the generator has no scene paths".into());
        };
        let (want_w, want_b) = (s.prior.weight.dims(), s.prior_task.weight.dims());
        if weight.dims() != want_w || task_bias.dims() != want_b {
            return Err(format!(
                "the scene prior is {want_w:?} and {want_b:?}, got {:?} and {:?}",
                weight.dims(),
                task_bias.dims()
            ));
        }
        let device = weight.device();
        s.prior.weight = Param::from_tensor(weight);
        s.prior.bias = Some(Param::from_tensor(Tensor::zeros([want_w[1]], &device)));
        s.prior_task.weight = Param::from_tensor(task_bias);
        Ok(())
    }

    /// This model with the first latent's global paths added (zero at first, so its outputs are
    /// unchanged) if it lacks them, and its config saying so.
    pub fn with_scene(
        mut self,
        config: &GoalGenConfig,
        device: &B::Device,
    ) -> (Self, GoalGenConfig) {
        let config = GoalGenConfig {
            scene: Some(true),
            ..config.clone()
        };
        if self.scene.is_none() {
            self.scene = Some(config.init_scene(device));
        }
        (self, config)
    }

    /// This model with the text path for `dim`-wide sentence embeddings added (zero, so its
    /// outputs are unchanged) if it lacks one, and its config saying so. Fails when it has a
    /// text path of another width.
    pub fn with_text(
        mut self,
        config: &GoalGenConfig,
        dim: usize,
        device: &B::Device,
    ) -> Result<(Self, GoalGenConfig), String> {
        match config.text_dim {
            Some(d) if d != dim => {
                return Err(format!(
                    "the generator reads {d}-wide sentence embeddings, the CLIP weights give {dim}"
                ))
            }
            Some(_) => {}
            None => self.text = Some(config.init_text(dim, device)),
        }
        let config = GoalGenConfig {
            text_dim: Some(dim),
            ..config.clone()
        };
        Ok((self, config))
    }

    /// The task sentences' embeddings the model reads (`[tasks + 1, D]`, the null task's row
    /// last), if it has a text path.
    pub fn sentences(&self) -> Option<Tensor<B, 2>> {
        self.text.as_ref().map(|t| t.sentences.weight.val())
    }

    /// Sets the task sentences' embeddings: `table` `[tasks, D]`, one row per task in order; the
    /// null task's row is set to zero. Fails (with the shapes) without a text path or when the
    /// shapes differ.
    pub fn set_sentences(&mut self, table: Tensor<B, 2>) -> Result<(), String> {
        let Some(text) = self.text.as_mut() else {
            return Err("the generator has no text path".into());
        };
        let [rows, dim] = text.sentences.weight.dims();
        if table.dims() != [rows - 1, dim] {
            return Err(format!(
                "the generator reads {} task sentences of {dim} numbers, got {:?}",
                rows - 1,
                table.dims()
            ));
        }
        let device = table.device();
        let null = Tensor::zeros([1, dim], &device);
        text.sentences.weight = Param::from_tensor(Tensor::cat(vec![table, null], 0));
        Ok(())
    }

    /// The null task's index (classifier-free guidance's unconditional input).
    pub fn null_task(&self) -> usize {
        self.null_task
    }

    /// `[B, C, T, H, W]` -> `[B, tokens, C * pt * ph * pw]`.
    fn patchify(&self, x: Tensor<B, 5>) -> Tensor<B, 3> {
        let [b, c, t, h, w] = x.dims();
        let (pt, ph, pw) = (self.pt, self.ph, self.pw);
        let (nt, nh, nw) = (t / pt, h / ph, w / pw);
        // (b c nt pt nh ph nw pw) -> (b nt nh nw c pt ph pw), in two permutations of rank <= 6.
        x.reshape([b * c * nt * pt, nh, ph, nw, pw])
            .permute([0, 1, 3, 2, 4])
            .reshape([b, c, nt, pt, nh * nw, ph * pw])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([b, nt * nh * nw, c * pt * ph * pw])
    }

    /// The inverse of [`patchify`](Self::patchify).
    fn unpatchify(&self, y: Tensor<B, 3>, [b, c, t, h, w]: [usize; 5]) -> Tensor<B, 5> {
        let (pt, ph, pw) = (self.pt, self.ph, self.pw);
        let (nt, nh, nw) = (t / pt, h / ph, w / pw);
        y.reshape([b, nt, nh * nw, c, pt, ph * pw])
            .permute([0, 3, 1, 4, 2, 5])
            .reshape([b * c * nt * pt, nh, nw, ph, pw])
            .permute([0, 1, 3, 2, 4])
            .reshape([b, c, t, h, w])
    }

    /// The network's output with classifier-free guidance `w`: `o_c + w (o_c - o_u)`, the
    /// conditional and unconditional rows computed in one batch.
    pub fn guided(
        &self,
        x: Tensor<B, 5>,
        first: Tensor<B, 4>,
        task: Tensor<B, 1, Int>,
        t: Tensor<B, 1>,
        guidance: f64,
    ) -> Tensor<B, 5> {
        let b = x.dims()[0];
        let null = Tensor::<B, 1, Int>::full([b], self.null_task as i64, &x.device());
        let v = self.forward(
            Tensor::cat(vec![x.clone(), x], 0),
            Tensor::cat(vec![first.clone(), first], 0),
            Tensor::cat(vec![task, null], 0),
            Tensor::cat(vec![t.clone(), t], 0),
        );
        let vc = v.clone().narrow(0, 0, b);
        let vu = v.narrow(0, b, b);
        vc.clone() + (vc - vu) * guidance
    }

    /// Euler steps from `noise` (`t = 0`) to the generated latent (`t = 1`), frame 0 held to
    /// `first` throughout. With 0 steps, `noise` comes back with its frame 0 set to `first`.
    pub fn sample(
        &self,
        noise: Tensor<B, 5>,
        first: Tensor<B, 4>,
        task: Tensor<B, 1, Int>,
        steps: usize,
        guidance: f64,
    ) -> Tensor<B, 5> {
        let b = noise.dims()[0];
        let device = noise.device();
        let mut x = with_first(noise, first.clone());
        for i in 0..steps {
            let t = Tensor::<B, 1>::full([b], i as f64 / steps as f64, &device);
            let o = self.guided(x.clone(), first.clone(), task.clone(), t, guidance);
            let v = if self.predict_x1 {
                (o - x.clone()) * (steps as f64 / (steps - i) as f64)
            } else {
                o
            };
            x = with_first(x + v / steps as f64, first.clone());
        }
        x
    }

    /// [`sample`](Self::sample) from noise drawn by a generator seeded with `seed`: the same
    /// inputs and seed give the same bits.
    pub fn generate(
        &self,
        first: Tensor<B, 4>,
        task: Tensor<B, 1, Int>,
        seed: u64,
        steps: usize,
        guidance: f64,
    ) -> Tensor<B, 5> {
        let [b, c, h, w] = first.dims();
        let noise = seeded_normal::<B, 5>([b, c, self.frames, h, w], seed, &first.device());
        self.sample(noise, first, task, steps, guidance)
    }

    /// The flow-matching loss of a batch of latents `x1` toward `task`, at times `t` with noise
    /// `x0`: the squared error of the prediction (`x_1`, or the velocity `x_1 - x_0`) over frames
    /// 1 and after (frame 0 is the condition).
    pub fn loss(
        &self,
        x1: Tensor<B, 5>,
        task: Tensor<B, 1, Int>,
        x0: Tensor<B, 5>,
        t: Tensor<B, 1>,
    ) -> Tensor<B, 1> {
        let [b, _, frames, _, _] = x1.dims();
        let first = first_latent(x1.clone());
        let tt = t.clone().reshape([b, 1, 1, 1, 1]);
        let xt = with_first(
            x1.clone() * tt.clone() + x0.clone() * (tt.neg() + 1.0),
            first.clone(),
        );
        let out = self.forward(xt, first, task, t);
        let target = if self.predict_x1 { x1 } else { x1 - x0 };
        (out - target)
            .narrow(2, 1, frames - 1)
            .powf_scalar(2.0)
            .mean()
    }
}

/// Frame 0 of a latent video, `[B, C, T, H, W]` -> `[B, C, H, W]`: the generator's condition.
pub fn first_latent<B: Backend>(x: Tensor<B, 5>) -> Tensor<B, 4> {
    let [b, c, _, h, w] = x.dims();
    x.narrow(2, 0, 1).reshape([b, c, h, w])
}

/// `x` with its frame 0 replaced by `first`.
fn with_first<B: Backend>(x: Tensor<B, 5>, first: Tensor<B, 4>) -> Tensor<B, 5> {
    let [b, c, _, h, w] = x.dims();
    x.slice_assign([0..b, 0..c, 0..1, 0..h, 0..w], first.unsqueeze_dim::<5>(2))
}

/// Standard normal values from a ChaCha generator seeded with `seed` (Box-Muller), the same on
/// every backend.
pub fn seeded_normal<B: Backend, const D: usize>(
    shape: [usize; D],
    seed: u64,
    device: &B::Device,
) -> Tensor<B, D> {
    let n: usize = shape.iter().product();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..n).map(|_| normal(&mut rng) as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// One standard normal value (Box-Muller, one of the pair).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random::<f64>());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Figures of one training step.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct GoalGenStats {
    pub loss: f64,
}

/// The generator and its optimiser, drawing flow times, noise and guidance dropout from a
/// seeded generator.
pub struct GoalGenTrainer<B: AutodiffBackend> {
    pub model: GoalGen<B>,
    pub config: GoalGenConfig,
    optim: OptimizerAdaptor<Adam, GoalGen<B>, B>,
    /// Adam started afresh on a resumed model (no saved state, or new parameters joined), so
    /// the learning rate should warm up again from here.
    pub optim_restarted: bool,
    pub lr: f64,
    rng: ChaCha8Rng,
}

impl<B: AutodiffBackend> GoalGenTrainer<B> {
    pub fn new(config: GoalGenConfig, lr: f64, seed: u64, device: &B::Device) -> Self {
        GoalGenTrainer {
            model: config.init(device),
            config,
            optim: AdamConfig::new().init(),
            optim_restarted: false,
            lr,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// One Adam step on latents `x1` (`[B, C, T, H, W]`) of tasks `task`.
    pub fn step(&mut self, x1: Tensor<B, 5>, task: &[usize]) -> GoalGenStats {
        let device = x1.device();
        let dims = x1.dims();
        let b = dims[0];
        // Flow times: uniform for a share, logit-normal for the rest.
        let t: Vec<f32> = (0..b)
            .map(|_| {
                if self.rng.random::<f64>() < self.config.uniform_time {
                    self.rng.random::<f64>() as f32
                } else {
                    (1.0 / (1.0 + (-normal(&mut self.rng)).exp())) as f32
                }
            })
            .collect();
        let tasks: Vec<i64> = task
            .iter()
            .map(|&k| {
                if self.rng.random::<f64>() < self.config.uncond_prob {
                    self.config.tasks as i64
                } else {
                    k as i64
                }
            })
            .collect();
        let x0 = seeded_normal::<B, 5>(dims, self.rng.random(), &device);
        self.step_on(
            x1,
            Tensor::from_data(TensorData::new(tasks, [b]), &device),
            x0,
            Tensor::from_data(TensorData::new(t, [b]), &device),
        )
    }

    /// One Adam step on the flow-matching loss of a batch whose noise `x0`, times `t` and tasks
    /// (guidance dropout applied) are given.
    pub fn step_on(
        &mut self,
        x1: Tensor<B, 5>,
        task: Tensor<B, 1, Int>,
        x0: Tensor<B, 5>,
        t: Tensor<B, 1>,
    ) -> GoalGenStats {
        let loss = self.model.loss(x1, task, x0, t);
        let stats = GoalGenStats {
            loss: loss.clone().into_scalar().elem::<f64>(),
        };
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.lr, self.model.clone(), grads);
        stats
    }

    /// Adds the first latent's global paths if the model lacks them (a checkpoint made before
    /// they existed); the outputs are unchanged until the prior is set. Adam restarts: its
    /// second moments, small from the converged run, would turn the larger gradients that follow
    /// into steps far above the learning rate (measured: the loss rose from 0.14 to 2.7 in 200
    /// steps). Returns whether they were added.
    pub fn add_scene(&mut self, device: &B::Device) -> bool {
        if self.config.has_scene() {
            return false;
        }
        let (model, config) = self.model.clone().with_scene(&self.config, device);
        self.model = model;
        self.config = config;
        self.optim = AdamConfig::new().init();
        self.optim_restarted = true;
        true
    }

    /// Adds the text path for `dim`-wide sentence embeddings if the model lacks it (its outputs
    /// unchanged until trained); Adam restarts, as for [`add_scene`](Self::add_scene). Returns
    /// whether it was added; fails when the model reads sentences of another width.
    pub fn add_text(&mut self, dim: usize, device: &B::Device) -> Result<bool, String> {
        let had = self.config.text_dim.is_some();
        let (model, config) = self.model.clone().with_text(&self.config, dim, device)?;
        self.model = model;
        self.config = config;
        if !had {
            self.optim = AdamConfig::new().init();
            self.optim_restarted = true;
        }
        Ok(!had)
    }

    /// Sets the scene prior's map (see [`GoalGen::set_scene_prior`]).
    pub fn set_scene_prior(
        &mut self,
        weight: Tensor<B, 2>,
        task_bias: Tensor<B, 2>,
    ) -> Result<(), String> {
        self.model.set_scene_prior(weight, task_bias)
    }

    /// Saves the model (config, weights, `meta`) and the optimiser state into `dir`.
    pub fn save(&self, dir: &Path, meta: &serde_json::Value) -> Result<(), CheckpointError> {
        checkpoint::save(dir, &self.model, &self.config, meta)?;
        checkpoint::save_record::<_, B>(dir, "optimizer", self.optim.to_record())
    }

    /// Restores a run saved by [`save`](Self::save): weights, config and Adam's moments; `seed`
    /// seeds the draws from here on.
    pub fn resume(
        dir: &Path,
        lr: f64,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self, CheckpointError> {
        let ck = checkpoint::GoalGenCheckpoint::<B>::load(dir, device)?;
        // A shipped checkpoint carries no Adam state; training on from it starts Adam afresh
        // (the caller warms the rate up again, see `optim_restarted`).
        let (optim, optim_restarted) =
            match checkpoint::load_record::<_, B>(dir, "optimizer", device) {
                Ok(record) => (AdamConfig::new().init().load_record(record), false),
                Err(CheckpointError::MissingFile(_)) => (AdamConfig::new().init(), true),
                Err(e) => return Err(e),
            };
        Ok(GoalGenTrainer {
            model: ck.model,
            config: ck.config,
            optim,
            optim_restarted,
            lr,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    type B = burn::backend::Flex;

    /// 2 channels, 4 latent frames of 4x4, 2x2x2 tubelets, one narrow block.
    fn tiny() -> GoalGenConfig {
        GoalGenConfig::new()
            .with_channels(2)
            .with_frames(4)
            .with_side(4)
            .with_patch([2, 2, 2])
            .with_width(8)
            .with_heads(2)
            .with_depth(1)
    }

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().unwrap()
    }

    #[test]
    fn the_scene_prior_is_added_with_weight_one_minus_t() {
        let cfg = tiny().with_tasks(2);
        let d = Default::default();
        let plain = cfg.init::<B>(&d);
        let (mut with, _) = plain.clone().with_scene(&cfg, &d);
        // Give the prior (and only the prior) weights: W = 0.1 everywhere, task 1's bias 0.5.
        let s = with.scene.take().unwrap();
        let [i, o] = s.prior.weight.dims();
        with.scene = Some(Scene {
            prior: Linear {
                weight: Param::from_tensor(Tensor::full([i, o], 0.1, &d)),
                bias: Some(Param::from_tensor(Tensor::zeros([o], &d))),
            },
            prior_task: Embedding {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(
                        [vec![0.0f32; o], vec![0.5; o], vec![0.0; o]].concat(),
                        [3, o],
                    ),
                    &d,
                )),
            },
            ..s
        });
        let x = seeded_normal::<B, 5>([2, 2, 4, 4, 4], 3, &d);
        let first = first_latent(x.clone());
        let sum: Vec<f32> = values(first.clone().reshape([2, 32]).sum_dim(1));
        let task = Tensor::<B, 1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &d);
        for t in [0.0f32, 0.25, 1.0] {
            let tt = Tensor::<B, 1>::from_floats([t, t], &d);
            let a = values(plain.forward(x.clone(), first.clone(), task.clone(), tt.clone()));
            let b = values(with.forward(x.clone(), first.clone(), task.clone(), tt));
            for (k, (a, b)) in a.iter().zip(&b).enumerate() {
                let row = k / (2 * 4 * 4 * 4);
                let want = (1.0 - t) * (0.1 * sum[row] + if row == 1 { 0.5 } else { 0.0 });
                assert!(
                    (b - a - want).abs() < 1e-4,
                    "t {t}, entry {k}: {a} + {want} != {b}"
                );
            }
        }
    }

    #[test]
    fn a_token_holds_one_tubelet_and_unpatchify_undoes_patchify() {
        let cfg = tiny();
        let m = cfg.init::<B>(&Default::default());
        let dims = [1, 2, 4, 4, 4];
        let n: usize = dims.iter().product();
        let x = Tensor::<B, 5>::from_data(
            TensorData::new((0..n).map(|i| i as f32).collect::<Vec<_>>(), dims),
            &Default::default(),
        );
        let tokens = m.patchify(x.clone());
        assert_eq!(tokens.dims(), [1, 8, 16]);
        // Token 1 is the tubelet at time 0, row 0, column 1 (x 2..4); its entries run over
        // channel, time, row, column.
        let tok: Vec<f32> = tokens.narrow(1, 1, 1).into_data().to_vec().unwrap();
        let at = |c: usize, t: usize, y: usize, xx: usize| (((c * 4 + t) * 4 + y) * 4 + xx) as f32;
        let want: Vec<f32> = (0..2)
            .flat_map(|c| {
                (0..2).flat_map(move |t| {
                    (0..2).flat_map(move |y| (2..4).map(move |xx| at(c, t, y, xx)))
                })
            })
            .collect();
        assert_eq!(tok, want);
        let back = m.unpatchify(m.patchify(x.clone()), dims);
        assert_eq!(
            back.into_data().to_vec::<f32>().unwrap(),
            x.into_data().to_vec::<f32>().unwrap()
        );
    }
}
