//! The video-level reward end to end: goal videos, the VAE's data, training, reconstruction,
//! live and offline scoring, and the errors a user can hit. Models here are tiny configs.

mod common;
use common::{genreward, last_json, ok};
use std::path::Path;

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn goal_writes_every_format_and_stops_after_success_plus_hold() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("g.npy");
    let o = genreward(&["goal", "--task", "reach", "--seed", "3", "--out", s(&npy)]);
    ok(&o);
    let j = last_json(&o);
    let succ = j["success_step"].as_u64().unwrap() as usize;
    assert!(succ > 5 && succ < 200, "{j}");
    // Frames 0..=success_step+hold: the state before each step, the last one held 16 steps.
    assert_eq!(j["frames"].as_u64().unwrap() as usize, succ + 16 + 1);
    let v = genreward_record::load_video(&npy).unwrap();
    assert_eq!((v.width, v.height, v.len()), (64, 64, succ + 17));
    assert_ne!(v.frames[0], v.frames[succ], "the arm moved");
    for name in ["g.mp4", "g.gif", "pngs"] {
        let p = dir.path().join(name);
        let o = genreward(&[
            "goal",
            "--task",
            "reach",
            "--seed",
            "3",
            "--out",
            s(&p),
            "--size",
            "48x32",
        ]);
        ok(&o);
        let v = genreward_record::load_video(&p).unwrap();
        assert_eq!((v.width, v.height, v.len()), (48, 32, succ + 17), "{name}");
    }
}

