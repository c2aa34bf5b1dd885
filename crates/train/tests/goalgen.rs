//! The goal-video generator through the library: trained on a goal-data folder, resumed,
//! refused with another VAE, loaded and sampled. The data is synthetic (latents with a known
//! rule) so the test is fast and knows what must be learnt; the model is a tiny config.

use genreward_models::DeviceKind;
use genreward_record::write_npy_f32;
use genreward_reward::{
    default_vae_dir, stretch_to_length, uniform_indices, GenSettings, GoalGenerator, SamplePick,
};
use genreward_sim::TaskKind;
use genreward_train::{train_goalgen, TrainGoalGenConfig};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const TASKS: [TaskKind; 2] = [TaskKind::Reach, TaskKind::Push];
const LATENT: [usize; 4] = [4, 16, 8, 8];

/// Writes a goal-data folder whose videos follow a rule the generator must learn: frame 0 is
/// random, frames 1-15 are +1 (reach) or -1 (push) everywhere.
fn synthetic_data(dir: &Path, fingerprint: &str) {
    synthetic_data_by(dir, fingerprint, 24, |_, offset| offset)
}

/// As [`synthetic_data`], frames 1-15 being `later(x, offset)` for frame 0's value `x` in the
/// same channel and cell.
fn synthetic_data_by(dir: &Path, fingerprint: &str, train: usize, later: impl Fn(f32, f32) -> f32) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let per = LATENT[2] * LATENT[3] * LATENT[0];
    for (split, n) in [("train", train), ("val", 6)] {
        for (k, task) in TASKS.iter().enumerate() {
            let d = dir.join(split).join(task.name());
            std::fs::create_dir_all(&d).unwrap();
            let offset = if k == 0 { 1.0 } else { -1.0 };
            let mut lat = Vec::new();
            for _ in 0..n {
                let f0: Vec<f32> = (0..per).map(|_| rng.random_range(-1.0..1.0)).collect();
                let mut v = vec![0.0f32; LATENT.iter().product()];
                // [C, T, h, w]: channel c, frame t, cell j.
                for c in 0..LATENT[0] {
                    for t in 0..LATENT[1] {
                        for j in 0..64 {
                            let x = f0[c * 64 + j];
                            v[(c * 16 + t) * 64 + j] = if t == 0 { x } else { later(x, offset) };
                        }
                    }
                }
                lat.extend(v);
            }
            write_npy_f32(&d.join("latents.npy"), &[n, 4, 16, 8, 8], &lat).unwrap();
            let frames: Vec<Vec<u8>> = (0..n)
                .map(|_| (0..64 * 64 * 3).map(|_| rng.random()).collect())
                .collect();
            genreward_record::save_frames(&d.join("first.npy"), 64, 64, 1, &frames).unwrap();
            let seeds: Vec<u32> = (0..n as u32).collect();
            std::fs::write(
                d.join("seeds.json"),
                serde_json::json!({"seeds": seeds, "success_steps": seeds, "skipped": []})
                    .to_string(),
            )
            .unwrap();
        }
    }
    let info = serde_json::json!({
        "tasks": TASKS.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "camera": {"camera": "corner2", "width": 64, "height": 64},
        "length": 256,
        "vae": default_vae_dir().display().to_string(),
        "vae_fingerprint": fingerprint,
    });
    std::fs::write(dir.join("goal_data.json"), info.to_string()).unwrap();
}

fn config(data: &Path, out: &Path, steps: usize, resume: bool) -> TrainGoalGenConfig {
    TrainGoalGenConfig {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        vae: None,
        steps,
        minutes: None,
        batch: 16,
        lr: 2e-3,
        warmup: 1,
        decay: 0,
        seed: 0,
        checkpoint_every: 1000,
        resume,
        device: DeviceKind::Cpu,
        // A token holds 4 x 4 x 2 x 2 = 64 numbers: a narrower model cannot even pass the noise
        // through.
        width: 96,
        depth: 1,
        heads: 2,
        scene: true,
        clip: None,
        sample_steps: 4,
        guidance: 0.0,
        val_per_task: 0,
        command: vec!["test".into()],
    }
}

