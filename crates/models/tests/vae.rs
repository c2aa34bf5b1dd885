//! The video VAE: shapes, causality, the KL closed form, a loss that falls, checkpoints.

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorData};
use genreward_models::checkpoint::{self, param_shapes, CheckpointError};
use genreward_models::train::VaeTrainer;
use genreward_models::vae::{kl_divergence, psnr_db};
use genreward_models::{VaeCheckpoint, VideoVaeConfig};

type B = Flex;
type AB = Autodiff<Flex>;

fn tiny() -> VideoVaeConfig {
    VideoVaeConfig::new()
        .with_channels([8, 8, 8])
        .with_temporal_blocks(1)
        .with_frame_size(16)
}

fn to_vec<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

#[test]
fn shapes_follow_the_8x_spatial_compression_and_keep_time() {
    let dev = Default::default();
    B::seed(&dev, 1);
    let vae = VideoVaeConfig::new().init::<B>(&dev);
    let x = Tensor::<B, 5>::random([2, 3, 5, 64, 48], Distribution::Uniform(-1.0, 1.0), &dev);
    let (mean, logvar) = vae.encode(x.clone());
    assert_eq!(mean.dims(), [2, 4, 5, 8, 6]);
    assert_eq!(logvar.dims(), [2, 4, 5, 8, 6]);
    let out = vae.forward(x, false);
    assert_eq!(out.recon.dims(), [2, 3, 5, 64, 48]);
}

#[test]
fn latents_and_reconstructions_are_causal_in_time() {
    let dev = Default::default();
    B::seed(&dev, 2);
    let vae = tiny().with_temporal_blocks(2).init::<B>(&dev);
    let t = 7;
    let a = Tensor::<B, 5>::random([1, 3, t, 16, 16], Distribution::Uniform(-1.0, 1.0), &dev);
    // Same first 4 frames, different frames 4..7.
    let tail = Tensor::<B, 5>::random([1, 3, 3, 16, 16], Distribution::Uniform(-1.0, 1.0), &dev);
    let b = Tensor::cat(
        vec![a.clone().slice([0..1, 0..3, 0..4, 0..16, 0..16]), tail],
        2,
    );
    let (ma, _) = vae.encode(a.clone());
    let (mb, _) = vae.encode(b.clone());
    let keep = |m: Tensor<B, 5>, r: std::ops::Range<usize>| {
        let [n, c, _, h, w] = m.dims();
        to_vec(m.slice([0..n, 0..c, r, 0..h, 0..w]))
    };
    assert_eq!(
        keep(ma.clone(), 0..4),
        keep(mb.clone(), 0..4),
        "frames <= 3 must not see frames >= 4"
    );
    assert_ne!(
        keep(ma.clone(), 4..7),
        keep(mb.clone(), 4..7),
        "later latents do change"
    );
    let (ra, rb) = (vae.decode(ma), vae.decode(mb));
    assert_eq!(keep(ra, 0..4), keep(rb, 0..4), "the decoder is causal too");
}

#[test]
fn kl_matches_its_closed_form() {
    let dev = Default::default();
    let zeros = Tensor::<B, 2>::zeros([3, 5], &dev);
    let kl0 = kl_divergence(zeros.clone(), zeros.clone()).into_scalar();
    assert_eq!(kl0, 0.0, "KL of a standard normal from itself");
    // mean 1, logvar 0: 0.5 * (1 + 1 - 1 - 0) = 0.5 per element.
    let ones = Tensor::<B, 2>::ones([3, 5], &dev);
    let kl1 = kl_divergence(ones, zeros.clone()).into_scalar();
    assert!((kl1 - 0.5).abs() < 1e-6, "{kl1}");
    // mean 0, logvar ln 2: 0.5 * (2 - 1 - ln 2).
    let lv = Tensor::<B, 2>::full([3, 5], 2f32.ln(), &dev);
    let kl2 = kl_divergence(zeros, lv).into_scalar();
    let want = 0.5 * (1.0 - 2f32.ln());
    assert!((kl2 - want).abs() < 1e-6, "{kl2} vs {want}");
    assert!((psnr_db(4.0 * 1e-3) - 30.0).abs() < 1e-9);
}

/// A fixed batch: a bright square moving over a two-tone background.
fn moving_square() -> Vec<f32> {
    let (t, s) = (4usize, 16usize);
    let mut v = vec![0f32; 2 * 3 * t * s * s];
    for clip in 0..2 {
        for c in 0..3 {
            for ti in 0..t {
                for y in 0..s {
                    for x in 0..s {
                        let bg = if y < s / 2 { -0.6 } else { 0.2 };
                        let (x0, y0) = (2 + 2 * ti + clip * 3, 3 + clip * 5);
                        let on = (x0..x0 + 5).contains(&x) && (y0..y0 + 5).contains(&y);
                        let val = if on { [0.9, 0.3, -0.8][c] } else { bg };
                        v[(((clip * 3 + c) * t + ti) * s + y) * s + x] = val;
                    }
                }
            }
        }
    }
    v
}

