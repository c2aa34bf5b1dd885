//! Backend comparison for the video VAE and the FB representation, same models, same machine:
//! `cargo run --release -p genreward-models --example backends --features ndarray -- \
//!     [vae-config.json|-] [reps] [--fb-config fb-config.json] [--only flex,wgpu] [--fb-batch 256]`
//!
//! Prints, per backend (flex, ndarray with the `ndarray` feature, wgpu), as JSON lines:
//! * the median time to encode one 16-frame 64x64 window with the VAE (the reward's unit of
//!   work) and the median time of one VAE training step (batch 4 clips x 8 frames, Adam);
//! * the median time of one FB training step ([`FbTrainer::step`] on a random batch of 256
//!   transitions, the `genreward train fb` default; state 39, action 4, goal features 256 unless
//!   the FB config says otherwise) and of FB scoring of 500 steps in one batch
//!   ([`FbModel::reward`], from host data to host result), per step.
//!
//! Backends: `--only a,b` or the env var `BACKENDS=a,b` picks them (names: flex, ndarray, wgpu);
//! the older `ONLY_WGPU` / `SKIP_WGPU` env vars still work. For wgpu, the adapter wgpu picked is
//! printed first (`{"wgpu_adapter": ...}`).

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor, TensorData};
use genreward_models::fb::{FbBatch, FbTrainer};
use genreward_models::train::VaeTrainer;
use genreward_models::{FbConfig, FbModel, VideoVaeConfig};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[derive(Clone)]
struct Opts {
    vae: VideoVaeConfig,
    fb: FbConfig,
    reps: usize,
    fb_batch: usize,
    fb_steps: usize,
    score_steps: usize,
}

