//! The reward models' pipeline through the library, as a Python binding or a notebook would
//! drive it: a dataset, the video VAE (trained, resumed, reconstructing), the FB representation
//! (trained, resumed, frozen, reading frames or DINO features), its evaluation, and a run scored
//! live and rescored offline to the same numbers. Models here are tiny configs.
//!
//! The command line's contract over these stages (flag names in errors, JSON lines, exit codes)
//! is tested in the root package's `tests/reward.rs`.

use genreward_episodes::{write_dataset, write_expert_goal, DatasetConfig, ExpertGoal, HOLD_STEPS};
use genreward_models::DeviceKind;
use genreward_render::{CameraName, Size, ViewSpec};
use genreward_reward::features::StateKind;
use genreward_reward::{FbChoice, RewardSettings};
use genreward_run::{
    record_rollout, score_run, Loaded, RolloutGoal, RolloutSpec, RunDir, ScoreLine,
};
use genreward_sim::{PhysicsConfig, Policy, PolicyKind, RolloutConfig, StepRecord, TaskKind};
use genreward_train::{
    reconstruct, train_fb, train_vae, ReconstructConfig, TrainFbConfig, TrainVaeConfig,
};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const SIZE: Size = Size {
    width: 64,
    height: 64,
};

fn go() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn vae_config(data: &Path, out: &Path, steps: usize, resume: bool) -> TrainVaeConfig {
    TrainVaeConfig {
        data: vec![data.to_path_buf()],
        val: Vec::new(),
        out: out.to_path_buf(),
        steps,
        minutes: None,
        batch: 2,
        clip: 4,
        max_stride: 17,
        lr: 1e-3,
        seed: 0,
        checkpoint_every: 2,
        resume,
        device: DeviceKind::Cpu,
        latent: 4,
        channels: [8, 8, 8],
        temporal_blocks: 1,
        frame_size: 64,
        kl_weight: 1e-4,
        command: Vec::new(),
    }
}

fn fb_config(data: &Path, vae: &Path, out: &Path, steps: usize) -> TrainFbConfig {
    TrainFbConfig {
        data: vec![data.to_path_buf()],
        val: Vec::new(),
        out: out.to_path_buf(),
        vae: Some(vae.to_path_buf()),
        dino: None,
        dino_size: None,
        steps,
        freeze_after: None,
        minutes: None,
        batch: 8,
        lr: 1e-4,
        z_dim: 4,
        hidden: 16,
        gamma: 0.98,
        ortho_coef: 1.0,
        tau: 0.01,
        seed: 0,
        checkpoint_every: 2,
        resume: false,
        device: DeviceKind::Cpu,
        state: StateKind::Obs39,
        command: Vec::new(),
    }
}

fn settings(vae: &Path, fb: &Path, alpha: f64, beta: f64) -> RewardSettings {
    RewardSettings {
        vae: Some(vae.to_path_buf()),
        every: 8,
        alpha,
        fb: FbChoice::Path(fb.to_path_buf()),
        beta,
        ..RewardSettings::default()
    }
}

/// Records `steps` expert steps on reach seed 11 with r_video and r_fb paid live.
fn record(out: &Path, goal: &Path, settings: &RewardSettings, steps: usize) -> Vec<StepRecord> {
    let config = RolloutConfig {
        task: TaskKind::Reach,
        policy: PolicyKind::Expert,
        episodes: 1,
        seed: 11,
        max_steps: steps,
        sparse_every: None,
        noise: 0.0,
        physics: PhysicsConfig::default(),
    };
    let mut actor = Policy::for_run(PolicyKind::Expert, TaskKind::Reach, 0.0, 11);
    let spec = RolloutSpec {
        config,
        out: out.to_path_buf(),
        observations: Some(ViewSpec::new(CameraName::Corner2, SIZE)),
        actor_view: None,
        video: None,
        goal: Some(RolloutGoal::Fixed(
            Loaded::from_file(goal, settings, TaskKind::Reach).unwrap(),
        )),
        agent: None,
        command: Vec::new(),
    };
    let outcome = record_rollout(spec, &mut actor, ProgressBar::hidden(), go()).unwrap();
    assert!(!outcome.manifest.interrupted);
    assert!(!outcome.term_ms.is_empty() && !outcome.fb_ms.is_empty());
    RunDir::open(out).unwrap().steps().unwrap()
}

/// Rescores the run in `dir` offline.
fn rescore(
    dir: &Path,
    goal: &Path,
    settings: &RewardSettings,
    sparse: Option<usize>,
) -> Vec<ScoreLine> {
    let run = RunDir::open(dir).unwrap();
    let loaded = Loaded::from_file(goal, settings, TaskKind::Reach).unwrap();
    score_run(&run, loaded, sparse).unwrap().0
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-4 * y.abs().max(1.0)
}

