//! Times DreamerV3's parts on this machine: the world model's loss (forward, then with its
//! backward pass) and a whole update (imagination and actor-critic included), per preset and
//! batch shape. Prints one JSON line per setting.
//!
//! `cargo run --release -p genreward-models --example dreamer_update -- [size1m] [16x64]...
//! [strided]` (`strided`: stride-2 convolutions instead of conv + pool and upsample + conv).

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor};
use genreward_models::dreamer::world::Batch;
use genreward_models::dreamer::{AgentConfig, Learner, Preset, TwoHot};
use std::time::Instant;

type B = Autodiff<Flex>;

fn batch(b: usize, t: usize, d: &burn::tensor::Device<B>) -> Batch<B> {
    let mut first = vec![0f32; b * t];
    for s in 0..b {
        first[s * t] = 1.0;
    }
    Batch {
        image: Tensor::random([b, t, 3, 64, 64], Distribution::Uniform(0.0, 1.0), d),
        vector: None,
        action: Tensor::random([b, t, 4], Distribution::Uniform(-1.0, 1.0), d),
        reward: Tensor::random([b, t], Distribution::Uniform(0.0, 1.0), d),
        is_first: Tensor::<B, 1>::from_floats(first.as_slice(), d).reshape([b, t]),
        is_terminal: Tensor::zeros([b, t], d),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset: Preset = args
        .first()
        .map_or("size1m", String::as_str)
        .parse()
        .expect("a preset name");
    let strided = args.iter().any(|a| a == "strided");
    let mut shapes: Vec<(usize, usize)> = args
        .iter()
        .skip(1)
        .filter(|s| s.as_str() != "strided")
        .map(|s| {
            let (b, t) = s.split_once('x').expect("BxT");
            (b.parse().unwrap(), t.parse().unwrap())
        })
        .collect();
    if shapes.is_empty() {
        shapes.push((16, 64));
    }
    let d = Default::default();
    for (b, t) in shapes {
        let mut cfg = AgentConfig::preset(preset, 4, 0);
        cfg.world.strided = strided;
        let mut learner = Learner::<B>::new(cfg, &d);
        let twohot = TwoHot::<B>::dreamer(&d);
        let x = batch(b, t, &d);
        let time = |f: &mut dyn FnMut()| {
            f(); // warm-up
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        };
        let world_fwd = time(&mut || {
            let l = learner.agent().world.loss(&x, &twohot);
            let _ = l.total.into_scalar();
        });
        let world_bwd = time(&mut || {
            let l = learner.agent().world.loss(&x, &twohot);
            let _ = l.total.backward();
        });
        let update = time(&mut || {
            learner.train(&x);
        });
        println!(
            "{}",
            serde_json::json!({
                "preset": preset.name(),
                "strided": strided,
                "batch": b,
                "length": t,
                "world_loss_s": world_fwd,
                "world_loss_and_backward_s": world_bwd,
                "update_s": update,
                "replayed_steps_per_s": (b * t) as f64 / update,
            })
        );
    }
}
