//! The app in a real window (under Xvfb when there is no display): its
//! screenshot shows the scene and the panel, and its agent view is, pixel for
//! pixel, what a headless rollout saves.
//!
//! Slow (starts Bevy on a software GPU): ignored by default, run by CI with
//! `--include-ignored`.

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
        c.args(["-a", "-s", "-screen 0 1280x800x24", bin, "view"]);
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
