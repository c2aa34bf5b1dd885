//! The command line as a user meets it: files written, JSON summaries, and
//! one-line errors with a non-zero exit for bad input.

mod common;
use common::*;

use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/metaworld")
}

fn read_lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn rollout_writes_steps_manifest_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pp");
    let o = genreward(&[
        "rollout",
        "--task",
        "pick-place-v3",
        "--policy",
        "expert",
        "--episodes",
        "2",
        "--seed",
        "0",
        "--max-steps",
        "120",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = last_json(&o);
    assert_eq!(s["task"], "pick-place");
    assert_eq!(s["episodes"], 2);
    assert_eq!(s["success_rate"], 1.0);
    assert!(s["mean_return"].as_f64().unwrap() > 0.0);
    let mean_steps = s["mean_steps_to_success"].as_f64().unwrap();
    assert!((20.0..120.0).contains(&mean_steps));

    let lines = read_lines(&out.join("steps.jsonl"));
    assert_eq!(lines.len(), 240);
    let l = &lines[130];
    assert_eq!(l["episode"], 1);
    assert_eq!(l["step"], 10);
    assert_eq!(l["obs"].as_array().unwrap().len(), 39);
    assert_eq!(l["action"].as_array().unwrap().len(), 4);
    for key in [
        "reward",
        "near_object",
        "grasp_success",
        "grasp_reward",
        "in_place_reward",
        "obj_to_target",
        "success",
    ] {
        assert!(l.get(key).is_some(), "missing {key}");
    }
    // Episode returns in the summary agree with the per-step rewards.
    let ret0: f64 = lines[..120]
        .iter()
        .map(|l| l["reward"].as_f64().unwrap())
        .sum();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["task"], "pick-place");
    assert_eq!(manifest["config"]["seed"], 0);
    assert_eq!(manifest["config"]["max_steps"], 120);
    assert!(manifest["genreward_version"].is_string());
    let m0 = manifest["episodes"][0]["episode_return"].as_f64().unwrap();
    assert!((m0 - ret0).abs() < 1e-9 * ret0.abs().max(1.0));
}

