//! DreamerV3's squashing, discrete regression and categorical latents (Hafner et al., 2023,
//! "Mastering diverse domains through world models", sections 2-3; facts in
//! `docs/dreamerv3-facts.md`).
//!
//! * `symlog(x) = sign(x) ln(1 + |x|)` and its inverse `symexp(x) = sign(x) (e^|x| - 1)`:
//!   large targets squashed, small ones left nearly as they are.
//! * Two-hot regression: a scalar `y` is predicted as a softmax over fixed bins `b_k`; the
//!   target puts weight on the two bins around `y` in proportion to closeness, the loss is the
//!   cross-entropy and the prediction `sum_k p_k b_k`. DreamerV3's reward and value heads use 255
//!   bins evenly spaced in symlog space over [-20, 20] and stored as values (`symexp` of those
//!   points: +-4.85e8 at the ends, 0.1706 next to the middle one), so small values get fine bins
//!   and large ones coarse bins. As in the reference code (the paper words it as "symlog the
//!   target"), the target is encoded against those values directly.
//! * Categorical latents: `groups` categoricals of `classes` each, mixed with 1 % uniform
//!   ("unimix") so no class is ever impossible, sampled as one-hot vectors with straight-through
//!   gradients `onehot + p - sg(p)`.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor};

/// `sign(x) ln(1 + |x|)`.
pub fn symlog<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone().sign() * x.abs().log1p()
}

/// `sign(x) (e^|x| - 1)`, the inverse of [`symlog`].
pub fn symexp<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone().sign() * (x.abs().exp() - 1.0)
}

/// Bins of the reference's reward and value heads.
pub const BINS: usize = 255;
/// The bins span `[-BIN_RANGE, BIN_RANGE]` in symlog space (about +-4.85e8 in value).
pub const BIN_RANGE: f64 = 20.0;

/// Fixed bins for two-hot regression, symmetric around 0 with one bin at 0 (an odd count).
#[derive(Clone, Debug)]
pub struct TwoHot<B: Backend> {
    /// `[1, n]`, increasing.
    bins: Tensor<B, 2>,
    n: usize,
}

/// The values of `n` (odd) bins evenly spaced over `[-range, range]` in symlog space: the
/// negative half is made first and mirrored, so the bins are exactly symmetric.
pub fn symexp_bins(n: usize, range: f64) -> Vec<f32> {
    // `BINS` is a constant; only tests call this with other counts.
    debug_assert!(
        n >= 3 && n % 2 == 1,
        "symmetric bins need an odd count of at least 3"
    );
    let half = n / 2;
    let neg: Vec<f32> = (0..=half)
        .map(|k| {
            let x = -range + range * k as f64 / half as f64;
            (x.signum() * (x.abs().exp() - 1.0)) as f32
        })
        .collect();
    let mut bins = neg.clone();
    bins.extend(neg[..half].iter().rev().map(|v| -v));
    bins
}

impl<B: Backend> TwoHot<B> {
    /// Two-hot regression over `bins` (odd count, increasing, symmetric around a 0 bin).
    pub fn from_bins(bins: &[f32], device: &B::Device) -> Self {
        let n = bins.len();
        debug_assert!(n >= 3 && n % 2 == 1, "two-hot needs an odd count of bins");
        debug_assert!(
            bins.windows(2).all(|w| w[0] < w[1]),
            "two-hot bins must increase"
        );
        TwoHot {
            bins: Tensor::<B, 1>::from_floats(bins, device).reshape([1, n]),
            n,
        }
    }

