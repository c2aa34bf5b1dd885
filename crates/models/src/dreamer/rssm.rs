//! DreamerV3's recurrent state-space model: a deterministic state `h` (a block GRU) and a
//! stochastic state `z` (`stoch` categoricals of `classes` each).
//!
//! * core: `h_t = GRU(h_{t-1}, z_{t-1}, a_{t-1})`. The three inputs pass each through
//!   Linear + RMSNorm + SiLU (`hidden` units), the deterministic state is cut into `blocks`
//!   blocks and each block sees its own part of `h` and all of the inputs; block-diagonal
//!   layers then give reset, candidate and update gates per block:
//!   `h = u * tanh(r * c) + (1 - u) * h` with `u = sigmoid(. - 1)` (biased toward keeping `h`).
//! * prior `p(z_t | h_t)`: MLP on `h_t`; posterior `q(z_t | h_t, x_t)`: MLP on `h_t` and the
//!   observation's embedding. Both are unimix categoricals; `z` is a straight-through sample.
//! * Actions are divided by `max(1, |a|)` (a no-op for actions in [-1, 1]). The first step of an
//!   episode starts from zeros (state and previous action).

use super::dist::{sample_straight_through, unimix_probs};
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Sizes of the RSSM (the reference's presets: [`super::Preset`]).
#[derive(Config, Debug, PartialEq)]
pub struct RssmConfig {
    /// Size of the deterministic state `h`.
    pub deter: usize,
    /// Width of the input and prior/posterior layers.
    pub hidden: usize,
    /// Categoricals in `z`, and classes per categorical.
    #[config(default = 32)]
    pub stoch: usize,
    pub classes: usize,
    /// Blocks of the GRU.
    #[config(default = 8)]
    pub blocks: usize,
    pub action_dim: usize,
    /// Size of the observation embedding the posterior reads.
    pub embed_dim: usize,
    #[config(default = 0.01)]
    pub unimix: f64,
    /// Layers of the prior MLP and of the posterior MLP.
    #[config(default = 2)]
    pub img_layers: usize,
    #[config(default = 1)]
    pub obs_layers: usize,
    /// Block-diagonal layers before the GRU gates.
    #[config(default = 1)]
    pub dyn_layers: usize,
}

impl RssmConfig {
    /// Size of the model state `[h, z]` the heads read.
    pub fn feat_dim(&self) -> usize {
        self.deter + self.stoch * self.classes
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Rssm<B> {
        // `AgentConfig::check` refuses configs from files that break this.
        debug_assert!(
            self.blocks > 0 && self.deter.is_multiple_of(self.blocks),
            "deter must be a multiple of blocks"
        );
        let z = self.stoch * self.classes;
        let mlp = |input: usize, layers: usize| -> Vec<Dense<B>> {
            (0..layers)
                .map(|i| {
                    Dense::new(
                        if i == 0 { input } else { self.hidden },
                        self.hidden,
                        device,
                    )
                })
                .collect()
        };
        let block_in = self.deter / self.blocks + 3 * self.hidden;
        Rssm {
            deter_in: Dense::new(self.deter, self.hidden, device),
            stoch_in: Dense::new(z, self.hidden, device),
            action_in: Dense::new(self.action_dim, self.hidden, device),
            dynamics: (0..self.dyn_layers)
                .map(|i| {
                    let input = if i == 0 {
                        block_in
                    } else {
                        self.deter / self.blocks
                    };
                    BlockDense {
                        layer: BlockLinear::new(
                            self.blocks,
                            input,
                            self.deter / self.blocks,
                            device,
                        ),
                        norm: RmsNormConfig::new(self.deter).init(device),
                    }
                })
                .collect(),
            gates: BlockLinear::new(
                self.blocks,
                if self.dyn_layers == 0 {
                    block_in
                } else {
                    self.deter / self.blocks
                },
                3 * self.deter / self.blocks,
                device,
            ),
            prior: mlp(self.deter, self.img_layers),
            prior_out: LinearConfig::new(self.hidden, z).init(device),
            post: mlp(self.deter + self.embed_dim, self.obs_layers),
            post_out: LinearConfig::new(self.hidden, z).init(device),
            deter: self.deter,
            stoch: self.stoch,
            classes: self.classes,
            blocks: self.blocks,
            unimix: self.unimix,
        }
    }
}

/// Linear + RMSNorm + SiLU.
#[derive(Module, Debug)]
pub struct Dense<B: Backend> {
    linear: Linear<B>,
    norm: RmsNorm<B>,
}

impl<B: Backend> Dense<B> {
    pub fn new(input: usize, output: usize, device: &B::Device) -> Self {
        Dense {
            // Biases start at zero, as in the reference.
            linear: LinearConfig::new(input, output)
                .init(device)
                .map(&mut ZeroBias),
            norm: RmsNormConfig::new(output).init(device),
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        silu(self.norm.forward(self.linear.forward(x)))
    }
}

/// Sets a linear layer's bias to zero.
struct ZeroBias;

impl<B: Backend> burn::module::ModuleMapper<B> for ZeroBias {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if D == 1 {
            // A new leaf that asks for gradients (a plain `zeros_like` would not be trained).
            p.map(|t| t.zeros_like().detach().require_grad())
        } else {
            p
        }
    }
}

/// A block-diagonal linear layer: `g` independent `in -> out` maps on the `g` blocks of its input
/// (`[N, g * in] -> [N, g * out]`), one bias over all outputs.
#[derive(Module, Debug)]
pub struct BlockLinear<B: Backend> {
    /// `[g, in, out]`.
    weight: Param<Tensor<B, 3>>,
    bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> BlockLinear<B> {
    pub fn new(groups: usize, input: usize, output: usize, device: &B::Device) -> Self {
        // Fan-in of the whole input, as the reference counts it.
        let fan_in = groups * input;
        let bound = (1.0 / fan_in as f64).sqrt();
        BlockLinear {
            weight: Initializer::Uniform {
                min: -bound,
                max: bound,
            }
            .init([groups, input, output], device),
            bias: Initializer::Zeros.init([groups * output], device),
        }
    }

    /// `x`: `[N, g, in]` (block `k` in row `k`) -> `[N, g * out]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        let [n, g, _] = x.dims();
        let out = x.swap_dims(0, 1).matmul(self.weight.val()).swap_dims(0, 1);
        let [_, _, o] = out.dims();
        out.reshape([n, g * o]) + self.bias.val().unsqueeze()
    }
}

/// A block-diagonal layer with RMSNorm over all its outputs and SiLU.
#[derive(Module, Debug)]
pub struct BlockDense<B: Backend> {
    layer: BlockLinear<B>,
    norm: RmsNorm<B>,
}

/// The model state: deterministic `[N, deter]` and stochastic `[N, stoch * classes]` (one-hot
/// samples, flattened).
#[derive(Clone, Debug)]
pub struct State<B: Backend> {
    pub deter: Tensor<B, 2>,
    pub stoch: Tensor<B, 2>,
}

impl<B: Backend> State<B> {
    /// `[h, z]`: what the heads read.
    pub fn feat(&self) -> Tensor<B, 2> {
        Tensor::cat(vec![self.deter.clone(), self.stoch.clone()], 1)
    }

    pub fn detach(self) -> Self {
        State {
            deter: self.deter.detach(),
            stoch: self.stoch.detach(),
        }
    }

    /// Zeroes the rows where `keep` `[N, 1]` is 0 (the first step of an episode).
    pub fn mask(self, keep: Tensor<B, 2>) -> Self {
        State {
            deter: self.deter * keep.clone(),
            stoch: self.stoch * keep,
        }
    }
}

#[derive(Module, Debug)]
pub struct Rssm<B: Backend> {
    deter_in: Dense<B>,
    stoch_in: Dense<B>,
    action_in: Dense<B>,
    dynamics: Vec<BlockDense<B>>,
    gates: BlockLinear<B>,
    prior: Vec<Dense<B>>,
    prior_out: Linear<B>,
    post: Vec<Dense<B>>,
    post_out: Linear<B>,
    deter: usize,
    stoch: usize,
    classes: usize,
    blocks: usize,
    unimix: f64,
}

impl<B: Backend> Rssm<B> {
    /// The all-zero state of `n` sequences.
    pub fn initial(&self, n: usize, device: &B::Device) -> State<B> {
        State {
            deter: Tensor::zeros([n, self.deter], device),
            stoch: Tensor::zeros([n, self.stoch * self.classes], device),
        }
    }

    /// The next deterministic state `[N, deter]` from the state and the action `[N, A]`.
    pub fn core(&self, state: &State<B>, action: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, _] = state.deter.dims();
        let g = self.blocks;
        let per = self.deter / g;
        let action = action.clone() / action.abs().detach().clamp_min(1.0);
        let inputs = Tensor::cat(
            vec![
                self.deter_in.forward(state.deter.clone()),
                self.stoch_in.forward(state.stoch.clone()),
                self.action_in.forward(action),
            ],
            1,
        );
        let [_, width] = inputs.dims();
        let blocks = state.deter.clone().reshape([n, g, per]);
        let mut x = Tensor::cat(
            vec![blocks, inputs.unsqueeze_dim::<3>(1).expand([n, g, width])],
            2,
        );
        for layer in &self.dynamics {
            let y = layer.layer.forward(x);
            x = silu(layer.norm.forward(y)).reshape([n, g, per]);
        }
        // Per block: [reset | candidate | update].
        let gates = self.gates.forward(x).reshape([n, g, 3, per]);
        let part = |i: usize| {
            gates
                .clone()
                .slice([0..n, 0..g, i..i + 1, 0..per])
                .reshape([n, g * per])
        };
        let reset = sigmoid(part(0));
        let cand = (reset * part(1)).tanh();
        let update = sigmoid(part(2) - 1.0);
        update.clone() * cand + (-update + 1.0) * state.deter.clone()
    }

    fn probs(&self, logits: Tensor<B, 2>) -> Tensor<B, 3> {
        let [n, _] = logits.dims();
        unimix_probs(logits.reshape([n, self.stoch, self.classes]), self.unimix)
    }

    fn sample(&self, probs: Tensor<B, 3>) -> Tensor<B, 2> {
        let [n, _, _] = probs.dims();
        sample_straight_through(probs).reshape([n, self.stoch * self.classes])
    }

    /// The prior's probabilities `[N, stoch, classes]` given `h` `[N, deter]`.
    pub fn prior(&self, deter: Tensor<B, 2>) -> Tensor<B, 3> {
        let mut x = deter;
        for l in &self.prior {
            x = l.forward(x);
        }
        self.probs(self.prior_out.forward(x))
    }

    /// One imagined step: the next state, `z` sampled from the prior, and the prior's
    /// probabilities.
    pub fn img_step(&self, state: &State<B>, action: Tensor<B, 2>) -> (State<B>, Tensor<B, 3>) {
        let deter = self.core(state, action);
        let probs = self.prior(deter.clone());
        let stoch = self.sample(probs.clone());
        (State { deter, stoch }, probs)
    }

    /// One observed step: `is_first` `[N, 1]` (1 on an episode's first step) resets the state
    /// and the previous action; `z` is sampled from the posterior given the embedding `[N, E]`.
    /// Returns the state and the posterior's probabilities.
    pub fn obs_step(
        &self,
        state: State<B>,
        prev_action: Tensor<B, 2>,
        embed: Tensor<B, 2>,
        is_first: Tensor<B, 2>,
    ) -> (State<B>, Tensor<B, 3>) {
        let keep = -is_first + 1.0;
        let state = state.mask(keep.clone());
        let prev_action = prev_action * keep;
        let deter = self.core(&state, prev_action);
        let mut x = Tensor::cat(vec![deter.clone(), embed], 1);
        for l in &self.post {
            x = l.forward(x);
        }
        let probs = self.probs(self.post_out.forward(x));
        let stoch = self.sample(probs.clone());
        (State { deter, stoch }, probs)
    }
}
