//! DreamerV3's optimiser: adaptive gradient clipping, then LaProp (RMS normalisation before
//! momentum), one learning rate for the world model, the actor and the critic.
//!
//! Per parameter tensor `p` with gradient `g`, at step `t`:
//! 1. AGC: `g *= 1 / max(1, |g| / (0.3 max(1e-3, |p|)))` (norms over the tensor);
//! 2. `nu = 0.999 nu + 0.001 g^2`, `u = g / (sqrt(nu / (1 - 0.999^t)) + eps)`;
//! 3. `mu = 0.9 mu + 0.1 u`, `p -= lr mu / (1 - 0.9^t)`.
//!
//! The reference warms the learning rate up linearly over its first 1,000 updates; the training
//! loop passes the rate.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{LearningRate, SimpleOptimizer};
use burn::record::Record;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;

#[derive(Config, Debug, PartialEq)]
pub struct LaPropConfig {
    #[config(default = 0.9)]
    pub beta1: f64,
    #[config(default = 0.999)]
    pub beta2: f64,
    #[config(default = 1e-20)]
    pub eps: f64,
    /// Clip gradients to this fraction of their parameter's norm (0: off).
    #[config(default = 0.3)]
    pub agc: f64,
    #[config(default = 1e-3)]
    pub agc_floor: f64,
}

#[derive(Clone, Debug)]
pub struct LaProp {
    cfg: LaPropConfig,
}

#[derive(Record, Clone)]
pub struct LaPropState<B: Backend, const D: usize> {
    pub time: usize,
    pub nu: Tensor<B, D>,
    pub mu: Tensor<B, D>,
}

impl LaPropConfig {
    pub fn build(&self) -> LaProp {
        LaProp { cfg: self.clone() }
    }

    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> OptimizerAdaptor<LaProp, M, B> {
        OptimizerAdaptor::from(self.build())
    }
}

impl<B: Backend> SimpleOptimizer<B> for LaProp {
    type State<const D: usize> = LaPropState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let c = &self.cfg;
        let mut grad = grad;
        if c.agc > 0.0 {
            // All in tensors (no read-back): factor = min(1, upper / |g|).
            let norm = |t: Tensor<B, D>| t.powi_scalar(2).sum().sqrt();
            let upper = norm(tensor.clone()).clamp_min(c.agc_floor) * c.agc;
            let factor = (upper / norm(grad.clone()).clamp_min(1e-30)).clamp_max(1.0);
            grad = grad * factor.reshape([1; D]);
        }
        let (time, nu, mu) = match state {
            Some(s) => (s.time + 1, s.nu, s.mu),
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        let nu = nu * c.beta2 + grad.clone().powi_scalar(2) * (1.0 - c.beta2);
        let nu_hat = nu.clone() / (1.0 - c.beta2.powi(time as i32));
        let u = grad / (nu_hat.sqrt() + c.eps);
        let mu = mu * c.beta1 + u * (1.0 - c.beta1);
        let step = mu.clone() * (lr / (1.0 - c.beta1.powi(time as i32)));
        (tensor - step, Some(LaPropState { time, nu, mu }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        LaPropState {
            time: state.time,
            nu: state.nu.to_device(device),
            mu: state.mu.to_device(device),
        }
    }
}

/// The reference's learning-rate schedule: linear warm-up from 0 over `warmup` updates.
pub fn warmup_lr(lr: f64, update: usize, warmup: usize) -> f64 {
    if warmup == 0 {
        lr
    } else {
        lr * ((update + 1) as f64 / warmup as f64).min(1.0)
    }
}
