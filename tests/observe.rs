//! What the agent sees and what a person keeps, through the command line:
//! camera observations saved as .npy, videos that ffprobe and an image
//! decoder read back with one frame per step, and the render benchmark.
//! Needs a Vulkan device (Mesa's lavapipe in CI) and ffmpeg's ffprobe.

mod common;
use common::*;

use genreward_record::read_npy_u8;
use std::process::Command;

/// Mean absolute difference between two frames.
fn diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn rollout_saves_observations_that_follow_the_arm() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = genreward(&[
        "rollout",
        "--task",
        "pick-place",
        "--policy",
        "expert",
        "--episodes",
        "2",
        "--seed",
        "3",
        "--max-steps",
        "40",
        "--camera",
        "corner2",
        "--size",
        "64x64",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    for ep in 0..2 {
        let (shape, data) = read_npy_u8(&out.join(format!("obs_{ep:03}.npy"))).unwrap();
        assert_eq!(shape, vec![40, 64, 64, 3]);
        let frame = |t: usize| &data[t * 64 * 64 * 3..(t + 1) * 64 * 64 * 3];
        // Not blank: the table, arm and sky differ.
        let f0 = frame(0);
        let distinct: std::collections::HashSet<[u8; 3]> =
            f0.chunks(3).map(|p| [p[0], p[1], p[2]]).collect();
        assert!(
            distinct.len() > 20,
            "frame 0 has {} colours",
            distinct.len()
        );
        // The expert moves the arm toward the object: frames change.
        assert!(
            diff(frame(0), frame(39)) > 1.0,
            "first and last frames are alike"
        );
        // Upright: the top rows are sky (background), the bottom rows are not.
        let top = &f0[..64 * 3];
        let sky = top.chunks(3).filter(|p| p[2] > p[0] && p[2] > 150).count();
        assert!(sky > 32, "top row is not sky: {sky}/64 sky pixels");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["observations"]["camera"], "corner2");
    assert_eq!(manifest["observations"]["width"], 64);
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(files.contains(&"obs_000.npy") && files.contains(&"obs_001.npy"));
}

#[test]
fn observations_load_in_numpy() {
    let has_numpy = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_numpy,
        "python3 with numpy is needed for this check (scripts/setup-system.sh installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(&genreward(&[
        "rollout",
        "--task",
        "reach",
        "--episodes",
        "1",
        "--max-steps",
        "12",
        "--camera",
        "topview",
        "--size",
        "48x32",
        "--out",
        out.to_str().unwrap(),
    ]));
    let path = out.join("obs_000.npy");
    let (_, data) = read_npy_u8(&path).unwrap();
    let sum: u64 = data.iter().map(|b| *b as u64).sum();
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys, numpy as np; a = np.load(sys.argv[1]); print(a.shape, a.dtype, int(a.astype(np.uint64).sum()))",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        format!("(12, 32, 48, 3) uint8 {sum}")
    );
}

#[test]
fn mp4_has_one_h264_frame_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let video = dir.path().join("run.mp4");
    let o = genreward(&[
        "rollout",
        "--task",
        "push",
        "--episodes",
        "2",
        "--max-steps",
        "30",
        "--video",
        video.to_str().unwrap(),
        "--video-camera",
        "corner",
        "--video-size",
        "96x80",
        "--overlay",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    assert_eq!(ffprobe(&video), "h264,96,80,60");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"overlay\": true"));
}

#[test]
fn gif_has_one_frame_per_step() {
    use image::AnimationDecoder;
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("run.gif");
    ok(&genreward(&[
        "rollout",
        "--task",
        "reach",
        "--episodes",
        "1",
        "--max-steps",
        "17",
        "--video",
        video.to_str().unwrap(),
        "--video-size",
        "64x48",
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]));
    let file = std::io::BufReader::new(std::fs::File::open(&video).unwrap());
    let frames = image::codecs::gif::GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 17);
    assert_eq!(frames[0].buffer().dimensions(), (64, 48));
}

