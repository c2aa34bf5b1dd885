//! The app in a real window (under Xvfb when there is no display): its
//! screenshot shows the scene and the panel, and its agent view is, pixel for
//! pixel, what a headless rollout saves.
//!
//! Slow (starts Bevy on a software GPU): ignored by default, run by CI with
//! `--include-ignored`. Built only with the `app` feature (the default).
#![cfg(feature = "app")]

mod common;
use common::*;

use genreward_record::read_npy_u8;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `genreward view ARGS` in a window: on the current display if there is
/// one, otherwise under `xvfb-run`.
fn view(args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_genreward");
    let mut cmd = if std::env::var_os("DISPLAY").is_some() {
        let mut c = Command::new(bin);
        c.arg("view");
        c
    } else {
        let mut c = Command::new("xvfb-run");
        // Tall enough for the tallest window a test asks for.
        c.args(["-a", "-s", "-screen 0 1280x2100x24", bin, "view"]);
        c
    };
    let out = cmd
        .args(args)
        .output()
        .expect("no display and no xvfb-run: install xvfb (scripts/setup-system.sh)");
    assert!(
        out.status.success(),
        "view {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The expert's push goal video on seed 7, written to `out`.
fn push_goal(out: &Path) {
    ok(&genreward(&[
        "goal",
        "--source",
        "expert",
        "--length",
        "0",
        "--task",
        "push",
        "--seed",
        "7",
        "--out",
        out.to_str().unwrap(),
    ]));
}

fn load_png(p: &Path) -> image::RgbImage {
    image::open(p).expect("screenshot decodes").to_rgb8()
}

#[test]
#[ignore = "slow: starts the Bevy app (CI runs it)"]
fn screenshot_shows_scene_and_panel_and_agent_view_matches_headless() {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let agent = dir.path().join("agent.npy");
    let recorded = dir.path().join("agent.mp4");
    let frames = 30;
    view(&[
        "--task",
        "pick-place",
        "--policy",
        "expert",
        "--seed",
        "2",
        "--camera",
        "corner2",
        "--size",
        "64x64",
        "--frames",
        &frames.to_string(),
        "--screenshot",
        shot.to_str().unwrap(),
        "--save-agent-view",
        agent.to_str().unwrap(),
        "--record",
        recorded.to_str().unwrap(),
    ]);

    let img = load_png(&shot);
    assert_eq!(img.dimensions(), (1280, 800));
    // Not blank or black: many colours over the window.
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        colours.insert(p.0);
    }
    assert!(colours.len() > 200, "only {} colours", colours.len());
    // The panel (right side, egui's dark theme) and the scene (left) differ.
    let mean = |x0: u32, x1: u32| {
        let mut s = 0u64;
        let mut n = 0u64;
        for y in (0..800).step_by(4) {
            for x in (x0..x1).step_by(4) {
                let p = img.get_pixel(x, y).0;
                s += p[0] as u64 + p[1] as u64 + p[2] as u64;
                n += 3;
            }
        }
        s as f64 / n as f64
    };
    let scene = mean(0, 700);
    let panel = mean(1000, 1280);
    assert!(scene > 40.0, "scene is dark: {scene}");
    assert!(
        panel < scene - 20.0,
        "panel {panel} not darker than scene {scene}"
    );

    // The agent view after k steps is frame k of a headless rollout.
    let run = dir.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_genreward"))
        .args([
            "rollout",
            "--task",
            "pick-place",
            "--policy",
            "expert",
            "--seed",
            "2",
            "--max-steps",
            "30",
            "--camera",
            "corner2",
            "--size",
            "64x64",
            "--out",
            run.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (app_shape, app) = read_npy_u8(&agent).unwrap();
    let (head_shape, head) = read_npy_u8(&run.join("obs_000.npy")).unwrap();
    assert_eq!(head_shape, vec![30, 64, 64, 3]);
    assert_eq!(app_shape[1..], [64, 64, 3]);
    assert!(app_shape[0] >= 30, "app showed {} frames", app_shape[0]);
    assert_eq!(
        &app[..head.len()],
        &head[..],
        "agent view differs from the headless frames"
    );

    // The recording has one frame per step shown (it starts after the first step).
    let probe = ffprobe(&recorded);
    let n: usize = probe.rsplit(',').next().unwrap().parse().unwrap();
    assert!(probe.starts_with("h264,64,64,"), "{probe}");
    assert!(
        n + 2 >= app_shape[0] && n <= app_shape[0],
        "{n} frames recorded vs {} shown",
        app_shape[0]
    );
}

#[test]
#[ignore = "slow: starts the Bevy app (CI runs it)"]
fn window_recording_is_a_playable_video() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("window.mp4");
    view(&[
        "--task",
        "reach",
        "--frames",
        "12",
        "--record",
        video.to_str().unwrap(),
        "--record-source",
        "window",
    ]);
    let probe = ffprobe(&video);
    let n: usize = probe.rsplit(',').next().unwrap().parse().unwrap();
    assert!(probe.starts_with("h264,1280,800,"), "{probe}");
    assert!(n >= 5, "{probe}");
}

/// With a goal video the app computes GenReward's terms as `rollout --goal` does (the same
/// frames, the same models: the same returns over the steps it took), shows the goal strip with
/// the chosen frame framed in yellow, prints its figures, and refuses a bad goal in one line
/// before opening a window.
#[test]
#[ignore = "slow: starts the Bevy app (CI runs it)"]
fn goal_panel_scores_like_a_headless_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let goal = d.join("goal.npy");
    push_goal(&goal);
    let shot = d.join("shot.png");
    let o = view(&[
        "--task",
        "push",
        "--seed",
        "7",
        "--frames",
        "40",
        "--screenshot",
        shot.to_str().unwrap(),
        "--goal",
        goal.to_str().unwrap(),
        "--every",
        "16",
        "--sparse-every",
        "8",
        "--heatmap",
        "object",
        "--record",
        d.join("agent.mp4").to_str().unwrap(),
        "--window-size",
        "1280x2000",
    ]);
    let j = last_json(&o);
    let steps = j["steps"].as_u64().unwrap() as usize;
    assert!(steps >= 40, "{j}");
    assert_eq!(j["goal_frame"], 15, "{j}");
    assert_eq!(j["weights"]["sparse_every"], 8);
    // The object's reward field, refreshed every 8 steps.
    assert_eq!(j["field"]["subject"], "object");
    assert!(
        j["field"]["refreshes"].as_u64().unwrap() as usize >= steps / 8,
        "{j}"
    );
    let parts: f64 = ["return_env", "return_video", "return_fb"]
        .iter()
        .map(|k| j[k].as_f64().unwrap())
        .sum();
    assert!((parts - j["return"].as_f64().unwrap()).abs() < 1e-6, "{j}");
    assert_eq!(j["r_video_paid"].as_u64().unwrap() as usize, steps / 16);

    // The same episode headless.
    let run = d.join("run");
    let n = steps.to_string();
    ok(&genreward(&[
        "rollout",
        "--task",
        "push",
        "--seed",
        "7",
        "--max-steps",
        &n,
        "--camera",
        "corner2",
        "--size",
        "64x64",
        "--goal",
        goal.to_str().unwrap(),
        "--every",
        "16",
        "--out",
        run.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(run.join("steps.jsonl")).unwrap();
    let (mut rv, mut rf, mut env) = (0.0, 0.0, 0.0);
    for (t, l) in text.lines().enumerate() {
        let l: serde_json::Value = serde_json::from_str(l).unwrap();
        rv += l["terms"]["r_video"].as_f64().unwrap();
        rf += l["terms"]["r_fb"].as_f64().unwrap();
        if (t + 1) % 8 == 0 {
            env += l["dense_reward"].as_f64().unwrap();
        }
    }
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.abs().max(1.0);
    assert!(
        close(j["return_video"].as_f64().unwrap(), 10.0 * rv),
        "{j} vs {rv}"
    );
    assert!(
        close(j["return_fb"].as_f64().unwrap(), 0.005 * rf),
        "{j} vs {rf}"
    );
    assert!(
        close(j["return_env"].as_f64().unwrap(), env),
        "{j} vs {env}"
    );

    // The recording keeps the goal, the weights and each recorded step's terms beside it.
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("agent.json")).unwrap()).unwrap();
    assert_eq!(data["goal"]["path"], goal.to_str().unwrap(), "{data}");
    assert_eq!(data["goal"]["alpha"], 10.0);
    assert_eq!(data["goal"]["beta"], 0.005);
    assert_eq!(data["goal"]["sparse_every"], 8);
    assert_eq!(data["source"], "agent");
    let rows = data["steps"].as_array().unwrap();
    assert!(
        rows.len() + 2 >= steps,
        "{} rows for {steps} steps",
        rows.len()
    );
    for r in rows {
        let f = |k: &str| r[k].as_f64().unwrap();
        let want = f("r_env_paid") + 10.0 * f("r_video") + 0.005 * f("r_fb");
        assert!((f("reward") - want).abs() < 1e-9, "{r}");
    }

    // The chosen goal frame is framed in yellow in the panel.
    let img = load_png(&shot);
    let yellow = img
        .enumerate_pixels()
        .filter(|(x, _, p)| *x > 600 && p.0[0] > 230 && p.0[1] > 230 && p.0[2] < 60)
        .count();
    assert!(yellow > 60, "{yellow} yellow pixels");
    // A window tall enough for every panel; the reward field's colour bar in the 3D view's
    // bottom-left corner, its yellow high end included.
    assert_eq!(img.dimensions(), (1280, 2000));
    let bar = img
        .enumerate_pixels()
        .filter(|(x, y, p)| *x < 300 && *y > 1850 && p.0[0] > 200 && p.0[1] > 200 && p.0[2] < 80)
        .count();
    assert!(bar > 40, "{bar} colour-bar pixels");

    let bad = d.join("bad.mp4");
    std::fs::write(&bad, b"not a video").unwrap();
    let o = genreward(&["view", "--frames", "1", "--goal", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `view --run` replays a scored run in the window: the episode asked for, walked by the
/// timeline, its return rescored from the stored terms equal to what the rollout paid. Goals
/// dropped on the window load (the terms are then scored against the new goal) or, for a
/// file that is not a video, leave a one-line message while the app keeps running.
#[test]
#[ignore = "slow: starts the Bevy app (CI runs it)"]
fn a_recorded_run_replays_and_dropped_goals_load_or_explain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (goal, other) = (d.join("goal.npy"), d.join("other.npy"));
    for (seed, out) in [("7", &goal), ("8", &other)] {
        ok(&genreward(&[
            "goal",
            "--source",
            "expert",
            "--length",
            "0",
            "--task",
            "push",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]));
    }
    // Two 140-step expert episodes of push from seed 7 scored live toward `goal`; the manifest.
    let record = |run: &Path, goal: &str| -> serde_json::Value {
        ok(&genreward(&[
            "rollout",
            "--task",
            "push",
            "--seed",
            "7",
            "--episodes",
            "2",
            "--max-steps",
            "140",
            "--camera",
            "corner2",
            "--goal",
            goal,
            "--out",
            run.to_str().unwrap(),
        ]));
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap()
    };
    let run = d.join("run");
    let manifest = record(&run, goal.to_str().unwrap());
    let paid = manifest["episodes"][1]["episode_return"].as_f64().unwrap();

    let shot = d.join("replay.png");
    let o = view(&[
        "--run",
        run.to_str().unwrap(),
        "--episode",
        "1",
        "--frames",
        "30",
        "--screenshot",
        shot.to_str().unwrap(),
    ]);
    let j = last_json(&o);
    assert_eq!(j["replay"]["episode"], 1, "{j}");
    assert_eq!(j["replay"]["recorded_frames"], true, "{j}");
    assert_eq!(j["steps"], 140, "{j}");
    let shown = j["replay"]["shown_step"].as_u64().unwrap();
    // One step per frame, and a few more frames while the screenshot is taken.
    assert!((30..=40).contains(&shown), "{j}");
    let ret = j["return"].as_f64().unwrap();
    assert!(
        (ret - paid).abs() < 1e-6 * paid.abs().max(1.0),
        "{ret} vs {paid}"
    );
    assert!(shot.exists());

    let bad = d.join("bad.mp4");
    std::fs::write(&bad, b"not a video").unwrap();
    let o = view(&[
        "--run",
        run.to_str().unwrap(),
        "--frames",
        "8",
        "--drop",
        other.to_str().unwrap(),
        "--drop",
        bad.to_str().unwrap(),
    ]);
    let j = last_json(&o);
    assert_eq!(j["goals_loaded"], 1, "{j}");
    assert_eq!(j["goal"], other.to_str().unwrap(), "{j}");
    let msg = j["message"].as_str().unwrap();
    assert!(msg.contains("bad.mp4") && !msg.contains('\n'), "{msg}");
    // Scored against the other goal now: r_video and r_fb are not the recorded ones.
    let recorded = manifest["episodes"][0]["episode_return"].as_f64().unwrap();
    assert!(
        (j["return"].as_f64().unwrap() - recorded).abs() > 1e-3,
        "{j}"
    );

    // A run whose every episode had its own generated goal replays toward the episode's own.
    let gen_run = d.join("generated");
    let manifest = record(&gen_run, "generated");
    let paid = manifest["episodes"][1]["episode_return"].as_f64().unwrap();
    let o = view(&[
        "--run",
        gen_run.to_str().unwrap(),
        "--episode",
        "1",
        "--frames",
        "8",
    ]);
    let j = last_json(&o);
    assert!(j["goal"].as_str().unwrap().ends_with("goal_001.npy"), "{j}");
    let ret = j["return"].as_f64().unwrap();
    assert!(
        (ret - paid).abs() < 1e-6 * paid.abs().max(1.0),
        "{ret} vs {paid}"
    );
}

/// `view --device wgpu`: Bevy, the agent-view renderer and the models share one wgpu device
/// (here Mesa's lavapipe; a GPU where there is one), and the terms are those of the CPU backend
/// step by step (the recordings' per-step data of the same scripted episode on both).
#[test]
#[ignore = "slow: starts the Bevy app twice, once with the models on wgpu (CI runs it)"]
fn the_models_run_on_the_apps_own_wgpu_device() {
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
        "reach",
        "--seed",
        "4",
        "--out",
        goal.to_str().unwrap(),
    ]));
    let run = |device: &str| -> (serde_json::Value, Vec<serde_json::Value>) {
        let rec = d.join(format!("{device}.mp4"));
        let o = view(&[
            "--task",
            "reach",
            "--seed",
            "4",
            "--frames",
            "20",
            "--goal",
            goal.to_str().unwrap(),
            "--every",
            "8",
            "--record",
            rec.to_str().unwrap(),
            "--device",
            device,
        ]);
        let data: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(rec.with_extension("json")).unwrap())
                .unwrap();
        (last_json(&o), data["steps"].as_array().unwrap().clone())
    };
    let (cpu, cpu_rows) = run("cpu");
    let (gpu, gpu_rows) = run("wgpu");
    assert!(cpu["backend"].as_str().unwrap().starts_with("cpu"), "{cpu}");
    let backend = gpu["backend"].as_str().unwrap();
    assert!(backend.starts_with("wgpu, shared device"), "{gpu}");
    assert!(gpu["message"].is_null(), "{gpu}");
    // Every step the window took is scored before the summary and the recording are written.
    for j in [&cpu, &gpu] {
        let steps = j["steps"].as_u64().unwrap();
        assert!(steps >= 20, "{j}");
        assert_eq!(j["r_video_paid"].as_u64().unwrap(), steps / 8, "{j}");
    }
    let n = cpu_rows.len().min(gpu_rows.len());
    assert!(n >= 18, "{n} rows");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.abs().max(1.0);
    for (c, g) in cpu_rows[..n].iter().zip(&gpu_rows[..n]) {
        assert_eq!(c["step"], g["step"]);
        for k in ["r_video", "r_fb", "r_env"] {
            let (x, y) = (c[k].as_f64().unwrap(), g[k].as_f64().unwrap());
            assert!(close(y, x), "step {}: {k} cpu {x} wgpu {y}", c["step"]);
        }
    }
}

