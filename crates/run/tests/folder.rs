//! A run folder as a crash leaves it: the reader keeps every whole step line, drops a cut last
//! one, and names the line of any other damage.

use genreward_run::{read_steps, record_rollout, RolloutSpec, RunDir, RunError};
use genreward_sim::{PhysicsConfig, Policy, PolicyKind, RolloutConfig, TaskKind};
use indicatif::ProgressBar;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Records two 5-step expert episodes of reach (no camera: nothing to render).
fn run(dir: &std::path::Path) {
    let config = RolloutConfig {
        task: TaskKind::Reach,
        policy: PolicyKind::Expert,
        episodes: 2,
        seed: 3,
        max_steps: 5,
        sparse_every: None,
        noise: 0.0,
        physics: PhysicsConfig::default(),
    };
    let mut actor = Policy::for_run(PolicyKind::Expert, TaskKind::Reach, 0.0, 3);
    let spec = RolloutSpec {
        config,
        out: dir.to_path_buf(),
        observations: None,
        actor_view: None,
        video: None,
        goal: None,
        agent: None,
        command: vec!["test".into()],
    };
    let stop = Arc::new(AtomicBool::new(false));
    let out = record_rollout(spec, &mut actor, ProgressBar::hidden(), stop).unwrap();
    assert!(!out.manifest.interrupted);
    assert_eq!(out.manifest.episodes.len(), 2);
}

#[test]
fn a_cut_last_line_is_dropped_and_other_damage_is_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path());
    let path = dir.path().join("steps.jsonl");
    let whole = read_steps(&path).unwrap();
    assert_eq!(whole.len(), 10);
    assert_eq!((whole[9].episode, whole[9].step), (1, 4));
    let text = std::fs::read(&path).unwrap();

    // A crash mid-write: the last line is cut; the nine whole ones stay readable.
    std::fs::write(&path, &text[..text.len() - 40]).unwrap();
    let cut = read_steps(&path).unwrap();
    assert_eq!(cut, whole[..9].to_vec());
    let folder = RunDir::open(dir.path()).unwrap();
    assert_eq!(folder.steps().unwrap().len(), 9);

    // A damaged line before the end is not a crash's doing: an error naming it.
    let mut bad = text.clone();
    let second = bad.iter().position(|&b| b == b'\n').unwrap() + 1;
    bad[second] = b'#';
    std::fs::write(&path, &bad).unwrap();
    match read_steps(&path) {
        Err(RunError::BadLine { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_folder_without_a_manifest_is_not_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let e = RunDir::open(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("is not a run folder") && !e.contains('\n'),
        "{e}"
    );
}