fn go() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[test]
fn the_scene_prior_fit_recovers_a_linear_scene_to_video_map() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Later frames: half of frame 0's value in the same cell, plus the task's offset. More
    // videos (600) than the map's 256 inputs, so the map is determined.
    synthetic_data_by(&data, "fp", 300, |x, offset| 0.5 * x + offset);
    let split = genreward_episodes::GoalSplit::read(&data, "train").unwrap();
    let (w, bias, [before, after]) =
        genreward_train::goalgen::fit_scene_prior(&split, TaskKind::ALL.len()).unwrap();
    assert_eq!(w.len(), 256 * 4096);
    assert_eq!(bias.len(), (TaskKind::ALL.len() + 1) * 4096);
    // The deviation from the task's mean is 0.5 (x - mean): variance 0.25 / 3 before the fit,
    // all of it explained after.
    assert!((before - 0.25 / 3.0).abs() < 0.01, "{before}");
    assert!(after < 1e-3 * before, "{before} -> {after}");
    // Input (channel 1, cell 5) to (channel 1, frame 3, cell 5): 0.5; to another cell: 0.
    let at = |input: usize, c: usize, t: usize, j: usize| w[input * 4096 + (c * 16 + t) * 64 + j];
    assert!(
        (at(64 + 5, 1, 3, 5) - 0.5).abs() < 0.01,
        "{}",
        at(64 + 5, 1, 3, 5)
    );
    assert!(at(64 + 5, 1, 3, 6).abs() < 0.01);
    assert!(at(64 + 5, 2, 3, 5).abs() < 0.01);
    // The task bias cancels the task's mean first latent: prior(mean) = 0.
    let reach = 0; // TaskKind::ALL's first
    let mean_first: Vec<f64> = (0..256)
        .map(|i| {
            let rows: Vec<usize> = (0..split.len())
                .filter(|&r| split.tasks[r] == TaskKind::ALL[reach])
                .collect();
            rows.iter()
                .map(|&r| split.latent(r)[(i / 64) * 1024 + i % 64] as f64)
                .sum::<f64>()
                / rows.len() as f64
        })
        .collect();
    let out = (0..256)
        .map(|i| w[i * 4096 + 1000] as f64 * mean_first[i])
        .sum::<f64>()
        + bias[reach * 4096 + 1000] as f64;
    assert!(out.abs() < 1e-4, "{out}");
}

