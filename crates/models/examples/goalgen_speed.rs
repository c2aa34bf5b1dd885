//! The goal-video generator's cost on this machine (flex backend), to size it:
//! `cargo run --release -p genreward-models --example goalgen_speed -- [width] [depth] [reps]`
//!
//! Prints one JSON line: the parameter count, the median time of one training step (Adam) at
//! batches 16 and 32, and of one goal's sampling (one video, classifier-free guidance so two
//! rows per step) at 1, 10 and 25 Euler steps, for the default latent shape (4 x 16 x 8 x 8,
//! 4x2x2 tubelets: 64 tokens). Decoding is the VAE's and is not included.

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module};
use burn::tensor::{Int, Tensor, TensorData};
use genreward_models::goalgen::{first_latent, seeded_normal, GoalGenConfig, GoalGenTrainer};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (width, depth, reps) = (arg(0, 192), arg(1, 6), arg(2, 5));
    let cfg = GoalGenConfig::new()
        .with_width(width)
        .with_depth(depth)
        .with_heads((width / 32).max(1));
    if let Err(e) = cfg.check() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    type AB = Autodiff<Flex>;
    let dev = Default::default();
    let mut trainer = GoalGenTrainer::<AB>::new(cfg.clone(), 1e-4, 0, &dev);
    let params = trainer.model.num_params();
    let mut train_ms = Vec::new();
    for batch in [16usize, 32] {
        let x1 = seeded_normal::<AB, 5>([batch, 4, 16, 8, 8], 1, &dev);
        let tasks: Vec<usize> = (0..batch).map(|i| i % 7).collect();
        trainer.step(x1.clone(), &tasks);
        let times: Vec<f64> = (0..reps)
            .map(|_| {
                let t0 = Instant::now();
                trainer.step(x1.clone(), &tasks);
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        train_ms.push((batch, median(times)));
    }
    let model = trainer.model.valid();
    let first = first_latent(seeded_normal::<Flex, 5>([1, 4, 16, 8, 8], 2, &dev));
    let task = Tensor::<Flex, 1, Int>::from_data(TensorData::new(vec![3i64], [1]), &dev);
    let mut sample_ms = Vec::new();
    for steps in [1usize, 10, 25] {
        let times: Vec<f64> = (0..reps)
            .map(|k| {
                let t0 = Instant::now();
                let out = model.generate(first.clone(), task.clone(), k as u64, steps, 2.0);
                let _ = out.into_data();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        sample_ms.push((steps, median(times)));
    }
    println!(
        "{}",
        serde_json::json!({
            "width": width,
            "depth": depth,
            "tokens": cfg.tokens(),
            "params": params,
            "train_step_ms": train_ms,
            "sample_ms_per_goal": sample_ms,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
}