/// dataset -> train vae -> reconstruct -> rollout --goal -> score, all with a tiny model.
#[test]
fn tiny_vae_trains_reconstructs_and_scores_runs_live_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let o = genreward(&[
        "dataset",
        "--out",
        s(&data),
        "--tasks",
        "reach,push",
        "--train-episodes",
        "1",
        "--val-episodes",
        "1",
        "--steps",
        "20",
    ]);
    ok(&o);
    assert_eq!(last_json(&o)["frames"], 2 * 5 * 2 * 20);
    let ep = genreward_record::load_video(&data.join("train/reach/random/obs_1000.npy")).unwrap();
    assert_eq!(ep.len(), 20);
    assert!(data.join("val/push/expert/obs_1500.npy").is_file());

    let vae = d.join("vae");
    let train_dir = data.join("train");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "vae",
            "--data",
            s(&train_dir),
            "--out",
            s(&vae),
            "--batch",
            "2",
            "--clip",
            "4",
            "--channels",
            "8,8,8",
            "--temporal-blocks",
            "1",
            "--checkpoint-every",
            "2",
        ];
        args.extend_from_slice(extra);
        genreward(&args)
    };
    let o = train(&["--steps", "3"]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["steps"], 3);
    assert!(j["val_psnr_db"].as_f64().unwrap() > 0.0, "{j}");
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
    let o = train(&["--steps", "5", "--resume"]);
    ok(&o);
    assert_eq!(last_json(&o)["steps"], 5, "resume continues the step count");
    let m = lines(&vae.join("metrics.jsonl"));
    assert!(m.iter().any(|l| l["step"] == 5));

    // The dataset keeps what the policy saw and did beside the frames; the FB representation
    // trains on it (tiny), resumes, and is evaluated against the VAE it learned from.
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
    let fb = d.join("fb");
    let train_fb = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "fb",
            "--data",
            s(&train_dir),
            "--vae",
            s(&vae),
            "--out",
            s(&fb),
            "--batch",
            "8",
            "--hidden",
            "16",
            "--z-dim",
            "4",
            "--checkpoint-every",
            "2",
        ];
        args.extend_from_slice(extra);
        genreward(&args)
    };
    let o = train_fb(&["--steps", "3"]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["steps"], 3);
    assert!(
        j["validation"]["val_loss"].as_f64().unwrap().is_finite(),
        "{j}"
    );
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
    let o = train_fb(&["--steps", "5", "--resume"]);
    ok(&o);
    assert_eq!(last_json(&o)["steps"], 5, "resume continues the step count");
    // Frozen after 6 steps: a later --resume asking for more trains nothing.
    let o = train_fb(&["--steps", "8", "--resume", "--freeze-after", "6"]);
    ok(&o);
    assert_eq!(last_json(&o)["steps"], 6);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fb.join("meta.json")).unwrap()).unwrap();
    assert_eq!(
        (&meta["freeze_after"], &meta["frozen"]),
        (&6.into(), &true.into())
    );
    let o = train_fb(&["--steps", "9", "--resume"]);
    ok(&o);
    assert_eq!(last_json(&o)["steps"], 6);
    assert!(String::from_utf8_lossy(&o.stderr).contains("frozen at step 6"));
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval-fb",
            "--fb",
            s(&fb),
            "--tasks",
            "reach",
            "--episodes",
            "2",
            "--steps",
            "12",
        ];
        args.extend_from_slice(extra);
        genreward(&args)
    };
    let o = eval(&["--vae", s(&vae)]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(
        j["tasks"][0]["goal_frames"],
        serde_json::json!([15, 15]),
        "{j}"
    );
    assert!(j["ms_per_step_fb"].as_f64().unwrap() > 0.0);
    assert!(j["tasks"][0]["mean"][0][1].as_f64().unwrap().is_finite());
    let o = eval(&["--vae", s(&vae), "--goal-frame", "16"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--goal-frame 16 is out of range"));
    // Scoring with another VAE's features is refused (the shipped VAE here).
    let o = eval(&[]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("trained on the features of another VAE"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // F can read the current frame's features instead of the observation.
    let fb_frame = d.join("fb_frame");
    let o = genreward(&[
        "train",
        "fb",
        "--data",
        s(&train_dir),
        "--vae",
        s(&vae),
        "--out",
        s(&fb_frame),
        "--batch",
        "8",
        "--hidden",
        "16",
        "--z-dim",
        "4",
        "--steps",
        "2",
        "--state",
        "frame",
    ]);
    ok(&o);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fb_frame.join("meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["state"], "frame");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fb_frame.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["state_dim"], cfg["goal_dim"]);
    let o = genreward(&[
        "eval-fb",
        "--fb",
        s(&fb_frame),
        "--vae",
        s(&vae),
        "--tasks",
        "reach",
        "--episodes",
        "2",
        "--steps",
        "12",
    ]);
    ok(&o);
    assert!(last_json(&o)["tasks"][0]["mean"][0][1]
        .as_f64()
        .unwrap()
        .is_finite());
    // Its reward field re-renders the scene per cell: the cells differ, so the frames did.
    let heat = d.join("heat_frame.png");
    let o = genreward(&[
        "heatmap",
        "--task",
        "reach",
        "--seed",
        "5",
        "--fb",
        s(&fb_frame),
        "--vae",
        s(&vae),
        "--grid",
        "4",
        "--size",
        "128",
        "--out",
        s(&heat),
    ]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["state"], "frame");
    let (lo, hi) = (j["min"].as_f64().unwrap(), j["max"].as_f64().unwrap());
    assert!(lo.is_finite() && hi.is_finite() && lo < hi, "{j}");
    assert!(heat.is_file());
    let o = genreward(&[
        "train",
        "fb",
        "--data",
        s(&train_dir),
        "--out",
        s(&d.join("x")),
        "--state",
        "joints",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown FB state 'joints'"));
    // An FB on DreamerV3's model state trains inside train dreamer, not on dataset episodes.
    let o = genreward(&[
        "train",
        "fb",
        "--data",
        s(&train_dir),
        "--out",
        s(&d.join("x")),
        "--state",
        "dreamer",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("train dreamer --fb-state dreamer"));

    let goal = d.join("goal.npy");
    ok(&genreward(&[
        "goal",
        "--task",
        "reach",
        "--seed",
        "7",
        "--out",
        s(&goal),
    ]));
    let recon = d.join("recon.mp4");
    let o = genreward(&[
        "reconstruct",
        "--vae",
        s(&vae),
        "--video",
        s(&goal),
        "--out",
        s(&recon),
    ]);
    ok(&o);
    assert!(last_json(&o)["psnr_db"].as_f64().unwrap() > 5.0);
    let rv = genreward_record::load_video(&recon).unwrap();
    assert_eq!(
        (rv.width, rv.height),
        (256, 512),
        "input above reconstruction, 4x"
    );

    // Live: r_video every 8 steps.
    let run = d.join("run");
    let o = genreward(&[
        "rollout",
        "--task",
        "reach",
        "--seed",
        "11",
        "--max-steps",
        "24",
        "--goal",
        s(&goal),
        "--vae",
        s(&vae),
        "--every",
        "8",
        "--alpha",
        "0.5",
        "--fb",
        s(&fb),
        "--beta",
        "0.25",
        "--out",
        s(&run),
        "--camera",
        "corner2",
        "--video",
        s(&d.join("run.mp4")),
        "--overlay",
    ]);
    ok(&o);
    let j = last_json(&o);
    assert!(j["ms_per_window"].as_f64().unwrap() > 0.0);
    assert!(j["ms_per_step_fb"].as_f64().unwrap() > 0.0);
    let steps = lines(&run.join("steps.jsonl"));
    assert_eq!(steps.len(), 24);
    for st in &steps {
        let k = st["step"].as_u64().unwrap();
        let rv = st["terms"]["r_video"].as_f64().unwrap();
        let renv = st["terms"]["r_env"].as_f64().unwrap();
        let rfb = st["terms"]["r_fb"].as_f64().unwrap();
        if (k + 1) % 8 == 0 {
            assert!(rv.abs() > 1e-6 && rv.abs() <= 1.0 + 1e-9, "step {k}: {rv}");
        } else {
            assert_eq!(rv, 0.0, "step {k}");
        }
        assert!(rfb.is_finite() && rfb != 0.0, "step {k}: r_fb {rfb}");
        let want = renv + 0.5 * rv + 0.25 * rfb;
        assert!((st["reward"].as_f64().unwrap() - want).abs() < 1e-9);
        assert_eq!(
            renv,
            st["dense_reward"].as_f64().unwrap(),
            "dense env reward paid"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["goal"]["every"], 8);
    assert_eq!(manifest["goal"]["sampled"].as_array().unwrap().len(), 16);
    assert_eq!(manifest["goal"]["beta"], 0.25);
    assert_eq!(manifest["goal"]["goal_frame"]["frame"], 15);
    assert_eq!(manifest["goal"]["goal_frame"]["method"], "last");
    assert!(manifest["goal"]["fb"].as_str().unwrap().ends_with("fb"));

    // Offline: the same frames, the same model, the same numbers.
    let out = d.join("scored.jsonl");
    let o = genreward(&[
        "score",
        "--run",
        s(&run),
        "--goal",
        s(&goal),
        "--vae",
        s(&vae),
        "--every",
        "8",
        "--alpha",
        "0.5",
        "--fb",
        s(&fb),
        "--beta",
        "0.25",
        "--out",
        s(&out),
    ]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["windows"], 3);
    assert!(j["ms_per_window"].as_f64().unwrap() > 0.0);
    assert!(j["ms_per_step_fb"].as_f64().unwrap() > 0.0);
    let scored = lines(&out);
    assert_eq!(scored.len(), 24);
    for (a, b) in scored.iter().zip(&steps) {
        assert_eq!(a["r_video"], b["terms"]["r_video"], "step {}", a["step"]);
        assert_eq!(a["r_env"], b["terms"]["r_env"]);
        // One step at a time live, the whole episode in one batch here: the same values.
        let (x, y) = (
            a["r_fb"].as_f64().unwrap(),
            b["terms"]["r_fb"].as_f64().unwrap(),
        );
        assert!(
            (x - y).abs() <= 1e-4 * y.abs().max(1.0),
            "step {}: {x} {y}",
            a["step"]
        );
        let (x, y) = (a["reward"].as_f64().unwrap(), b["reward"].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-4 * y.abs().max(1.0));
    }
    let fin = j["episodes"][0]["final_r_video"].as_f64().unwrap();
    assert_eq!(fin, steps[23]["terms"]["r_video"].as_f64().unwrap());

    // Rescored sparse (the recorded dense reward paid every 8th step), with another goal frame:
    // r_env follows the formula, r_fb changes with the goal frame.
    let out2 = d.join("scored2.jsonl");
    let o = genreward(&[
        "score",
        "--run",
        s(&run),
        "--goal",
        s(&goal),
        "--vae",
        s(&vae),
        "--every",
        "8",
        "--fb",
        s(&fb),
        "--sparse-every",
        "8",
        "--goal-frame",
        "0",
        "--out",
        s(&out2),
    ]);
    ok(&o);
    let j2 = last_json(&o);
    assert_eq!(j2["goal"]["goal_frame"]["method"], "user");
    assert_eq!(j2["weights"]["sparse_every"], 8);
    let scored2 = lines(&out2);
    let mut fb_moved = false;
    for ((a, b), st) in scored2.iter().zip(&scored).zip(&steps) {
        let k = a["step"].as_u64().unwrap();
        let dense = st["dense_reward"].as_f64().unwrap();
        let want = if (k + 1) % 8 == 0 { dense } else { 0.0 };
        assert_eq!(a["r_env"].as_f64().unwrap(), want, "step {k}");
        fb_moved |= a["r_fb"] != b["r_fb"];
        let w = want + 10.0 * a["r_video"].as_f64().unwrap() + 0.005 * a["r_fb"].as_f64().unwrap();
        assert!(
            (a["reward"].as_f64().unwrap() - w).abs() < 1e-9,
            "default weights 10, 0.005"
        );
    }
    assert!(fb_moved, "another goal frame, another r_fb");

    // B reading DINO features (the paper's goal features; the tiny DINOv3 fixture here): trained,
    // recorded with its weights' fingerprint, scored, and refused with other weights.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/models/tests/fixtures");
    let dino_w = d.join("dino_weights");
    std::fs::create_dir_all(&dino_w).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures.join("dinov3_tiny").join(f), dino_w.join(f)).unwrap();
    }
    let fb_dino = d.join("fb_dino");
    let train_dino = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "fb",
            "--data",
            s(&train_dir),
            "--vae",
            s(&vae),
            "--out",
            s(&fb_dino),
            "--batch",
            "8",
            "--hidden",
            "16",
            "--z-dim",
            "4",
            "--dino",
            s(&dino_w),
        ];
        args.extend_from_slice(extra);
        genreward(&args)
    };
    let o = train_dino(&["--dino-size", "30"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("not a positive multiple of the DINO patch size 8"));
    ok(&train_dino(&["--steps", "2"]));
    // The DINO features are kept and reused by --resume.
    assert!(fb_dino.join("features_train.npy").is_file());
    let o = train_dino(&["--resume", "--steps", "3"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("goal features of train read from"));
    assert_eq!(last_json(&o)["steps"], 3);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fb_dino.join("meta.json")).unwrap()).unwrap();
    let gf = &meta["goal_features"];
    assert_eq!(gf["kind"], "dino", "{gf}");
    assert_eq!(gf["layout"], "dinov3");
    assert_eq!(gf["dim"], 64);
    assert_eq!(gf["size"], 32, "the tower's own image_size by default");
    assert_eq!(gf["dino_fingerprint"].as_str().unwrap().len(), 16);
    let scored_dino_path = d.join("scored_dino.jsonl");
    let score_dino = |fb: &Path, extra: &[&str]| {
        let mut args = vec![
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&goal),
            "--vae",
            s(&vae),
            "--every",
            "8",
            "--fb",
            s(fb),
            "--out",
            s(&scored_dino_path),
        ];
        args.extend_from_slice(extra);
        genreward(&args)
    };
    let o = score_dino(&fb_dino, &[]);
    ok(&o);
    assert_eq!(last_json(&o)["goal"]["goal_features"]["kind"], "dino");
    let scored_dino = lines(&scored_dino_path);
    assert_eq!(scored_dino.len(), 24);
    assert!(scored_dino
        .iter()
        .all(|l| l["r_fb"].as_f64().unwrap().is_finite()));
    // The weights moved away: named by --dino (same bytes) they still score, the same numbers.
    std::fs::remove_dir_all(&dino_w).unwrap();
    let o = score_dino(&fb_dino, &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("which is not here: pass --dino DIR"), "{err}");
    let o = score_dino(&fb_dino, &["--dino", s(&fixtures.join("dinov3_tiny"))]);
    ok(&o);
    assert_eq!(lines(&scored_dino_path), scored_dino);
    let o = score_dino(&fb_dino, &["--dino", s(&fixtures.join("dinov2_tiny"))]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("trained on other DINO weights"));
    let o = score_dino(&fb, &["--dino", s(&fixtures.join("dinov3_tiny"))]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not apply"));
    // An FB model reading frames scores the recorded frames the same as the live run would.
    let run_f = d.join("run_frame");
    ok(&genreward(&[
        "rollout",
        "--task",
        "reach",
        "--seed",
        "11",
        "--max-steps",
        "10",
        "--goal",
        s(&goal),
        "--vae",
        s(&vae),
        "--every",
        "8",
        "--fb",
        s(&fb_frame),
        "--out",
        s(&run_f),
    ]));
    let out3 = d.join("scored3.jsonl");
    ok(&genreward(&[
        "score",
        "--run",
        s(&run_f),
        "--goal",
        s(&goal),
        "--vae",
        s(&vae),
        "--every",
        "8",
        "--fb",
        s(&fb_frame),
        "--out",
        s(&out3),
    ]));
    for (a, b) in lines(&out3).iter().zip(&lines(&run_f.join("steps.jsonl"))) {
        let (x, y) = (
            a["r_fb"].as_f64().unwrap(),
            b["terms"]["r_fb"].as_f64().unwrap(),
        );
        assert!(
            (x - y).abs() <= 1e-4 * y.abs().max(1.0),
            "step {}: {x} {y}",
            a["step"]
        );
    }
    // A user's VAE without --fb: the shipped FB does not fit it, so r_fb is left out with a
    // warning and r_video still works.
    let o = genreward(&[
        "score",
        "--run",
        s(&run),
        "--goal",
        s(&goal),
        "--vae",
        s(&vae),
        "--every",
        "8",
        "--out",
        s(&out2),
    ]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: r_fb is off"));
    assert!(lines(&out2)[0].get("r_fb").is_none());
    assert!(last_json(&o)["ms_per_step_fb"].is_null());

    // Bad input.
    let bad = |args: &[&str], want: &str| {
        let o = genreward(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        let last = e.lines().last().unwrap_or("");
        assert!(
            last.starts_with("error:") && last.contains(want),
            "{args:?}: {e}"
        );
    };
    let one = d.join("one.npy");
    genreward_record::save_frames(&one, 64, 64, 1, &[vec![0u8; 64 * 64 * 3]]).unwrap();
    let o_ = s(&out);
    bad(
        &[
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&one),
            "--vae",
            s(&vae),
            "--out",
            o_,
        ],
        "at least 2",
    );
    bad(
        &[
            "score",
            "--run",
            s(&d.join("nope")),
            "--goal",
            s(&goal),
            "--vae",
            s(&vae),
            "--out",
            o_,
        ],
        "not a run folder",
    );
    bad(
        &[
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&goal),
            "--vae",
            s(&d.join("novae")),
            "--out",
            o_,
        ],
        "not found",
    );
    bad(
        &[
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&goal),
            "--vae",
            s(&vae),
            "--device",
            "tpu",
            "--out",
            o_,
        ],
        "unknown device",
    );
    bad(
        &[
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&goal),
            "--vae",
            s(&vae),
            "--every",
            "0",
            "--out",
            o_,
        ],
        "--every",
    );
    for (flag, value, want) in [
        ("--beta", "nan", "--beta must be a finite number"),
        ("--alpha", "inf", "--alpha must be a finite number"),
        ("--goal-frame", "16", "--goal-frame 16 is out of range"),
    ] {
        let before = std::fs::read(&out).unwrap();
        bad(
            &[
                "score",
                "--run",
                s(&run),
                "--goal",
                s(&goal),
                "--vae",
                s(&vae),
                "--fb",
                s(&fb),
                flag,
                value,
                "--out",
                o_,
            ],
            want,
        );
        assert_eq!(
            std::fs::read(&out).unwrap(),
            before,
            "nothing written on {flag}"
        );
    }
    bad(
        &[
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&goal),
            "--vae",
            s(&vae),
            "--fb",
            s(&d.join("nofb")),
            "--out",
            o_,
        ],
        "not found",
    );
    std::fs::write(d.join("junk.mp4"), b"not a video").unwrap();
    bad(
        &[
            "score",
            "--run",
            s(&run),
            "--goal",
            s(&d.join("junk.mp4")),
            "--vae",
            s(&vae),
            "--out",
            o_,
        ],
        "cannot read video",
    );
    bad(
        &[
            "train",
            "vae",
            "--data",
            s(&d.join("nodata")),
            "--out",
            s(&d.join("v2")),
        ],
        "does not exist",
    );
    bad(
        &["goal", "--task", "reach", "--out", s(&d.join("g.avi"))],
        "unknown clip format",
    );
    let nocam = d.join("nocam");
    ok(&genreward(&[
        "rollout",
        "--task",
        "reach",
        "--max-steps",
        "3",
        "--out",
        s(&nocam),
    ]));
    bad(
        &[
            "score",
            "--run",
            s(&nocam),
            "--goal",
            s(&goal),
            "--vae",
            s(&vae),
            "--out",
            o_,
        ],
        "no camera observations",
    );
}

/// The shipped VAE (assets/models/vae) loads when no --vae is given, reconstructs an expert
/// episode from a seed it never saw at the quality the README states, and scores runs.
#[test]
fn shipped_vae_reconstructs_unseen_episodes_and_scores_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let goal = d.join("goal.npy");
    ok(&genreward(&[
        "goal",
        "--task",
        "pick-place",
        "--seed",
        "4242",
        "--out",
        s(&goal),
    ]));
    let o = genreward(&[
        "reconstruct",
        "--video",
        s(&goal),
        "--out",
        s(&d.join("r.mp4")),
    ]);
    ok(&o);
    let psnr = last_json(&o)["psnr_db"].as_f64().unwrap();
    // Validation PSNR of the shipped model is above 28 dB; an unseen expert episode of one task
    // is in the same range (measured 30+). A broken or swapped checkpoint lands far below.
    assert!(psnr > 26.0, "shipped VAE PSNR {psnr:.2} dB");
    let run = d.join("run");
    let o = genreward(&[
        "rollout",
        "--task",
        "pick-place",
        "--seed",
        "4300",
        "--max-steps",
        "32",
        "--every",
        "16",
        "--goal",
        s(&goal),
        "--out",
        s(&run),
    ]);
    ok(&o);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert!(
        m["goal"]["vae"]
            .as_str()
            .unwrap()
            .ends_with("assets/models/vae"),
        "{}",
        m["goal"]
    );
    // Without flags the run gets every term: the shipped FB fits the shipped VAE.
    assert!(
        m["goal"]["fb"]
            .as_str()
            .unwrap()
            .ends_with("assets/models/fb"),
        "{}",
        m["goal"]
    );
    let steps = lines(&run.join("steps.jsonl"));
    assert!(steps.iter().all(|s| s["terms"]["r_fb"].is_f64()));
    let r15 = steps[15]["terms"]["r_video"].as_f64().unwrap();
    assert!(
        r15 > 0.5 && r15 <= 1.0,
        "an expert start against an expert goal: {r15}"
    );
}

/// r_video ranks expert episodes above random ones on seeds the VAE never saw (a small version
/// of `genreward eval-reward`, whose full figures are in the README).
#[test]
#[ignore = "slow: 2 tasks x 5 behaviours x 3 episodes of 256 steps (CI runs it)"]
fn shipped_vae_ranks_experts_above_random_on_unseen_seeds() {
    let o = genreward(&[
        "eval-reward",
        "--episodes",
        "3",
        "--tasks",
        "reach,pick-place",
        "--seed",
        "9100",
    ]);
    ok(&o);
    let j = last_json(&o);
    for t in j["tasks"].as_array().unwrap() {
        let auc = t["auc_expert_vs_random"].as_f64().unwrap();
        assert!(auc >= 0.85, "{}: AUC {auc}", t["task"]);
    }
}

/// The shipped FB representation (assets/models/fb) loads with the shipped VAE when no flags are
/// given (its goal features' fingerprint matches) and pays expert reaching more than random
/// actions on seeds it never saw.
#[test]
fn shipped_fb_pays_experts_more_than_random_without_flags() {
    let o = genreward(&[
        "eval-fb",
        "--tasks",
        "reach",
        "--episodes",
        "3",
        "--steps",
        "64",
    ]);
    ok(&o);
    let j = last_json(&o);
    let mean = &j["tasks"][0]["mean"];
    let (expert, random) = (mean[0][1].as_f64().unwrap(), mean[4][1].as_f64().unwrap());
    assert!(expert > random, "expert {expert} random {random}: {j}");
    assert_eq!(j["tasks"][0]["auc_expert_vs_random"], 1.0, "{j}");
}

/// The reward field of the shipped FB (no flags: the expert's goal video on the seed) is high
/// where the task's goal is, on a seed it never saw; the goal-frame strip marks its choice; bad
/// arguments are one-line errors.
#[test]
fn shipped_fb_field_points_at_the_goal_and_goal_frame_draws_the_strip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (task, subject, step) in [("push", "object", "40"), ("reach", "hand", "0")] {
        let out = d.join(format!("{task}.png"));
        let o = genreward(&[
            "heatmap",
            "--task",
            task,
            "--seed",
            "9301",
            "--subject",
            subject,
            "--at-step",
            step,
            "--out",
            s(&out),
        ]);
        ok(&o);
        let j = last_json(&o);
        let (mean, max) = (j["mean"].as_f64().unwrap(), j["max"].as_f64().unwrap());
        let at = j["at_target"].as_f64().unwrap();
        // Measured 0.68 (push, object) and 0.95 (reach, hand); a field that ignores the goal
        // sits near 0 or below.
        let rel = (at - mean) / (max - mean);
        assert!(
            rel > 0.5,
            "{task}: r_fb at the goal {at:.0}, mean {mean:.0}, max {max:.0}"
        );
        let img = image::open(&out).unwrap();
        assert_eq!((img.width(), img.height()), (512 + 90, 512));
    }

    let goal = d.join("goal.npy");
    ok(&genreward(&[
        "goal",
        "--task",
        "push",
        "--seed",
        "9302",
        "--out",
        s(&goal),
    ]));
    let strip = d.join("strip.png");
    let o = genreward(&[
        "goal-frame",
        "--goal",
        s(&goal),
        "--task",
        "push",
        "--out",
        s(&strip),
    ]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(
        (j["frame"].as_u64(), j["method"].as_str()),
        (Some(15), Some("last"))
    );
    let scores: Vec<f64> = j["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(scores.len(), 16);
    assert!((scores[15] - 1.0).abs() < 1e-9 && scores[0] < scores[15]);
    let img = image::open(&strip).unwrap().to_rgb8();
    assert_eq!(
        (img.width(), img.height()),
        (8 * 128 + 9 * 6, 40 + 2 * (128 + 22 + 6) + 6)
    );
    // The chosen frame (15: bottom right) is framed in yellow.
    let (x, y) = (6 + 7 * (128 + 6) - 2, 40 + 6 + 128 + 22 + 6 + 60);
    assert_eq!(img.get_pixel(x as u32, y as u32).0, [255, 210, 40]);
    let o = genreward(&[
        "goal-frame",
        "--goal",
        s(&goal),
        "--task",
        "push",
        "--goal-frame",
        "3",
    ]);
    ok(&o);
    assert_eq!(last_json(&o)["method"], "user");

    // With CLIP weights (the tiny random-weight fixture stands in for a user's download): the
    // frame CLIP scores highest, and rollout records the method.
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/models/tests/fixtures/clip_tiny");
    let o = genreward(&[
        "goal-frame",
        "--goal",
        s(&goal),
        "--task",
        "push",
        "--clip",
        s(&clip),
    ]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["method"], "clip");
    let sc: Vec<f64> = j["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let best = (0..16).max_by(|&a, &b| sc[a].total_cmp(&sc[b])).unwrap();
    assert_eq!(j["frame"].as_u64().unwrap() as usize, best);
    assert!(sc.iter().all(|v| v.abs() <= 1.0));
    let run = d.join("run");
    ok(&genreward(&[
        "rollout",
        "--task",
        "push",
        "--seed",
        "9302",
        "--max-steps",
        "4",
        "--goal",
        s(&goal),
        "--clip",
        s(&clip),
        "--out",
        s(&run),
    ]));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["goal"]["goal_frame"]["method"], "clip");
    assert_eq!(
        m["goal"]["goal_frame"]["frame"].as_u64().unwrap() as usize,
        best
    );
    let dino = clip.join("../dinov2_tiny");

    for (args, want) in [
        (
            vec![
                "heatmap",
                "--task",
                "push",
                "--subject",
                "foot",
                "--out",
                "x.png",
            ],
            "unknown field subject 'foot'",
        ),
        (
            vec!["heatmap", "--task", "push", "--out", "x.jpg"],
            "is not a .png file name",
        ),
        (
            vec!["heatmap", "--task", "push", "--grid", "1", "--out", "x.png"],
            "--grid must be",
        ),
        (
            vec![
                "goal-frame",
                "--goal",
                s(&goal),
                "--task",
                "push",
                "--goal-frame",
                "16",
            ],
            "--goal-frame 16 is out of range",
        ),
        (
            vec!["goal-frame", "--goal", s(&goal), "--task", "fly"],
            "unknown task",
        ),
        (
            vec![
                "goal-frame",
                "--goal",
                s(&goal),
                "--task",
                "push",
                "--clip",
                s(&d.join("none")),
            ],
            "not found",
        ),
        (
            vec![
                "goal-frame",
                "--goal",
                s(&goal),
                "--task",
                "push",
                "--clip",
                s(&dino),
            ],
            "has no tensor 'visual.conv1.weight'",
        ),
    ] {
        let o = genreward(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.lines().last().unwrap_or("").contains(want),
            "{args:?}: {e}"
        );
    }
}