#[test]
fn video_frames_match_the_observation_renderer() {
    // The same camera and size through --camera and --video: the GIF's first
    // frame is the first observation (up to GIF's palette).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let video = dir.path().join("v.gif");
    ok(&genreward(&[
        "rollout",
        "--task",
        "pick-place",
        "--episodes",
        "1",
        "--max-steps",
        "3",
        "--camera",
        "corner3",
        "--size",
        "64x64",
        "--video",
        video.to_str().unwrap(),
        "--video-camera",
        "corner3",
        "--video-size",
        "64x64",
        "--out",
        out.to_str().unwrap(),
    ]));
    use image::AnimationDecoder;
    let (_, obs) = read_npy_u8(&out.join("obs_000.npy")).unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(&video).unwrap());
    let frames = image::codecs::gif::GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    let rgb: Vec<u8> = frames[0]
        .buffer()
        .pixels()
        .flat_map(|p| [p.0[0], p.0[1], p.0[2]])
        .collect();
    assert!(diff(&rgb, &obs[..64 * 64 * 3]) < 6.0);
}

#[test]
fn bench_reports_observations_per_second() {
    let o = genreward(&[
        "bench",
        "--task",
        "pick-place",
        "--steps",
        "64",
        "--envs",
        "16",
        "--camera",
        "corner2",
        "--size",
        "64x64",
    ]);
    ok(&o);
    let j = last_json(&o);
    assert!(j["obs_per_sec"].as_f64().unwrap() > 0.0);
    assert!(j["steps_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(j["camera"]["camera"], "corner2");
    assert!(j["adapter"].as_str().unwrap().len() > 3);
}

#[test]
fn ctrl_c_keeps_a_playable_video_and_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let video = dir.path().join("run.mp4");
    let child = Command::new(env!("CARGO_BIN_EXE_genreward"))
        .args([
            "rollout",
            "--task",
            "push",
            "--episodes",
            "100",
            "--video",
            video.to_str().unwrap(),
            "--video-size",
            "64x64",
            "--camera",
            "corner",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until steps are being written, then interrupt.
    let steps = out.join("steps.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&steps).map_or(0, |m| m.len()) < 200_000 {
        assert!(t0.elapsed().as_secs() < 120, "rollout wrote nothing");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let lines = std::fs::read_to_string(&steps).unwrap().lines().count();
    assert!(lines > 0 && lines < 100 * 500);
    // One video frame and one observation per recorded step.
    assert_eq!(ffprobe(&video), format!("h264,64,64,{lines}"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["interrupted"], true);
    let mut obs_frames = 0;
    for f in manifest["files"].as_array().unwrap() {
        let name = f.as_str().unwrap();
        if name.ends_with(".npy") {
            obs_frames += read_npy_u8(&out.join(name)).unwrap().0[0];
        }
    }
    assert_eq!(obs_frames, lines);
}

/// The `front` camera (ours, for pixel agents) shows reach's goal marker on every seed, where
/// Meta-World's corner2 gives it a pixel or two at 64x64, or none.
#[test]
fn the_front_camera_shows_the_reach_goal() {
    let dir = tempfile::tempdir().unwrap();
    let green = |camera: &str| -> Vec<usize> {
        let out = dir.path().join(camera);
        ok(&genreward(&[
            "rollout",
            "--task",
            "reach",
            "--policy",
            "zero",
            "--episodes",
            "10",
            "--seed",
            "500",
            "--max-steps",
            "1",
            "--camera",
            camera,
            "--out",
            out.to_str().unwrap(),
        ]));
        (0..10)
            .map(|e| {
                let (shape, px) = read_npy_u8(&out.join(format!("obs_{e:03}.npy"))).unwrap();
                assert_eq!(shape, vec![1, 64, 64, 3]);
                px.chunks(3)
                    .filter(|p| p[1] > 120 && p[0] < 90 && p[2] < 120)
                    .count()
            })
            .collect()
    };
    let front = green("front");
    let corner2 = green("corner2");
    assert!(front.iter().all(|&n| n >= 8), "front: {front:?}");
    let total = |v: &[usize]| v.iter().sum::<usize>();
    assert!(
        total(&front) >= 5 * total(&corner2).max(1),
        "front {front:?} vs corner2 {corner2:?}"
    );
}
