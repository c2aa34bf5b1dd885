//! The reward commands on the command line: goal videos, datasets, training, reconstruction,
//! rollouts scored live and offline, the shipped models' figures, and the errors a user can hit.
//! Models here are tiny configs or the shipped ones.

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

/// `eval-fb` of `fb` on two reach episodes of each behaviour, 12 steps each.
fn eval_fb_args<'a>(fb: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "eval-fb",
        "--fb",
        fb,
        "--tasks",
        "reach",
        "--episodes",
        "2",
        "--steps",
        "12",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn goal_writes_every_format_and_stops_after_success_plus_hold() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("g.npy");
    let o = genreward(&[
        "goal",
        "--source",
        "expert",
        "--length",
        "0",
        "--task",
        "reach",
        "--seed",
        "3",
        "--out",
        s(&npy),
    ]);
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
            "--source",
            "expert",
            "--length",
            "0",
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
/// The reward commands' contract on the command line: each prints one JSON line of the shape
/// scripts read, and bad input is one `error:` line and exit code 1 naming the flag. What the
/// stages compute (training, resuming, live and offline scores agreeing) is tested through the
/// library in `crates/train/tests/pipeline.rs`.
#[test]
fn reward_commands_print_their_json_and_refuse_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let o = genreward(&[
        "dataset",
        "--out",
        s(&data),
        "--tasks",
        "reach",
        "--train-episodes",
        "1",
        "--val-episodes",
        "1",
        "--steps",
        "20",
    ]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["frames"], 5 * 2 * 20, "{j}");
    assert!(j["frames_per_sec"].as_f64().unwrap() > 0.0);
    let train_dir = data.join("train");

    let vae = d.join("vae");
    let o = genreward(&[
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
        "--steps",
        "2",
    ]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["steps"], 2);
    assert!(j["val_psnr_db"].as_f64().unwrap() > 0.0, "{j}");
    assert_eq!(j["device"], "cpu");

    let fb = d.join("fb");
    let train_fb = |out: &Path, steps: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "fb",
            "--data",
            s(&train_dir),
            "--vae",
            s(&vae),
            "--out",
            s(out),
            "--batch",
            "8",
            "--hidden",
            "16",
            "--z-dim",
            "4",
            "--steps",
            steps,
        ];
        args.extend_from_slice(extra);
        genreward(&args)
    };
    let o = train_fb(&fb, "2", &[]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["steps"], 2);
    assert!(
        j["validation"]["val_loss"].as_f64().unwrap().is_finite(),
        "{j}"
    );
    // Training a frozen model again says so.
    ok(&train_fb(&fb, "2", &["--resume", "--freeze-after", "2"]));
    let o = train_fb(&fb, "4", &["--resume"]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("frozen at step 2"));
    let fb_frame = d.join("fb_frame");
    ok(&train_fb(&fb_frame, "2", &["--state", "frame"]));

    let o = genreward(&eval_fb_args(s(&fb), &["--vae", s(&vae)]));
    ok(&o);
    let j = last_json(&o);
    assert_eq!(
        j["tasks"][0]["goal_frames"],
        serde_json::json!([15, 15]),
        "{j}"
    );
    assert!(j["ms_per_step_fb"].as_f64().unwrap() > 0.0);
    assert!(j["tasks"][0]["mean"][0][1].as_f64().unwrap().is_finite());

    // The reward field of a frame-reading F re-renders the scene per cell.
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

    let goal = d.join("goal.npy");
    ok(&genreward(&[
        "goal",
        "--source",
        "expert",
        "--length",
        "0",
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

    // Live: the run's JSON, its steps and its manifest.
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
    for k in ["r_env", "r_video", "r_fb"] {
        assert!(steps[7]["terms"][k].is_f64(), "{k}: {}", steps[7]);
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["goal"]["every"], 8);
    assert_eq!(manifest["goal"]["goal_frame"]["method"], "last");
    assert!(manifest["goal"]["fb"].as_str().unwrap().ends_with("fb"));

    // Offline: the scored lines and the report.
    let out = d.join("scored.jsonl");
    let score = |extra: &[&str]| {
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
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        genreward(&args)
    };
    let o = score(&["--fb", s(&fb), "--sparse-every", "8", "--goal-frame", "0"]);
    ok(&o);
    let j = last_json(&o);
    assert_eq!(j["windows"], 3);
    assert!(j["ms_per_window"].as_f64().unwrap() > 0.0);
    assert_eq!(j["goal"]["goal_frame"]["method"], "user");
    assert_eq!(j["weights"]["sparse_every"], 8);
    assert!(j["episodes"][0]["final_r_video"].is_f64(), "{j}");
    let scored = lines(&out);
    assert_eq!(scored.len(), 24);
    for k in ["episode", "step", "r_env", "r_video", "r_fb", "reward"] {
        assert!(scored[0].get(k).is_some(), "{k}: {}", scored[0]);
    }
    // A user's VAE without --fb: the shipped FB does not fit it, so r_fb is left out with a
    // warning and r_video still works.
    let o = score(&[]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: r_fb is off"));
    assert!(lines(&out)[0].get("r_fb").is_none());
    assert!(last_json(&o)["ms_per_step_fb"].is_null());

    // Bad input: one `error:` line, exit code 1, the flag named where one is at fault.
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
    std::fs::write(d.join("junk.mp4"), b"not a video").unwrap();
    let (r, g, v, o_) = (s(&run), s(&goal), s(&vae), s(&out));
    for (args, want) in [
        (
            vec!["--run", r, "--goal", s(&one), "--vae", v],
            "at least 2",
        ),
        (
            vec!["--run", s(&d.join("nope")), "--goal", g, "--vae", v],
            "not a run folder",
        ),
        (
            vec!["--run", r, "--goal", g, "--vae", s(&d.join("novae"))],
            "not found",
        ),
        (
            vec!["--run", r, "--goal", g, "--vae", v, "--device", "tpu"],
            "unknown device",
        ),
        (
            vec!["--run", r, "--goal", g, "--vae", v, "--every", "0"],
            "--every",
        ),
        (
            vec![
                "--run",
                r,
                "--goal",
                g,
                "--vae",
                v,
                "--fb",
                s(&d.join("nofb")),
            ],
            "not found",
        ),
        (
            vec!["--run", r, "--goal", s(&d.join("junk.mp4")), "--vae", v],
            "cannot read video",
        ),
    ] {
        let mut a = vec!["score"];
        a.extend(args);
        a.extend(["--out", o_]);
        bad(&a, want);
    }
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
                r,
                "--goal",
                g,
                "--vae",
                v,
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
        &eval_fb_args(s(&fb), &["--vae", v, "--goal-frame", "16"]),
        "--goal-frame 16 is out of range",
    );
    bad(
        &eval_fb_args(s(&fb), &[]),
        "trained on the features of another VAE",
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
    let x_dir = d.join("x");
    let x = s(&x_dir);
    bad(
        &[
            "train",
            "fb",
            "--data",
            s(&train_dir),
            "--out",
            x,
            "--state",
            "joints",
        ],
        "unknown FB state 'joints'",
    );
    // An FB on DreamerV3's model state trains inside train dreamer, not on dataset episodes.
    bad(
        &[
            "train",
            "fb",
            "--data",
            s(&train_dir),
            "--out",
            x,
            "--state",
            "dreamer",
        ],
        "train dreamer --fb-state dreamer",
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
            g,
            "--vae",
            v,
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
        "--source",
        "expert",
        "--length",
        "0",
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
        "--source",
        "expert",
        "--length",
        "0",
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
