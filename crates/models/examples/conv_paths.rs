//! Times the two ways to run a causal 3x3x3 convolution at the VAE's latent resolution on the
//! CPU backend: burn's conv3d, and one conv2d over frames with the three time taps stacked as
//! channels. `cargo run -p genreward-models --example conv_paths`
use burn::backend::Flex;
use burn::tensor::module::{conv2d, conv3d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Tensor};
use std::time::Instant;

type B = Flex;

fn main() {
    let dev = Default::default();
    let (c, t, s) = (64, 16, 8);
    let x = Tensor::<B, 5>::random([1, c, t + 2, s, s], Distribution::Default, &dev);
    let w = Tensor::<B, 5>::random([c, c, 3, 3, 3], Distribution::Default, &dev);
    let time = |f: &dyn Fn() -> Vec<f32>| {
        f();
        let mut v: Vec<f64> = (0..15)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[7]
    };
    let a = || {
        conv3d(
            x.clone(),
            w.clone(),
            None,
            ConvOptions::new([1, 1, 1], [0, 1, 1], [1, 1, 1], 1),
        )
        .into_data()
        .to_vec::<f32>()
        .unwrap()
    };
    // Frames as batch, taps as channels: input [T, 3C, s, s], weight [C, 3C, 3, 3].
    let w2 = w.clone().swap_dims(1, 2).reshape([c, 3 * c, 3, 3]);
    let b = || {
        let taps: Vec<Tensor<B, 4>> = (0..t)
            .map(|i| {
                x.clone()
                    .slice([0..1, 0..c, i..i + 3, 0..s, 0..s])
                    .swap_dims(1, 2)
                    .reshape([1, 3 * c, s, s])
            })
            .collect();
        let xin = Tensor::cat(taps, 0);
        conv2d(
            xin,
            w2.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        )
        .into_data()
        .to_vec::<f32>()
        .unwrap()
    };
    let (ra, rb) = (a(), b());
    // Same numbers: out3d is [1, C, T, s, s], out2d is [T, C, s, s].
    let mut max = 0f32;
    for ti in 0..t {
        for ci in 0..c {
            for p in 0..s * s {
                let u = ra[(ci * t + ti) * s * s + p];
                let v = rb[(ti * c + ci) * s * s + p];
                max = max.max((u - v).abs());
            }
        }
    }
    println!(
        "conv3d {:.2} ms, conv2d-taps {:.2} ms, max diff {max:e}",
        time(&a),
        time(&b)
    );
}
