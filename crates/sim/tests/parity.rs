//! Parity of our rewards and scripted experts with the Meta-World v3 reference
//! fixtures (`shared/fixtures/metaworld`), plus error handling of the fixture reader
//! and hand-computed checks of the reward helpers.

use genreward_sim::env_reward::{hamacher, tolerance};
use genreward_sim::fixture::{parity_dir, read_fixture_file, FixtureError, ParityReport};
use genreward_sim::TaskKind;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The fixture directory, beside the repository checkout.
fn fixture_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/metaworld");
    assert!(
        dir.is_dir(),
        "Meta-World fixtures not found at {} (expected the repository checkout to sit beside \
         shared/, with shared/fixtures/metaworld/*.jsonl)",
        dir.display()
    );
    dir
}

/// A fresh, empty temporary directory unique to this process and call.
fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "genreward-parity-{tag}-{}-{n}-{nanos}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Removes the directory when dropped (also on panic).
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The first `n` lines of a fixture file.
fn head(file: &str, n: usize) -> Vec<String> {
    let text = fs::read_to_string(fixture_dir().join(file)).expect("read fixture");
    text.lines().take(n).map(str::to_string).collect()
}

#[test]
fn fixtures_match_reference() {
    let report = parity_dir(&fixture_dir()).expect("fixtures readable");
    println!("{report}");
    assert_eq!(report.tolerance, ParityReport::TOLERANCE);
    assert!(report.passed(), "parity failed:\n{report}");
    assert_eq!(report.tasks.len(), 7, "one entry per task:\n{report}");
    for task in TaskKind::ALL {
        let t = report
            .task(task)
            .unwrap_or_else(|| panic!("no fixture lines for {task}"));
        assert!(t.lines > 0);
        assert_eq!(t.episodes, 10, "{task}: episodes");
        // The tolerance is 1e-6; a faithful float64 port does far better.
        assert!(
            t.max_err_reward <= 1e-9,
            "{task}: max reward error {:e}",
            t.max_err_reward
        );
        for (name, e) in [
            ("near_object", t.max_err_near_object),
            ("grasp_reward", t.max_err_grasp_reward),
            ("in_place_reward", t.max_err_in_place_reward),
            ("obj_to_target", t.max_err_obj_to_target),
            ("unscaled_reward", t.max_err_unscaled_reward),
        ] {
            assert!(e <= 1e-9, "{task}: max {name} error {e:e}");
        }
        assert_eq!(
            t.max_err_expert_action, 0.0,
            "{task}: expert actions bit-exact"
        );
    }
}

#[test]
fn reader_parses_every_field() {
    let lines = read_fixture_file(&fixture_dir().join("disassemble-v3.jsonl")).expect("parse");
    assert_eq!(lines.len(), 1474);
    let first = &lines[0];
    assert_eq!(first.task, TaskKind::Disassemble);
    assert_eq!(first.step, 0);
    assert!(first.reset.is_some());
    assert!(first.wrench_center.is_some());
    assert!(lines[1].reset.is_none());
    // Within an episode the recorded next_obs is the next line's obs (bit-exact).
    assert_eq!(lines[0].next_obs, lines[1].obs);
    let input = first.reward_input();
    assert_eq!(input.obs, first.next_obs);
    assert_eq!(input.action, first.action);
}