#[test]
fn goalgen_learns_resumes_and_samples_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let vae = default_vae_dir();
    let fp = genreward_reward::features::vae_fingerprint(&vae).unwrap();
    synthetic_data(&data, &fp);
    let out = tmp.path().join("gen");

    // One step, then resumed to 100: the step count goes on, and validation improves a lot.
    let first =
        train_goalgen(&config(&data, &out, 1, false), &ProgressBar::hidden(), go()).unwrap();
    assert_eq!(first.steps, 1);
    assert_eq!(first.train_videos, 48);
    assert_eq!(first.val_videos, 12);
    let start = first.val_mse.unwrap();
    let r = train_goalgen(
        &config(&data, &out, 100, true),
        &ProgressBar::hidden(),
        go(),
    )
    .unwrap();
    assert_eq!(r.steps, 100);
    let end = r.val_mse.unwrap();
    // Without the task the best guess of the offset is 0 (error about 1): learning it means
    // reading the task.
    eprintln!("val sample error {start} -> {end}");
    assert!(end < 0.3, "val sample error {start} -> {end}");
    for f in [
        "config.json",
        "model.mpk",
        "optimizer.mpk",
        "meta.json",
        "metrics.jsonl",
        "samples.mp4",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["step"], 100);
    assert_eq!(meta["vae_fingerprint"], fp.as_str());
    assert_eq!(meta["length"], 256);

    // Loaded with its VAE: 16 frames per goal, the same bits for the same seed, K samples.
    let gen = GoalGenerator::<genreward_models::backend::Cpu>::load(&out, &vae, Default::default())
        .unwrap();
    let frame = vec![90u8; 64 * 64 * 3];
    let s = GenSettings {
        samples: 3,
        seed: 4,
        pick: SamplePick::Medoid,
        ..Default::default()
    };
    let a = gen.generate(&[&frame], &[TaskKind::Push], &s).unwrap();
    let b = gen.generate(&[&frame], &[TaskKind::Push], &s).unwrap();
    assert_eq!(a[0].frames, b[0].frames);
    assert_eq!(a[0].samples.len(), 3);
    assert_eq!(a[0].frames.len(), 16);
    assert!(a[0].frames.iter().all(|f| f.len() == 64 * 64 * 3));
    let picked = a[0].picked.unwrap();
    assert_eq!(a[0].frames, a[0].samples[picked]);
    let first_pick = GenSettings {
        pick: SamplePick::First,
        ..s
    };
    let c = gen
        .generate(&[&frame], &[TaskKind::Push], &first_pick)
        .unwrap();
    assert_eq!(c[0].frames, a[0].samples[0]);
    // A frame of the wrong size is an error, not a panic.
    let small = vec![0u8; 32 * 32 * 3];
    assert!(gen.generate(&[&small], &[TaskKind::Push], &s).is_err());

    // Stretched to the length it learnt, the reward samples exactly the generated frames.
    let long = stretch_to_length(&a[0].frames, 256, 256);
    let sampled: Vec<&Vec<u8>> = uniform_indices(256, 16).iter().map(|&i| &long[i]).collect();
    assert!(sampled.iter().zip(&a[0].frames).all(|(x, y)| *x == y));
    let held = stretch_to_length(&a[0].frames, 256, 500);
    assert_eq!(held.len(), 500);
    assert_eq!(held[499], a[0].frames[15]);
    assert_eq!(held[100], long[100]);

    // Another VAE (its weights differ by one byte): refused for training and for sampling.
    let other = tmp.path().join("vae2");
    std::fs::create_dir_all(&other).unwrap();
    for e in std::fs::read_dir(&vae).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, other.join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut bytes = std::fs::read(other.join("model.mpk")).unwrap();
    bytes.push(0);
    std::fs::write(other.join("model.mpk"), bytes).unwrap();
    let err =
        GoalGenerator::<genreward_models::backend::Cpu>::load(&out, &other, Default::default())
            .err()
            .unwrap()
            .to_string();
    assert!(err.contains("another VAE"), "{err}");
    let mut cfg = config(&data, &tmp.path().join("gen2"), 1, false);
    cfg.vae = Some(other);
    let err = train_goalgen(&cfg, &ProgressBar::hidden(), go())
        .unwrap_err()
        .to_string();
    assert!(err.contains("another VAE"), "{err}");
    assert!(!tmp.path().join("gen2").exists());

    // A shipped checkpoint has no Adam state: training on from it starts Adam afresh and keeps
    // the step count; a corrupt Adam state is refused in one line rather than replaced.
    std::fs::remove_file(out.join("optimizer.mpk")).unwrap();
    let r = train_goalgen(
        &config(&data, &out, 105, true),
        &ProgressBar::hidden(),
        go(),
    )
    .unwrap();
    assert_eq!(r.steps, 105);
    assert!(out.join("optimizer.mpk").is_file());
    std::fs::write(out.join("optimizer.mpk"), b"not a record").unwrap();
    let err = train_goalgen(
        &config(&data, &out, 110, true),
        &ProgressBar::hidden(),
        go(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("optimizer.mpk"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

/// The tiny random-weight OpenCLIP model of the models crate's loader tests.
fn clip_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/clip_tiny")
}

/// A copy of the CLIP fixture whose text projection is negated: other weights, same shapes.
fn other_clip(dir: &Path) -> std::path::PathBuf {
    use safetensors::tensor::{SafeTensors, TensorView};
    let src = clip_fixture();
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let bytes = std::fs::read(src.join("open_clip_model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| (name, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    let proj = owned
        .iter_mut()
        .find(|t| t.0 == "text_projection")
        .expect("the fixture has a text projection");
    assert_eq!(proj.1, safetensors::Dtype::F32);
    for c in proj.3.chunks_mut(4) {
        c[3] ^= 0x80; // the sign bit of a little-endian f32
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let out = safetensors::tensor::serialize(views, None).unwrap();
    std::fs::write(dir.join("open_clip_model.safetensors"), out).unwrap();
    dir.to_path_buf()
}

#[test]
fn the_task_sentences_join_through_clip_and_other_clip_weights_are_refused() {
    use genreward_models::backend::Cpu;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let vae = default_vae_dir();
    let fp = genreward_reward::features::vae_fingerprint(&vae).unwrap();
    synthetic_data(&data, &fp);
    let out = tmp.path().join("gen");
    let dev = Default::default();
    let want: Vec<f32> = genreward_train::goalgen::clip_sentences::<Cpu>(&clip_fixture(), &dev)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    let sentences = |dir: &Path| -> Option<Vec<f32>> {
        let ck = genreward_models::checkpoint::GoalGenCheckpoint::<Cpu>::load(dir, &dev).unwrap();
        ck.model
            .sentences()
            .map(|t| t.into_data().to_vec::<f32>().unwrap())
    };
    let meta = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap()
    };

    // Trained without CLIP, then resumed with it: the text path joins, holding the task
    // sentences' unit-length embeddings (7 tasks, then the null task's zero row).
    train_goalgen(&config(&data, &out, 1, false), &ProgressBar::hidden(), go()).unwrap();
    assert_eq!(sentences(&out), None);
    assert_eq!(meta(&out)["sentences"], serde_json::json!([]));
    let mut with_clip = config(&data, &out, 3, true);
    with_clip.clip = Some(clip_fixture());
    train_goalgen(&with_clip, &ProgressBar::hidden(), go()).unwrap();
    let held = sentences(&out).expect("a text path");
    let dim = want.len() / TaskKind::ALL.len();
    assert_eq!(held.len(), (TaskKind::ALL.len() + 1) * dim);
    assert_eq!(&held[..want.len()], &want[..]);
    assert!(held[want.len()..].iter().all(|&v| v == 0.0));
    for row in want.chunks(dim) {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let m = meta(&out);
    assert_eq!(m["sentences"][1], TaskKind::Push.goal_text());
    assert!(m["clip"].as_str().unwrap().ends_with("clip_tiny"));

    // Resumed without --clip, the path and the record stay; sampling needs no CLIP.
    train_goalgen(&config(&data, &out, 4, true), &ProgressBar::hidden(), go()).unwrap();
    assert_eq!(sentences(&out).unwrap(), held);
    assert!(meta(&out)["clip"].as_str().unwrap().ends_with("clip_tiny"));
    let gen = GoalGenerator::<Cpu>::load(&out, &vae, Default::default()).unwrap();
    let frame = vec![90u8; 64 * 64 * 3];
    let goal = gen
        .generate(&[&frame], &[TaskKind::Push], &GenSettings::default())
        .unwrap();
    assert_eq!(goal[0].frames.len(), 16);

    // Other CLIP weights: refused in one line, the checkpoint untouched.
    let before = std::fs::read(out.join("model.mpk")).unwrap();
    let mut other = config(&data, &out, 6, true);
    other.clip = Some(other_clip(&tmp.path().join("clip2")));
    let err = train_goalgen(&other, &ProgressBar::hidden(), go())
        .unwrap_err()
        .to_string();
    assert!(err.contains("other CLIP weights"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    assert_eq!(std::fs::read(out.join("model.mpk")).unwrap(), before);
    // A folder without CLIP weights: one line naming it.
    let mut missing = config(&data, &tmp.path().join("gen3"), 1, false);
    missing.clip = Some(tmp.path().join("no-clip"));
    let err = train_goalgen(&missing, &ProgressBar::hidden(), go())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-clip"), "{err}");
}
