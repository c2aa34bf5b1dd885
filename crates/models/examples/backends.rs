//! Backend comparison for the video VAE, same model, same machine:
//! `cargo run --release -p genreward-models --example backends --features ndarray -- [config.json] [reps]`
//!
//! Prints, per backend (flex, ndarray with the `ndarray` feature, wgpu): the median time to
//! encode one 16-frame 64x64 window (the reward's unit of work) and the median time of one
//! training step (batch 4 clips x 8 frames, Adam), as JSON lines.

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor};
use genreward_models::train::VaeTrainer;
use genreward_models::VideoVaeConfig;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn bench<B: AutodiffBackend>(name: &str, cfg: &VideoVaeConfig, reps: usize) {
    let dev = B::Device::default();
    B::seed(&dev, 0);
    let s = cfg.frame_size;
    let mut tr = VaeTrainer::<B>::new(cfg.clone(), 1e-3, &dev);
    let batch = || Tensor::<B, 5>::random([4, 3, 8, s, s], Distribution::Uniform(-1.0, 1.0), &dev);
    // Warm up (kernels, allocations), then time.
    tr.step(batch());
    let mut train = Vec::new();
    for _ in 0..reps {
        let b = batch();
        let t = Instant::now();
        tr.step(b);
        train.push(t.elapsed().as_secs_f64());
    }
    let model = tr.model.valid();
    let inner = model_device(&model);
    let window = Tensor::<B::InnerBackend, 5>::random(
        [1, 3, 16, s, s],
        Distribution::Uniform(-1.0, 1.0),
        &inner,
    );
    let sync = |t: Tensor<B::InnerBackend, 5>| t.into_data();
    sync(model.encode(window.clone()).0);
    let mut enc = Vec::new();
    for _ in 0..reps.max(5) {
        let t = Instant::now();
        sync(model.encode(window.clone()).0);
        enc.push(t.elapsed().as_secs_f64());
    }
    let step = median(train);
    println!(
        "{}",
        serde_json::json!({
            "backend": name,
            "encode_window_ms": median(enc) * 1e3,
            "train_step_s": step,
            "train_steps_per_sec": 1.0 / step,
            "train_frames_per_sec": 32.0 / step,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
}

fn model_device<B: Backend>(m: &genreward_models::VideoVae<B>) -> B::Device {
    use burn::module::Module;
    m.devices().into_iter().next().expect("weights")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cfg = match args.get(1) {
        Some(p) if p != "-" => {
            let text = std::fs::read_to_string(p).expect("read config");
            <VideoVaeConfig as burn::config::Config>::load_binary(text.as_bytes()).expect("config")
        }
        _ => VideoVaeConfig::new(),
    };
    let reps: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    if std::env::var_os("ONLY_WGPU").is_none() {
        bench::<Autodiff<burn::backend::Flex>>("flex", &cfg, reps);
    }
    #[cfg(feature = "ndarray")]
    if std::env::var_os("ONLY_WGPU").is_none() {
        bench::<Autodiff<burn::backend::NdArray>>("ndarray", &cfg, 1);
    }
    if std::env::var_os("SKIP_WGPU").is_none() {
        bench::<Autodiff<burn::backend::Wgpu>>("wgpu", &cfg, reps);
    }
}
