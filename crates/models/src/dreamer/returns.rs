//! Lambda returns over an imagined (or replayed) trajectory.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// TD(lambda) returns `[H, N]` of a trajectory of `H + 1` states `[H + 1, N]`:
/// `R_{H-1}` bootstraps from `v_H`, and
/// `R_t = r_{t+1} + c_{t+1} ((1 - lambda) v_{t+1} + lambda R_{t+1})` with `R_H = v_H`,
/// where `c` is the continuation (the continue head's output, which already includes the
/// discount `1 - 1/333`) and `r_{t+1}` the reward predicted at state `t + 1`.
pub fn lambda_returns<B: Backend>(
    reward: Tensor<B, 2>,
    cont: Tensor<B, 2>,
    value: Tensor<B, 2>,
    lambda: f64,
) -> Tensor<B, 2> {
    let [steps, n] = value.dims();
    // An imagination horizon of at least 1 (`AgentConfig::check`) gives two states or more.
    debug_assert!(steps >= 2, "a trajectory needs at least two states");
    let row = |t: &Tensor<B, 2>, i: usize| t.clone().slice([i..i + 1, 0..n]);
    let mut next = row(&value, steps - 1);
    let mut out = Vec::with_capacity(steps - 1);
    for t in (0..steps - 1).rev() {
        let boot = row(&value, t + 1) * (1.0 - lambda) + next * lambda;
        let r = row(&reward, t + 1) + row(&cont, t + 1) * boot;
        out.push(r.clone());
        next = r;
    }
    out.reverse();
    Tensor::cat(out, 0)
}