#[test]
fn a_tiny_training_run_cuts_the_loss_by_a_factor_of_three() {
    let dev = Default::default();
    AB::seed(&dev, 3);
    let data = moving_square();
    let batch = Tensor::<AB, 5>::from_data(TensorData::new(data, [2, 3, 4, 16, 16]), &dev);
    let mut tr = VaeTrainer::<AB>::new(tiny(), 3e-3, &dev);
    let first = tr.eval_mse(batch.clone().inner());
    for _ in 0..150 {
        tr.step(batch.clone());
    }
    let last = tr.eval_mse(batch.inner());
    // Measured: 0.213 -> 0.059 (3.6x) in 150 steps.
    assert!(last < first / 3.0, "mse {first} -> {last}");
}

#[test]
fn checkpoints_round_trip_bit_exactly_and_refuse_bad_files() {
    let dev = Default::default();
    B::seed(&dev, 4);
    let cfg = tiny();
    let vae = cfg.init::<B>(&dev);
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    checkpoint::save(&ck, &vae, &cfg, &serde_json::json!({"step": 7})).unwrap();
    let back = VaeCheckpoint::<B>::load(&ck, Some(&cfg), &dev).unwrap();
    assert_eq!(back.meta["step"], 7);
    let x = Tensor::<B, 5>::random([1, 3, 3, 16, 16], Distribution::Uniform(-1.0, 1.0), &dev);
    assert_eq!(
        to_vec(vae.encode(x.clone()).0),
        to_vec(back.model.encode(x).0)
    );
    assert_eq!(
        param_shapes::<B, _>(&vae),
        param_shapes::<B, _>(&back.model)
    );

    let msg = |e: CheckpointError| {
        let s = e.to_string();
        assert!(!s.contains('\n'), "one line: {s}");
        s
    };
    // Missing folder.
    let e = VaeCheckpoint::<B>::load(&dir.path().join("nope"), None, &dev).unwrap_err();
    assert!(msg(e).contains("not found"));
    // Another model's config.
    let other = cfg.clone().with_latent_channels(8);
    let e = VaeCheckpoint::<B>::load(&ck, Some(&other), &dev).unwrap_err();
    assert!(msg(e).contains("another model"));
    // Config edited so the weights no longer fit.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(ck.join("model.mpk"), bad.join("model.mpk")).unwrap();
    std::fs::write(
        bad.join("config.json"),
        cfg.clone().with_channels([8, 16, 8]).to_string(),
    )
    .unwrap();
    let e = VaeCheckpoint::<B>::load(&bad, None, &dev).unwrap_err();
    assert!(msg(e).contains("do not match"));
    // Garbage config.
    std::fs::write(bad.join("config.json"), "{not json").unwrap();
    let e = VaeCheckpoint::<B>::load(&bad, None, &dev).unwrap_err();
    assert!(msg(e).contains("not a valid"));
    // Truncated weights.
    let bytes = std::fs::read(ck.join("model.mpk")).unwrap();
    std::fs::write(ck.join("model.mpk"), &bytes[..bytes.len() / 2]).unwrap();
    let e = VaeCheckpoint::<B>::load(&ck, None, &dev).unwrap_err();
    assert!(msg(e).contains("truncated or corrupt"));
    // Missing weights.
    std::fs::remove_file(ck.join("model.mpk")).unwrap();
    let e = VaeCheckpoint::<B>::load(&ck, None, &dev).unwrap_err();
    assert!(msg(e).contains("missing"));
}

#[test]
fn resume_restores_the_trained_weights() {
    let dev = Default::default();
    AB::seed(&dev, 5);
    let data = moving_square();
    let batch = Tensor::<AB, 5>::from_data(TensorData::new(data, [2, 3, 4, 16, 16]), &dev);
    let mut tr = VaeTrainer::<AB>::new(tiny(), 1e-3, &dev);
    for _ in 0..3 {
        tr.step(batch.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    tr.save(dir.path(), &serde_json::json!({})).unwrap();
    let back = VaeTrainer::<AB>::resume(dir.path(), 1e-3, &dev).unwrap();
    let a = tr.eval_mse(batch.clone().inner());
    let b = back.eval_mse(batch.inner());
    assert_eq!(a, b);
}