/// The shipped reach agent drives the window from its own camera: the agent view switches to
/// its `front` camera at 64x64 and follows the arm as the agent moves it.
#[test]
#[ignore = "slow: starts the Bevy app (CI runs it)"]
fn the_shipped_reach_agent_drives_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let agent_view = dir.path().join("agent.npy");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dreamer-reach");
    let policy = format!("agent:{}", shipped.display());
    view(&[
        "--task",
        "reach",
        "--seed",
        "1000003",
        "--policy",
        &policy,
        "--frames",
        "40",
        "--save-agent-view",
        agent_view.to_str().unwrap(),
    ]);
    let (shape, px) = read_npy_u8(&agent_view).unwrap();
    assert_eq!(&shape[1..], &[64, 64, 3], "{shape:?}");
    assert!(shape[0] >= 30, "{shape:?}");
    let frame = |k: usize| &px[k * 64 * 64 * 3..(k + 1) * 64 * 64 * 3];
    let moved = frame(0)
        .iter()
        .zip(frame(shape[0] - 1))
        .filter(|(a, b)| a.abs_diff(**b) > 30)
        .count();
    assert!(
        moved > 20,
        "the arm did not move in the agent view ({moved} pixels changed)"
    );
}

/// A recording killed with SIGKILL mid-episode (no chance to finish anything) leaves a usable
/// run folder: the fragmented MP4 plays up to its last fragment, every finished step reads
/// back, the manifest names the finished episodes and says the run was interrupted, and
/// `score` and `view --run` open the folder.
#[test]
#[ignore = "slow: a rollout, a kill, score and the app"]
fn a_recording_killed_mid_episode_leaves_a_usable_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (out, video, goal) = (d.join("run"), d.join("run.mp4"), d.join("goal.npy"));
    push_goal(&goal);
    let mut child = Command::new(env!("CARGO_BIN_EXE_genreward"))
        .args([
            "rollout",
            "--task",
            "push",
            "--episodes",
            "50",
            "--max-steps",
            "300",
            "--camera",
            "corner2",
            "--video",
            video.to_str().unwrap(),
            "--video-size",
            "64x64",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Past the first episode (300 steps) and into the second, then kill without warning.
    let steps = out.join("steps.jsonl");
    let t0 = std::time::Instant::now();
    let lines = || std::fs::read_to_string(&steps).map_or(0, |s| s.lines().count());
    while lines() < 450 {
        assert!(t0.elapsed().as_secs() < 180, "rollout wrote too little");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let text = std::fs::read_to_string(&steps).unwrap();
    let whole: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    for l in &whole {
        serde_json::from_str::<serde_json::Value>(l).expect("every finished line is a step");
    }
    let n = whole.len();
    assert!(n >= 450, "{n} steps");
    // The video: H.264 at 64x64, every frame up to the last whole fragment (one per second).
    let probe = ffprobe(&video);
    let frames: usize = probe.rsplit(',').next().unwrap().parse().unwrap();
    assert!(probe.starts_with("h264,64,64,"), "{probe}");
    assert!(
        frames <= n + 1 && frames + 2 * 80 >= n,
        "{frames} frames for {n} steps"
    );
    // The manifest: interrupted, the finished episode listed, its observations whole.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["interrupted"], true);
    let episodes = manifest["episodes"].as_array().unwrap();
    assert!(
        !episodes.is_empty() && episodes.len() < 50,
        "{}",
        episodes.len()
    );
    let (shape, _) = read_npy_u8(&out.join("obs_000.npy")).unwrap();
    assert_eq!(shape, vec![300, 64, 64, 3]);
    // The open episode's observations: the header says what the file holds.
    let (shape, _) = read_npy_u8(&out.join("obs_001.npy")).unwrap();
    assert!(
        shape[0] + 300 >= n - 1 && shape[0] + 300 <= n + 1,
        "{shape:?} for {n} steps"
    );
    // score rescores the finished episodes.
    let scores = d.join("scores.jsonl");
    let o = genreward(&[
        "score",
        "--run",
        out.to_str().unwrap(),
        "--goal",
        goal.to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
        "--no-fb",
    ]);
    ok(&o);
    assert_eq!(
        last_json(&o)["episodes"].as_array().unwrap().len(),
        episodes.len()
    );
    // The app replays it.
    view(&["--run", out.to_str().unwrap(), "--frames", "3"]);
}