fn bench<B: AutodiffBackend>(name: &str, o: &Opts) {
    let dev = B::Device::default();
    B::seed(&dev, 0);
    let (vae_enc_ms, vae_train_s) = bench_vae::<B>(&o.vae, o.reps, &dev);
    let (fb_step_s, fb_score_ms) = bench_fb::<B>(o, &dev);
    println!(
        "{}",
        serde_json::json!({
            "backend": name,
            "burn_backend": B::name(&dev),
            "encode_window_ms": vae_enc_ms,
            "train_step_s": vae_train_s,
            "train_steps_per_sec": 1.0 / vae_train_s,
            "train_frames_per_sec": 32.0 / vae_train_s,
            "fb_batch": o.fb_batch,
            "fb_train_step_ms": fb_step_s * 1e3,
            "fb_train_steps_per_sec": 1.0 / fb_step_s,
            "fb_score_steps": o.score_steps,
            "fb_score_ms_per_step": fb_score_ms,
            "fb_score_batch_ms": fb_score_ms * o.score_steps as f64,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
}

/// (median ms to encode one window, median s of one training step).
fn bench_vae<B: AutodiffBackend>(cfg: &VideoVaeConfig, reps: usize, dev: &B::Device) -> (f64, f64) {
    let s = cfg.frame_size;
    let mut tr = VaeTrainer::<B>::new(cfg.clone(), 1e-3, dev);
    let batch = || Tensor::<B, 5>::random([4, 3, 8, s, s], Distribution::Uniform(-1.0, 1.0), dev);
    // Warm up (kernels, allocations, autotune), then time.
    tr.step(batch());
    let mut train = Vec::new();
    for _ in 0..reps {
        let b = batch();
        B::sync(dev).expect("sync");
        let t = Instant::now();
        tr.step(b);
        B::sync(dev).expect("sync");
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
    (median(enc) * 1e3, median(train))
}

/// (median s of one FB training step, median ms per scored step of a `score_steps` batch).
fn bench_fb<B: AutodiffBackend>(o: &Opts, dev: &B::Device) -> (f64, f64) {
    let c = &o.fb;
    let n = o.fb_batch;
    let rand = |d: usize| Tensor::<B, 2>::random([n, d], Distribution::Normal(0.0, 1.0), dev);
    let batch = || FbBatch {
        state: rand(c.state_dim),
        action: rand(c.action_dim).clamp(-1.0, 1.0),
        next_state: rand(c.state_dim),
        next_action: rand(c.action_dim).clamp(-1.0, 1.0),
        next_goal: rand(c.goal_dim),
        goal: rand(c.goal_dim),
    };
    // lr as `genreward train fb`'s default.
    let mut tr = FbTrainer::<B>::new(c.init::<B>(dev), c.clone(), 1e-4);
    for _ in 0..3 {
        tr.step(batch());
    }
    B::sync(dev).expect("sync");
    let mut steps = Vec::new();
    for _ in 0..o.fb_steps {
        let b = batch();
        B::sync(dev).expect("sync");
        let t = Instant::now();
        tr.step(b);
        // The step reads its losses back (a sync), but the backward pass, Adam and the soft
        // update run after that: wait for them too.
        B::sync(dev).expect("sync");
        steps.push(t.elapsed().as_secs_f64());
    }

    // Scoring: one trajectory of `score_steps` steps from host memory, reward back on the host.
    let model: FbModel<B::InnerBackend> = tr.model.valid();
    let k = o.score_steps;
    let host = |d: usize, seed: u32| -> Vec<f32> {
        (0..k * d)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 2000) as f32 / 1000.0 - 1.0)
            .collect()
    };
    let (states, actions) = (host(c.state_dim, 1), host(c.action_dim, 2));
    let z = model.backward_map(Tensor::<B::InnerBackend, 2>::random(
        [1, c.goal_dim],
        Distribution::Normal(0.0, 1.0),
        dev,
    ));
    let z: Tensor<B::InnerBackend, 1> = z.reshape([c.z_dim]);
    let score = || {
        let s = Tensor::<B::InnerBackend, 2>::from_data(
            TensorData::new(states.clone(), [k, c.state_dim]),
            dev,
        );
        let a = Tensor::<B::InnerBackend, 2>::from_data(
            TensorData::new(actions.clone(), [k, c.action_dim]),
            dev,
        );
        model.reward(s, a, z.clone()).into_data()
    };
    score();
    score();
    let mut sc = Vec::new();
    for _ in 0..o.reps.max(10) {
        let t = Instant::now();
        let r = score();
        sc.push(t.elapsed().as_secs_f64());
        assert_eq!(r.num_elements(), k);
    }
    (median(steps), median(sc) * 1e3 / k as f64)
}

fn model_device<B: Backend>(m: &genreward_models::VideoVae<B>) -> B::Device {
    use burn::module::Module;
    m.devices().into_iter().next().expect("weights")
}

/// Initialises burn's default wgpu device explicitly to print the adapter wgpu picked (what
/// the lazy default initialisation would pick: the auto graphics API, default options).
fn wgpu_adapter() {
    use burn::backend::wgpu::{graphics::AutoGraphicsApi, init_setup, RuntimeOptions, WgpuDevice};
    let setup = init_setup::<AutoGraphicsApi>(&WgpuDevice::default(), RuntimeOptions::default());
    let info = setup.adapter.get_info();
    println!(
        "{}",
        serde_json::json!({
            "wgpu_adapter": info.name,
            "vendor": format!("{:#x}", info.vendor),
            "device": format!("{:#x}", info.device),
            "device_type": format!("{:?}", info.device_type),
            "driver": info.driver,
            "driver_info": info.driver_info,
            "graphics_backend": format!("{:?}", info.backend),
            "debug": format!("{info:?}"),
        })
    );
}

fn main() {
    let mut pos = Vec::new();
    let (mut fb_path, mut only, mut fb_batch) = (None, std::env::var("BACKENDS").ok(), 256usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fb-config" => fb_path = args.next(),
            "--only" => only = args.next(),
            "--fb-batch" => {
                fb_batch = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--fb-batch N")
            }
            _ => pos.push(a),
        }
    }
    let vae = match pos.first() {
        Some(p) if p != "-" => {
            let text = std::fs::read_to_string(p).expect("read VAE config");
            <VideoVaeConfig as burn::config::Config>::load_binary(text.as_bytes())
                .expect("VAE config")
        }
        _ => VideoVaeConfig::new(),
    };
    let fb = match fb_path {
        Some(p) if p != "-" => {
            let text = std::fs::read_to_string(&p).expect("read FB config");
            <FbConfig as burn::config::Config>::load_binary(text.as_bytes()).expect("FB config")
        }
        // `genreward train fb`'s defaults: the 39-d observation, the Sawyer's 4-d action, the
        // shipped VAE's 256 per-frame goal features.
        _ => FbConfig::new(39, 4, 256),
    };
    let reps: usize = pos.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let opts = Opts {
        vae,
        fb,
        reps,
        fb_batch,
        fb_steps: (reps * 4).max(20),
        score_steps: 500,
    };
    let want = |name: &str| -> bool {
        if let Some(list) = &only {
            return list.split(',').any(|b| b.trim() == name);
        }
        match name {
            "wgpu" => std::env::var_os("SKIP_WGPU").is_none(),
            _ => std::env::var_os("ONLY_WGPU").is_none(),
        }
    };
    if want("flex") {
        bench::<Autodiff<burn::backend::Flex>>("flex", &opts);
    }
    #[cfg(feature = "ndarray")]
    if want("ndarray") {
        bench::<Autodiff<burn::backend::NdArray>>(
            "ndarray",
            &Opts {
                reps: 1,
                ..opts.clone()
            },
        );
    }
    if want("wgpu") {
        wgpu_adapter();
        bench::<Autodiff<burn::backend::Wgpu>>("wgpu", &opts);
    }
}