#[test]
fn missing_and_empty_dirs_are_errors() {
    let missing = std::env::temp_dir().join("genreward-parity-definitely-missing-dir");
    let err = parity_dir(&missing).unwrap_err();
    assert!(matches!(err, FixtureError::MissingDir { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("genreward-parity-definitely-missing-dir"),
        "{err}"
    );

    let dir = temp_dir("empty");
    let _c = Cleanup(dir.clone());
    let err = parity_dir(&dir).unwrap_err();
    assert!(matches!(err, FixtureError::NoFixtures { .. }), "{err}");
    assert!(err.to_string().contains(&*dir.to_string_lossy()), "{err}");
    // A non-jsonl file does not count.
    fs::write(dir.join("notes.txt"), "hello").unwrap();
    assert!(matches!(
        parity_dir(&dir),
        Err(FixtureError::NoFixtures { .. })
    ));
}

#[test]
fn truncated_line_names_file_and_line() {
    let dir = temp_dir("truncated");
    let _c = Cleanup(dir.clone());
    let mut lines = head("reach-v3.jsonl", 5);
    let l = &lines[2];
    lines[2] = l[..l.len() / 2].to_string(); // truncated record on line 3
    fs::write(dir.join("reach-v3.jsonl"), lines.join("\n") + "\n").unwrap();
    let err = parity_dir(&dir).unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(
        matches!(err, FixtureError::Malformed { line: 3, .. }),
        "{msg}"
    );
    assert!(msg.contains("reach-v3.jsonl:3"), "{msg}");
    assert!(!msg.contains('\n'), "one-line message: {msg}");
}

#[test]
fn garbled_line_names_file_and_line() {
    let dir = temp_dir("garbled");
    let _c = Cleanup(dir.clone());
    let mut lines = head("push-v3.jsonl", 4);
    lines[3] = lines[3].replacen("\"obs\":[", "\"obs\":[1.0,", 1); // 40 numbers
    fs::write(dir.join("push-v3.jsonl"), lines.join("\n")).unwrap();
    let err = read_fixture_file(&dir.join("push-v3.jsonl")).unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(
        matches!(err, FixtureError::Malformed { line: 4, .. }),
        "{msg}"
    );
    assert!(msg.contains("push-v3.jsonl:4"), "{msg}");

    lines[3] = "{not json".to_string();
    fs::write(dir.join("push-v3.jsonl"), lines.join("\n")).unwrap();
    let msg = parity_dir(&dir).unwrap_err().to_string();
    assert!(msg.contains("push-v3.jsonl:4"), "{msg}");
}

#[test]
fn unknown_task_names_file_and_line() {
    let dir = temp_dir("unknown-task");
    let _c = Cleanup(dir.clone());
    let mut lines = head("reach-v3.jsonl", 3);
    lines[1] = lines[1].replacen("\"task\":\"reach-v3\"", "\"task\":\"juggle-v3\"", 1);
    fs::write(dir.join("a.jsonl"), lines.join("\n")).unwrap();
    let err = parity_dir(&dir).unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(
        matches!(err, FixtureError::UnknownTask { line: 2, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("a.jsonl:2") && msg.contains("juggle-v3"),
        "{msg}"
    );
}

#[test]
fn altered_reward_fails_parity() {
    let dir = temp_dir("altered");
    let _c = Cleanup(dir.clone());
    let mut lines = head("pick-place-v3.jsonl", 20);
    // Untouched copy passes.
    fs::write(dir.join("pick-place-v3.jsonl"), lines.join("\n")).unwrap();
    let report = parity_dir(&dir).unwrap();
    assert!(report.passed(), "{report}");

    let mut v: serde_json::Value = serde_json::from_str(&lines[7]).unwrap();
    let r = v["reward"].as_f64().unwrap();
    v["reward"] = serde_json::json!(r + 1e-3);
    lines[7] = serde_json::to_string(&v).unwrap();
    fs::write(dir.join("pick-place-v3.jsonl"), lines.join("\n")).unwrap();
    let report = parity_dir(&dir).unwrap();
    println!("{report}");
    assert!(!report.passed());
    let t = report.task(TaskKind::PickPlace).unwrap();
    assert!(
        (t.max_err_reward - 1e-3).abs() < 1e-9,
        "{}",
        t.max_err_reward
    );
    assert!(t
        .first_failure
        .as_deref()
        .unwrap()
        .contains("pick-place-v3.jsonl:8"));
    assert!(report.to_string().contains("FAIL"));
}

#[test]
fn flipped_flag_fails_parity() {
    let dir = temp_dir("flag");
    let _c = Cleanup(dir.clone());
    let mut lines = head("push-v3.jsonl", 10);
    let mut v: serde_json::Value = serde_json::from_str(&lines[5]).unwrap();
    let s = v["info"]["success"].as_f64().unwrap();
    v["info"]["success"] = serde_json::json!(1.0 - s);
    lines[5] = serde_json::to_string(&v).unwrap();
    fs::write(dir.join("push-v3.jsonl"), lines.join("\n")).unwrap();
    let report = parity_dir(&dir).unwrap();
    assert!(!report.passed());
    assert_eq!(report.task(TaskKind::Push).unwrap().success_mismatches, 1);
}

// ---------------------------------------------------------------------------------
// Helpers against hand-computed values.

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-15
}

#[test]
fn tolerance_long_tail_values() {
    // Inside the bounds (edges included): 1.
    assert_eq!(tolerance(0.0, 0.0, 0.05, 0.3), 1.0);
    assert_eq!(tolerance(0.05, 0.0, 0.05, 0.3), 1.0);
    assert_eq!(tolerance(0.03, 0.015, 0.05, 0.0), 1.0);
    // One margin outside: 1 / (3² + 1) = 0.1 (either side).
    assert!(close(tolerance(0.35, 0.0, 0.05, 0.3), 0.1));
    assert!(close(tolerance(0.015 - 0.25, 0.015, 0.05, 0.25), 0.1));
    // Half a margin outside: 1 / (1.5² + 1) = 1 / 3.25.
    assert!(close(tolerance(0.2, 0.0, 0.05, 0.3), 1.0 / 3.25));
    // Two margins below: 1 / (6² + 1) = 1/37.
    assert!(close(tolerance(-0.2, 0.0, 0.05, 0.1), 1.0 / 37.0));
    // Zero margin: a step.
    assert_eq!(tolerance(0.06, 0.0, 0.05, 0.0), 0.0);
    // Never panics; NaN propagates with a margin.
    assert!(tolerance(f64::NAN, 0.0, 0.05, 0.1).is_nan());
    assert!(tolerance(0.5, 0.0, 0.05, -0.1).is_finite());
    assert!(tolerance(0.5, 0.1, 0.05, 0.1).is_finite());
}

#[test]
fn hamacher_values() {
    assert_eq!(hamacher(0.0, 0.0), 0.0);
    assert_eq!(hamacher(1.0, 1.0), 1.0);
    assert_eq!(hamacher(1.0, 0.3), 0.3);
    assert_eq!(hamacher(0.0, 0.7), 0.0);
    // 0.5·0.5 / (0.5 + 0.5 − 0.25) = 1/3.
    assert!(close(hamacher(0.5, 0.5), 1.0 / 3.0));
    // 0.2·0.8 / (0.2 + 0.8 − 0.16) = 0.16 / 0.84.
    assert!(close(hamacher(0.2, 0.8), 0.16 / 0.84));
    // Symmetric.
    assert_eq!(hamacher(0.3, 0.9), hamacher(0.9, 0.3));
    // Out-of-range or NaN inputs do not panic.
    assert!(hamacher(f64::NAN, 0.5).is_nan());
    assert!(hamacher(-1.0, 2.0).is_finite());
}

#[test]
fn nut_origin_reconstruction_matches_recorded_wrench_center() {
    use genreward_sim::env_reward::{evaluate, nut_origin_from_obs};
    let lines = read_fixture_file(&fixture_dir().join("disassemble-v3.jsonl")).expect("parse");
    let mut max_pos = 0.0f64;
    let mut max_rew = 0.0f64;
    for l in &lines {
        let c = nut_origin_from_obs(&l.next_obs);
        let w = l.wrench_center.expect("disassemble records wrench_center");
        for k in 0..3 {
            max_pos = max_pos.max((c[k] - w[k]).abs());
        }
        let mut line = l.clone();
        line.wrench_center = None; // fall back to the reconstruction
        let info = evaluate(TaskKind::Disassemble, &line.reward_input());
        max_rew = max_rew.max((info.reward - l.reward).abs());
    }
    println!("nut origin from obs: max pos err {max_pos:e}, max reward err {max_rew:e}");
    assert!(max_pos < 1e-12, "{max_pos:e}");
    assert!(max_rew < 1e-9, "{max_rew:e}");
}

#[test]
fn pick_place_init_pads_are_live_pads() {
    let lines = read_fixture_file(&fixture_dir().join("pick-place-v3.jsonl")).expect("parse");
    for l in &lines {
        assert_eq!(l.init_left_pad, Some(l.left_pad));
        assert_eq!(l.init_right_pad, Some(l.right_pad));
    }
}

#[test]
fn shelf_place_in_place_adjustments() {
    use genreward_sim::env_reward::{evaluate, RewardInput};
    // Not exercised by the expert fixtures: a block below the shelf board (z < 0.24)
    // behind the goal (y > T_y) loses its in-place term; in front of it, the term is
    // reduced by H(y_s, z_s).
    let target = [0.0, 0.85, 0.3];
    let obj_init = [0.0, 0.55, 0.02];
    let mut obs = [0.0; 39];
    obs[0..3].copy_from_slice(&[0.3, 0.5, 0.3]);
    obs[3] = 1.0;
    obs[36..39].copy_from_slice(&target);
    let base = RewardInput {
        obs,
        action: [0.0; 4],
        tcp_center: [0.3, 0.5, 0.255],
        left_pad: [0.3, 0.55, 0.3],
        right_pad: [0.3, 0.45, 0.3],
        init_tcp: [0.0, 0.6, 0.15],
        obj_init_pos: obj_init,
        target_pos: target,
        hand_init_pos: [0.0, 0.6, 0.2],
        touching_main_object: false,
        target_to_obj_init: 0.0,
        wrench_center: [0.0; 3],
    };
    let margin = ((obj_init[1] - target[1]).powi(2) + (obj_init[2] - target[2]).powi(2)).sqrt();

    // Behind the shelf's goal point, low: in_place = 0.
    let mut behind = base;
    behind.obs[4..7].copy_from_slice(&[0.01, 0.86, 0.1]);
    assert_eq!(evaluate(TaskKind::ShelfPlace, &behind).in_place_reward, 0.0);

    // In front, low: in_place = clip(ip − H(y_s, z_s), 0, 1).
    let mut front = base;
    let obj = [0.01, 0.85 - 0.075, 0.12];
    front.obs[4..7].copy_from_slice(&obj);
    let d = ((obj[0] - target[0]).powi(2)
        + (obj[1] - target[1]).powi(2)
        + (obj[2] - target[2]).powi(2))
    .sqrt();
    let ip = tolerance(d, 0.0, 0.05, margin);
    let y_s = (obj[1] - (target[1] - 0.15)) / 0.15;
    let z_s = (0.24 - obj[2]) / 0.24;
    let expect = (ip - hamacher(y_s, z_s)).clamp(0.0, 1.0);
    let got = evaluate(TaskKind::ShelfPlace, &front).in_place_reward;
    assert!((got - expect).abs() < 1e-12, "got {got}, expected {expect}");

    // Above the board height: no adjustment.
    let mut high = base;
    high.obs[4..7].copy_from_slice(&[0.01, 0.86, 0.25]);
    let info = evaluate(TaskKind::ShelfPlace, &high);
    assert!(info.in_place_reward > 0.0);
}