#[test]
fn same_seed_and_noise_write_identical_steps() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let o = genreward(&[
            "rollout",
            "--task",
            "push",
            "--episodes",
            "2",
            "--seed",
            "3",
            "--noise",
            "0.1",
            "--max-steps",
            "100",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success());
        std::fs::read(out.join("steps.jsonl")).unwrap()
    };
    let a = run("a");
    assert_eq!(a, run("b"));
    // And the noise does something: a different seed gives different actions.
    let out = dir.path().join("c");
    genreward(&[
        "rollout",
        "--task",
        "push",
        "--episodes",
        "2",
        "--seed",
        "4",
        "--noise",
        "0.1",
        "--max-steps",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(a, std::fs::read(out.join("steps.jsonl")).unwrap());
}

#[test]
fn sparse_rewards_are_paid_every_k_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let o = genreward(&[
        "rollout",
        "--task",
        "reach",
        "--max-steps",
        "128",
        "--sparse-every",
        "64",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    for l in read_lines(&out.join("steps.jsonl")) {
        let step = l["step"].as_u64().unwrap();
        let (paid, dense) = (
            l["reward"].as_f64().unwrap(),
            l["dense_reward"].as_f64().unwrap(),
        );
        if step == 63 || step == 127 {
            assert_eq!(paid, dense);
            assert!(dense > 0.0);
        } else {
            assert_eq!(paid, 0.0, "step {step}");
        }
    }
}

#[test]
fn tasks_lists_the_seven_tasks() {
    let o = genreward(&["tasks"]);
    assert!(o.status.success());
    let s = String::from_utf8(o.stdout).unwrap();
    // One line per task, then its goal text indented under it.
    let names: Vec<&str> = s
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        s.lines()
            .filter(|l| l.contains("goal text: \"a robot"))
            .count(),
        7
    );
    assert_eq!(
        names,
        [
            "reach",
            "push",
            "pick-place",
            "pick-out-of-hole",
            "bin-picking",
            "shelf-place",
            "disassemble"
        ]
    );
}

#[test]
fn bench_prints_steps_per_second() {
    for envs in ["1", "3"] {
        let o = genreward(&[
            "bench", "--task", "push", "--policy", "random", "--steps", "300", "--envs", envs,
        ]);
        assert!(o.status.success());
        let j = last_json(&o);
        assert!(j["steps_per_sec"].as_f64().unwrap() > 0.0);
        assert_eq!(j["envs"].as_u64().unwrap().to_string(), envs);
    }
}

#[test]
fn parity_passes_on_the_shared_fixtures() {
    let o = genreward(&["parity", fixtures().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8(o.stdout).unwrap();
    assert_eq!(s.matches("PASS").count(), 8, "{s}");
}

#[test]
fn parity_fails_when_a_recorded_reward_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("reach-v3.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .take(20)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let r = lines[5]["reward"].as_f64().unwrap();
    lines[5]["reward"] = serde_json::json!(r + 1e-5);
    let body: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    std::fs::write(dir.path().join("reach-v3.jsonl"), body).unwrap();
    let o = genreward(&["parity", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL"));
}

/// Bad input: one line on stderr starting with "error:", exit code 1, no panic.
#[test]
fn bad_input_gives_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let out = out.to_str().unwrap();
    let bad_fixture = dir.path().join("bad");
    std::fs::create_dir(&bad_fixture).unwrap();
    std::fs::write(
        bad_fixture.join("push-v3.jsonl"),
        "{\"task\": \"push-v3\", \"seed\": 0,\n",
    )
    .unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let unwritable = blocker.join("sub");
    let bad_video = unwritable.join("v.mp4");
    let bad_shot = unwritable.join("s.png");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["rollout", "--task", "fly", "--out", out],
            "unknown task",
        ),
        (
            vec![
                "rollout", "--task", "push", "--policy", "smart", "--out", out,
            ],
            "unknown policy",
        ),
        (
            vec![
                "rollout",
                "--task",
                "push",
                "--episodes",
                "-1",
                "--out",
                out,
            ],
            "-1",
        ),
        (
            vec!["rollout", "--task", "push", "--episodes", "0", "--out", out],
            "episodes",
        ),
        (
            vec![
                "rollout",
                "--task",
                "push",
                "--episodes",
                "two",
                "--out",
                out,
            ],
            "two",
        ),
        (
            vec!["rollout", "--task", "push", "--noise", "NaN", "--out", out],
            "noise",
        ),
        (
            vec!["rollout", "--task", "push", "--noise", "-0.5", "--out", out],
            "noise",
        ),
        (
            vec![
                "rollout",
                "--task",
                "push",
                "--max-steps",
                "10",
                "--out",
                unwritable.to_str().unwrap(),
            ],
            "cannot",
        ),
        (
            vec![
                "rollout", "--task", "push", "--camera", "corner9", "--out", out,
            ],
            "unknown camera",
        ),
        (
            vec![
                "rollout", "--task", "push", "--camera", "corner", "--size", "0x64", "--out", out,
            ],
            "size",
        ),
        (
            vec![
                "rollout",
                "--task",
                "push",
                "--camera",
                "corner",
                "--size",
                "100000x100000",
                "--out",
                out,
            ],
            "size",
        ),
        (
            vec![
                "rollout", "--task", "push", "--video", "run.avi", "--out", out,
            ],
            ".avi",
        ),
        (
            vec![
                "rollout",
                "--task",
                "push",
                "--video",
                bad_video.to_str().unwrap(),
                "--max-steps",
                "5",
                "--out",
                out,
            ],
            "v.mp4",
        ),
        (
            vec![
                "rollout",
                "--task",
                "push",
                "--video",
                "v.gif",
                "--video-camera",
                "nadir",
                "--out",
                out,
            ],
            "unknown camera",
        ),
        (
            vec![
                "bench", "--task", "push", "--camera", "corner2", "--size", "64y64",
            ],
            "size",
        ),
        (vec!["view", "--task", "fly"], "unknown task"),
        (vec!["view", "--record", "clip.avi"], ".avi"),
        (
            vec!["view", "--record", "clip.mp4", "--record-source", "screen"],
            "record-source",
        ),
        (vec!["view", "--policy", "psychic"], "unknown policy"),
        (vec!["view", "--camera", "fisheye"], "unknown camera"),
        (
            vec!["view", "--frames", "3", "--screenshot", "shot.bmp"],
            ".png",
        ),
        (
            vec![
                "view",
                "--frames",
                "3",
                "--screenshot",
                bad_shot.to_str().unwrap(),
            ],
            "does not exist",
        ),
        (vec!["bench", "--task", "push", "--steps", "abc"], "abc"),
        (vec!["bench", "--task", "nope"], "unknown task"),
        (vec!["parity", "/nonexistent/fixtures"], "nonexistent"),
        (vec!["parity", empty.to_str().unwrap()], "jsonl"),
        (
            vec!["parity", bad_fixture.to_str().unwrap()],
            "push-v3.jsonl:1",
        ),
    ];
    for (args, needle) in cases {
        let o = genreward(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: not one line: {err}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {err}");
        assert!(
            lines[0].to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: {err} lacks {needle}"
        );
    }
}