    /// DreamerV3's reward and value bins: 255, evenly spaced in symlog space over [-20, 20].
    pub fn dreamer(device: &B::Device) -> Self {
        Self::from_bins(&symexp_bins(BINS, BIN_RANGE), device)
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The two-hot encoding `[N, n]` of values `x` `[N]`: weight `1 - |x - b_k| / (b_{k+1} -
    /// b_k)` on the two bins around `x`; values outside the range put all their weight on the
    /// end bin.
    pub fn encode(&self, x: Tensor<B, 1>) -> Tensor<B, 2> {
        let [count] = x.dims();
        let n = self.n as i64;
        let device = x.device();
        let x = x.reshape([count, 1]);
        let bins = self.bins.clone().expand([count, self.n]);
        // Index of the last bin <= x, and of the first bin > x (clamped to the ends).
        let below: Tensor<B, 2, Int> =
            (bins.clone().lower_equal(x.clone()).int().sum_dim(1) - 1).clamp(0, n - 1);
        let above: Tensor<B, 2, Int> =
            (-(bins.clone().greater(x.clone()).int().sum_dim(1)) + n).clamp(0, n - 1);
        let b_below = bins.clone().gather(1, below.clone());
        let b_above = bins.gather(1, above.clone());
        let d_below = (b_below - x.clone()).abs();
        let d_above = (b_above - x).abs();
        let same = below.clone().equal(above.clone());
        let total = (d_below.clone() + d_above.clone()).clamp_min(1e-12);
        // Inside the range the nearer bin gets more weight; where both indices are the end bin,
        // half and half on the same bin makes one.
        let w_below = (d_above / total.clone()).mask_fill(same.clone(), 0.5);
        let w_above = (d_below / total).mask_fill(same, 0.5);
        let classes = Tensor::<B, 1, Int>::arange(0..n, &device)
            .reshape([1, self.n])
            .expand([count, self.n]);
        let hot =
            |idx: Tensor<B, 2, Int>| classes.clone().equal(idx.expand([count, self.n])).float();
        hot(below) * w_below + hot(above) * w_above
    }

    /// Cross-entropy `[N]` of `logits` `[N, n]` against the two-hot encoding of `target` `[N]`
    /// (no gradient flows into the target).
    pub fn loss(&self, logits: Tensor<B, 2>, target: Tensor<B, 1>) -> Tensor<B, 1> {
        let [count, _] = logits.dims();
        let t = self.encode(target.detach());
        -(t * log_softmax(logits, 1)).sum_dim(1).reshape([count])
    }

    /// The expected bin value `[N]` under the softmax of `logits` `[N, n]`. Mirrored bins are
    /// added pairwise before the sum, so a symmetric distribution (zero-initialised logits)
    /// decodes to exactly 0 although the end bins are +-4.85e8 in f32.
    pub fn mean(&self, logits: Tensor<B, 2>) -> Tensor<B, 1> {
        let [count, _] = logits.dims();
        let half = self.n / 2;
        let weighted = softmax(logits, 1) * self.bins.clone();
        let left = weighted.clone().slice([0..count, 0..half]).flip([1]);
        let right = weighted.clone().slice([0..count, half + 1..self.n]);
        let mid = weighted.slice([0..count, half..half + 1]);
        (mid + (left + right).sum_dim(1)).reshape([count])
    }
}

/// Probabilities `[.., classes]` of the softmax of `logits` mixed with `unimix` of the uniform
/// distribution (DreamerV3: 1 %).
pub fn unimix_probs<B: Backend, const D: usize>(logits: Tensor<B, D>, unimix: f64) -> Tensor<B, D> {
    let classes = logits.dims()[D - 1] as f64;
    softmax(logits, D - 1) * (1.0 - unimix) + unimix / classes
}

/// A one-hot sample `[.., classes]` of each categorical with straight-through gradients:
/// the forward value is the sample, the gradient that of `probs`.
pub fn sample_straight_through<B: Backend, const D: usize>(probs: Tensor<B, D>) -> Tensor<B, D> {
    let dims = probs.dims();
    let classes = dims[D - 1];
    // Gumbel-max: argmax(log p + g) with g = -ln(-ln u) is a draw from p.
    let u = probs
        .random_like(Distribution::Uniform(1e-6, 1.0 - 1e-6))
        .detach();
    let g = -(-(u.log())).log();
    let idx = (probs.clone().detach().clamp_min(1e-12).log() + g).argmax(D - 1);
    let device = probs.device();
    let mut shape = [1usize; D];
    shape[D - 1] = classes;
    let classes_t = Tensor::<B, 1, Int>::arange(0..classes as i64, &device)
        .reshape(shape)
        .expand(dims);
    let onehot = classes_t.equal(idx.expand(dims)).float();
    onehot + probs.clone() - probs.detach()
}

/// `KL(p || q)` summed over classes and categoricals: `[N]` from probabilities `[N, groups,
/// classes]`.
pub fn categorical_kl<B: Backend>(p: Tensor<B, 3>, q: Tensor<B, 3>) -> Tensor<B, 1> {
    let [n, _, _] = p.dims();
    let lp = p.clone().clamp_min(1e-12).log();
    let lq = q.clamp_min(1e-12).log();
    (p * (lp - lq)).sum_dim(2).sum_dim(1).reshape([n])
}

/// DreamerV3's KL losses `[N]` from posterior and prior probabilities `[N, groups, classes]`:
/// `dyn = max(free, KL(sg(post) || prior))` trains the prior toward the posterior, `rep =
/// max(free, KL(post || sg(prior)))` keeps the posterior predictable. The clip at `free` nats
/// stops each once it is below (no gradient there).
pub fn kl_losses<B: Backend>(
    post: Tensor<B, 3>,
    prior: Tensor<B, 3>,
    free: f64,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let dynamics = categorical_kl(post.clone().detach(), prior.clone()).clamp_min(free);
    let representation = categorical_kl(post, prior.detach()).clamp_min(free);
    (dynamics, representation)
}