#[test]
fn tiny_models_train_resume_and_score_a_run_live_and_offline_alike() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The dataset: frames, and what the policy saw and did.
    let data = d.join("data");
    let report = write_dataset(
        &DatasetConfig {
            out: data.clone(),
            train_episodes: 1,
            val_episodes: 1,
            seed: 1000,
            steps: 20,
            view: ViewSpec::new(CameraName::Corner2, SIZE),
            tasks: vec![TaskKind::Reach, TaskKind::Push],
        },
        Vec::new(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    // 2 tasks x 5 behaviours x (1 train + 1 val) episodes x 20 steps.
    assert_eq!(report.frames, 2 * 5 * 2 * 20);
    let ep = genreward_record::load_video(&data.join("train/reach/random/obs_1000.npy")).unwrap();
    assert_eq!(ep.len(), 20);
    assert!(data.join("val/push/expert/obs_1500.npy").is_file());
    let (shape, states) =
        genreward_record::read_npy_f32(&data.join("train/push/expert/state_1000.npy")).unwrap();
    assert_eq!(shape, vec![20, 39]);
    assert!(
        (states[1] - 0.6).abs() < 0.05,
        "hand y at reset {}",
        states[1]
    );
    let (shape, _) =
        genreward_record::read_npy_f32(&data.join("train/push/expert/action_1000.npy")).unwrap();
    assert_eq!(shape, vec![20, 4]);
    let train_dir = data.join("train");

    // The VAE: trained, checkpointed, resumed from its step count.
    let vae = d.join("vae");
    let r = train_vae(
        &vae_config(&train_dir, &vae, 3, false),
        &ProgressBar::hidden(),
        go(),
    )
    .unwrap();
    assert_eq!(r.steps, 3);
    assert!(r.val_psnr_db.unwrap() > 0.0, "{r:?}");
    for f in [
        "config.json",
        "model.mpk",
        "optimizer.mpk",
        "meta.json",
        "metrics.jsonl",
        "recon.mp4",
    ] {
        assert!(vae.join(f).is_file(), "{f}");
    }
    let r = train_vae(
        &vae_config(&train_dir, &vae, 5, true),
        &ProgressBar::hidden(),
        go(),
    )
    .unwrap();
    assert_eq!(r.steps, 5, "resume continues the step count");
    assert!(lines(&vae.join("metrics.jsonl"))
        .iter()
        .any(|l| l["step"] == 5));
    let e = train_vae(
        &vae_config(&d.join("nodata"), &d.join("v2"), 1, false),
        &ProgressBar::hidden(),
        go(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("does not exist") && !e.contains("--"), "{e}");

    // A goal video, and the VAE's reconstruction of it: input above output, 4x.
    let goal = d.join("goal.npy");
    write_expert_goal(
        &ExpertGoal {
            task: TaskKind::Reach,
            seed: 7,
            view: ViewSpec::new(CameraName::Corner2, SIZE),
            max_steps: 500,
            hold: HOLD_STEPS,
            length: 0,
        },
        &goal,
    )
    .unwrap();
    let recon = d.join("recon.mp4");
    let r = reconstruct(&ReconstructConfig {
        vae: Some(vae.clone()),
        video: goal.clone(),
        out: recon.clone(),
        device: DeviceKind::Cpu,
    })
    .unwrap();
    assert!(r.psnr_db > 5.0, "{}", r.psnr_db);
    let rv = genreward_record::load_video(&recon).unwrap();
    assert_eq!((rv.width, rv.height), (256, 512));

    // The FB representation on the VAE's features: trained, resumed, frozen.
    let fb = d.join("fb");
    let r = train_fb(
        &fb_config(&train_dir, &vae, &fb, 3),
        &ProgressBar::hidden(),
        go(),
    )
    .unwrap();
    assert_eq!(r.steps, 3);
    assert!(r.validation.as_ref().unwrap().val_loss.is_finite());
    for f in [
        "config.json",
        "model.mpk",
        "target.mpk",
        "optimizer.mpk",
        "meta.json",
        "metrics.jsonl",
    ] {
        assert!(fb.join(f).is_file(), "{f}");
    }
    let resumed = |steps: usize, freeze_after: Option<usize>| {
        let mut c = fb_config(&train_dir, &vae, &fb, steps);
        c.resume = true;
        c.freeze_after = freeze_after;
        train_fb(&c, &ProgressBar::hidden(), go()).unwrap().steps
    };
    assert_eq!(resumed(5, None), 5, "resume continues the step count");
    assert_eq!(resumed(8, Some(6)), 6, "frozen after 6 steps");
    let meta = json(&fb.join("meta.json"));
    assert_eq!(
        (&meta["freeze_after"], &meta["frozen"]),
        (&6.into(), &true.into())
    );
    assert_eq!(resumed(9, None), 6, "a frozen model trains no more");

    // F reading the current frame's features instead of the observation.
    let fb_frame = d.join("fb_frame");
    let mut c = fb_config(&train_dir, &vae, &fb_frame, 2);
    c.state = StateKind::Frame;
    train_fb(&c, &ProgressBar::hidden(), go()).unwrap();
    assert_eq!(json(&fb_frame.join("meta.json"))["state"], "frame");
    let cfg = json(&fb_frame.join("config.json"));
    assert_eq!(cfg["state_dim"], cfg["goal_dim"]);
    let mut c = fb_config(&train_dir, &vae, &d.join("x"), 2);
    c.state = StateKind::Model;
    let e = train_fb(&c, &ProgressBar::hidden(), go())
        .unwrap_err()
        .to_string();
    assert!(e.contains("trains online beside the agent"), "{e}");

    // Live: r_video every 8 steps, r_fb each step, mixed by the formula.
    let run = d.join("run");
    let live = settings(&vae, &fb, 0.5, 0.25);
    let steps = record(&run, &goal, &live, 24);
    assert_eq!(steps.len(), 24);
    for st in &steps {
        let (rv, renv, rfb) = (st.terms["r_video"], st.terms["r_env"], st.terms["r_fb"]);
        if (st.step + 1) % 8 == 0 {
            assert!(
                rv.abs() > 1e-6 && rv.abs() <= 1.0 + 1e-9,
                "step {}: {rv}",
                st.step
            );
        } else {
            assert_eq!(rv, 0.0, "step {}", st.step);
        }
        assert!(
            rfb.is_finite() && rfb != 0.0,
            "step {}: r_fb {rfb}",
            st.step
        );
        assert!((st.reward - (renv + 0.5 * rv + 0.25 * rfb)).abs() < 1e-9);
        assert_eq!(renv, st.dense_reward, "dense env reward paid");
    }
    let manifest = RunDir::open(&run).unwrap().manifest;
    let g = manifest.goal.unwrap();
    assert_eq!((g.every, g.sampled.len(), g.beta), (8, 16, 0.25));
    let gf = g.goal_frame.unwrap();
    assert_eq!((gf.frame, gf.method.as_str()), (15, "last"));

    // Offline: the same frames and models give the same numbers (r_fb one step at a time live,
    // the whole episode in one batch here).
    let scored = rescore(&run, &goal, &live, None);
    assert_eq!(scored.len(), 24);
    for (a, b) in scored.iter().zip(&steps) {
        assert_eq!(a.r_video, b.terms["r_video"], "step {}", a.step);
        assert_eq!(a.r_env, b.terms["r_env"]);
        assert!(close(a.r_fb.unwrap(), b.terms["r_fb"]), "step {}", a.step);
        assert!(close(a.reward, b.reward));
    }

    // Sparse r_env (the recorded dense reward every 8th step) and the first goal frame.
    let mut other = settings(&vae, &fb, 10.0, 0.005);
    other.goal_frame = Some(0);
    let sparse = rescore(&run, &goal, &other, Some(8));
    let mut fb_moved = false;
    for ((a, b), st) in sparse.iter().zip(&scored).zip(&steps) {
        let want = if (a.step + 1) % 8 == 0 {
            st.dense_reward
        } else {
            0.0
        };
        assert_eq!(a.r_env, want, "step {}", a.step);
        fb_moved |= a.r_fb != b.r_fb;
        let w = want + 10.0 * a.r_video + 0.005 * a.r_fb.unwrap();
        assert!((a.reward - w).abs() < 1e-9);
    }
    assert!(fb_moved, "another goal frame, another r_fb");
    // A goal frame past the 16 sampled ones is refused.
    other.goal_frame = Some(16);
    let e = Loaded::from_file(&goal, &other, TaskKind::Reach)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("16") && !e.contains("--"), "{e}");

    // A frame-reading F scores the recorded frames as the live run did.
    let run_f = d.join("run_frame");
    let framed = settings(&vae, &fb_frame, 10.0, 0.005);
    let steps_f = record(&run_f, &goal, &framed, 10);
    for (a, b) in rescore(&run_f, &goal, &framed, None).iter().zip(&steps_f) {
        assert!(close(a.r_fb.unwrap(), b.terms["r_fb"]), "step {}", a.step);
    }

    // The evaluation of the FB representation against the VAE it learned from.
    let eval = |fb: &Path, vae: Option<PathBuf>, goal_frame: Option<usize>| {
        genreward_eval::eval_fb(
            &genreward_eval::EvalFbConfig {
                fb: Some(fb.to_path_buf()),
                vae,
                episodes: 2,
                seed: 3_000_000,
                goal_seed: None,
                steps: 12,
                tasks: vec![TaskKind::Reach],
                clip: None,
                dino: None,
                goal_frame,
                camera: CameraName::Corner2,
                device: DeviceKind::Cpu,
            },
            &ProgressBar::hidden(),
        )
    };
    let r = eval(&fb, Some(vae.clone()), None).unwrap();
    assert_eq!(r.tasks[0].goal_frames, vec![15, 15]);
    assert!(r.ms_per_step_fb > 0.0 && r.tasks[0].mean[0].1.is_finite());
    let r = eval(&fb_frame, Some(vae.clone()), None).unwrap();
    assert!(r.tasks[0].mean[0].1.is_finite());
    let e = eval(&fb, Some(vae.clone()), Some(16))
        .unwrap_err()
        .to_string();
    assert!(e.contains("16"), "{e}");
    // The shipped VAE is not the one this FB learned from.
    let e = eval(&fb, None, None).unwrap_err().to_string();
    assert!(e.contains("trained on the features of another VAE"), "{e}");

    dino_features(d, &train_dir, &vae, &fb, &run, &goal);
}

/// B reading DINO features (the tiny DINOv3 fixture): trained, its features cached for
/// `resume`, its weights fingerprinted, and other weights refused.
fn dino_features(d: &Path, train_dir: &Path, vae: &Path, fb_vae: &Path, run: &Path, goal: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures");
    let weights = d.join("dino_weights");
    std::fs::create_dir_all(&weights).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures.join("dinov3_tiny").join(f), weights.join(f)).unwrap();
    }
    let fb = d.join("fb_dino");
    let config = |steps: usize, size: Option<usize>, resume: bool| {
        let mut c = fb_config(train_dir, vae, &fb, steps);
        c.dino = Some(weights.clone());
        c.dino_size = size;
        c.resume = resume;
        c
    };
    let e = train_fb(&config(2, Some(30), false), &ProgressBar::hidden(), go())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a positive multiple of the DINO patch size 8"),
        "{e}"
    );
    train_fb(&config(2, None, false), &ProgressBar::hidden(), go()).unwrap();
    let cache = fb.join("features_train.npy");
    let cached = std::fs::read(&cache).unwrap();
    assert_eq!(
        train_fb(&config(3, None, true), &ProgressBar::hidden(), go())
            .unwrap()
            .steps,
        3
    );
    assert_eq!(
        std::fs::read(&cache).unwrap(),
        cached,
        "the cached features are reused"
    );
    let gf = &json(&fb.join("meta.json"))["goal_features"];
    assert_eq!(
        (gf["kind"].as_str(), gf["layout"].as_str()),
        (Some("dino"), Some("dinov3"))
    );
    assert_eq!((&gf["dim"], &gf["size"]), (&64.into(), &32.into()), "{gf}");
    assert_eq!(gf["dino_fingerprint"].as_str().unwrap().len(), 16);

    let with = |fb: &Path, dino: Option<PathBuf>| {
        let mut s = settings(vae, fb, 10.0, 0.005);
        s.dino = dino;
        let loaded = Loaded::from_file(goal, &s, TaskKind::Reach)?;
        Ok::<_, Box<dyn std::error::Error>>(score_run(&RunDir::open(run)?, loaded, None)?.0)
    };
    let scored = with(&fb, None).unwrap();
    assert_eq!(scored.len(), 24);
    assert!(scored.iter().all(|l| l.r_fb.unwrap().is_finite()));
    // The weights moved away: named again (the same bytes elsewhere) they score the same.
    std::fs::remove_dir_all(&weights).unwrap();
    let e = with(&fb, None).unwrap_err().to_string();
    assert!(e.contains("which is not here"), "{e}");
    let same = with(&fb, Some(fixtures.join("dinov3_tiny"))).unwrap();
    let r_fb = |v: &[ScoreLine]| v.iter().map(|l| l.r_fb).collect::<Vec<_>>();
    assert_eq!(r_fb(&same), r_fb(&scored));
    let e = with(&fb, Some(fixtures.join("dinov2_tiny")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("trained on other DINO weights"), "{e}");
    let e = with(fb_vae, Some(fixtures.join("dinov3_tiny")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not apply"), "{e}");
}
