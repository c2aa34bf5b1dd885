//! The simulation's unit tests: driving, the timeline, replays of run folders, goal videos.

use super::driver::keyboard_action;
use super::{Driver, Sim};
use crate::ViewOptions;
use bevy::prelude::*;
use genreward_agent::AgentPolicy;
use genreward_render::{CameraName, Frame};
use genreward_sim::{PhysicsConfig, Policy, PolicyKind, TaskKind};
use std::path::Path;

pub(crate) fn options(driver: Driver) -> ViewOptions {
    ViewOptions {
        task: TaskKind::Reach,
        driver,
        seed: 0,
        obs_camera: CameraName::Corner2,
        obs_size: (32, 32),
        frames: None,
        screenshot: None,
        save_agent_view: None,
        record: None,
        run: None,
        drops: Vec::new(),
        window: (1280, 800),
        agent: None,
    }
}

/// A trained agent (here a tiny untrained one, saved as `train dreamer` saves one) drives
/// the app from its own camera's 64x64 frames; every step keeps what it imagined (its
/// model state decoded and the frame it expects 8 steps on); it acts on its own camera's
/// frames when the agent view shows another.
#[test]
fn an_agent_drives_and_its_imagination_follows_each_step() {
    use genreward_models::dreamer::{AgentConfig, DreamerMeta, Learner};
    type AB = burn::backend::Autodiff<burn::backend::Flex>;
    let dir = tempfile::tempdir().unwrap();
    let cfg = AgentConfig::sized(16, 16, 4, 2, 16, genreward_sim::ACT_DIM, 0).with_latents(4, 4);
    Learner::<AB>::new(cfg, &Default::default())
        .save(
            dir.path(),
            &DreamerMeta {
                camera: Some("corner2".into()),
                task: Some("reach".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let agent = AgentPolicy::load(dir.path()).unwrap();
    let mut opts = options(Driver::Policy(PolicyKind::Agent));
    opts.obs_size = (64, 64);
    opts.agent = Some(agent);
    let mut sim = Sim::new(&opts).unwrap();
    assert!(sim.episode.message.is_none(), "{:?}", sim.episode.message);
    for _ in 0..5 {
        // The keyboard's action is ignored: the agent drives.
        sim.parts().step([1.0; 4]);
    }
    assert_eq!(sim.episode.history.len(), 5);
    assert_eq!(sim.episode.imagined.len(), 5);
    for (t, im) in sim.episode.imagined.iter().enumerate() {
        let (now, ahead) = im.as_ref().expect("the agent imagined");
        assert_eq!(
            (now.len(), ahead.len()),
            (64 * 64 * 3, 64 * 64 * 3),
            "step {t}"
        );
        assert_ne!(now, ahead, "step {t}: imagining 8 steps on changed nothing");
    }
    for r in &sim.episode.history {
        assert!(r.action.iter().all(|a| a.abs() <= 1.0) && r.action != [1.0; 4]);
    }
    // Another observation camera (the one a goal is scored on): the agent goes on acting
    // on its own camera's frames, rendered besides: those of corner2 at 64x64.
    sim.parts().set_obs_camera(CameraName::Corner3);
    assert_eq!(sim.view.camera, CameraName::Corner3);
    sim.parts().step([0.0; 4]);
    assert_eq!(sim.episode.history.len(), 6);
    let own = sim.view.actor_frame.clone().expect("the agent's own frame");
    let shown = sim.view.frame.clone().expect("the observation frame");
    assert_eq!((own.width, own.height), (64, 64));
    assert_ne!(own.rgb, shown.rgb, "corner3's frame is corner2's");
    sim.parts().set_obs_camera(CameraName::Corner2);
    assert!(sim.view.actor_frame.is_none(), "one camera, one frame");
    assert_eq!(sim.view.frame.as_ref().unwrap().rgb, own.rgb);
    // Without an agent loaded, picking the agent policy says so instead of acting.
    let mut opts = options(Driver::Policy(PolicyKind::Agent));
    opts.obs_size = (64, 64);
    let sim = Sim::new(&opts).unwrap();
    assert!(sim
        .episode
        .message
        .as_deref()
        .unwrap_or("")
        .contains("--policy agent:DIR"));
}

#[test]
fn policies_and_keyboard_parse() {
    assert_eq!("keyboard".parse::<Driver>().unwrap(), Driver::Keyboard);
    assert_eq!(
        "expert".parse::<Driver>().unwrap(),
        Driver::Policy(PolicyKind::Expert)
    );
    let e = "psychic".parse::<Driver>().unwrap_err().to_string();
    assert!(
        e.contains("unknown policy") && e.contains("keyboard"),
        "{e}"
    );
}

#[test]
fn keys_map_to_hand_motion_and_space_toggles_the_gripper() {
    let mut sim = Sim::new(&options(Driver::Keyboard)).unwrap();
    let mut keys = ButtonInput::<KeyCode>::default();
    keys.press(KeyCode::ArrowUp);
    keys.press(KeyCode::KeyQ);
    assert_eq!(
        keyboard_action(&keys, &mut sim.episode),
        [0.0, 1.0, -1.0, -1.0]
    );
    keys.press(KeyCode::Space);
    assert_eq!(keyboard_action(&keys, &mut sim.episode)[3], 1.0);
    // Next frame: everything released, then D held; the gripper stays closed.
    keys.release_all();
    keys.clear();
    keys.press(KeyCode::KeyD);
    assert_eq!(
        keyboard_action(&keys, &mut sim.episode),
        [1.0, 0.0, 0.0, 1.0]
    );
}

/// The timeline shows any earlier state exactly as it was: the scene and the agent view
/// the step's action was chosen from, and that step's record; a new step goes live again.
#[test]
fn timeline_shows_earlier_states_as_they_were() {
    let mut sim = Sim::new(&options(Driver::Policy(PolicyKind::Expert))).unwrap();
    let mut seen = Vec::new();
    for _ in 0..12 {
        seen.push((sim.episode.env.world().shapes(), sim.view.frame.clone()));
        sim.parts().step([0.0; 4]);
    }
    assert_eq!(sim.shown().step(), 12);
    for t in [0, 5, 11] {
        sim.timeline.cursor = Some(t);
        assert_eq!(sim.shown().step(), t);
        assert_eq!(sim.shown().shapes(), seen[t].0, "scene at step {t}");
        assert_eq!(
            sim.shown().frame(),
            seen[t].1.as_ref(),
            "agent view at step {t}"
        );
        assert_eq!(sim.shown().record().unwrap().step, t);
    }
    assert_ne!(
        sim.shown().shapes(),
        sim.episode.env.world().shapes(),
        "the hand moved since"
    );
    sim.parts().step([0.0; 4]);
    assert_eq!(sim.timeline.cursor, None);
    assert_eq!(sim.shown().step(), 13);
    assert_eq!(sim.shown().shapes(), sim.episode.env.world().shapes());
}

#[test]
fn driving_forward_moves_the_hand_forward_and_updates_the_agent_view() {
    let mut sim = Sim::new(&options(Driver::Keyboard)).unwrap();
    let y0 = sim.episode.env.world().hand_pos()[1];
    let first = sim.view.frame.clone();
    for _ in 0..20 {
        sim.parts().step([0.0, 1.0, 0.0, -1.0]);
    }
    let y1 = sim.episode.env.world().hand_pos()[1];
    // 20 steps of 0.01 m toward +y, less the weld's lag.
    assert!(y1 - y0 > 0.15 && y1 - y0 < 0.2 + 1e-9, "moved {}", y1 - y0);
    assert_eq!(sim.episode.history.len(), 20);
    assert_ne!(sim.view.frame, first, "the agent view did not change");
}

/// Records `episodes` episodes of `task` with the rollout's own recorder (observations
/// from corner2 at 64x64) into a run folder.
fn record_run(dir: &Path, task: TaskKind, policy: PolicyKind, episodes: usize, steps: usize) {
    use genreward_render::ViewSpec;
    use genreward_sim::rollout::run_episode;
    use genreward_sim::{RolloutConfig, RolloutSummary};
    let obs = ViewSpec {
        camera: CameraName::Corner2,
        width: 64,
        height: 64,
    };
    let cfg = RolloutConfig {
        task,
        policy,
        episodes,
        seed: 40,
        max_steps: steps,
        sparse_every: None,
        noise: 0.0,
        physics: PhysicsConfig::default(),
    };
    let bar = indicatif::ProgressBar::hidden();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut rec = genreward_run::Recorder::new(dir, Some(obs), None, bar, stop).unwrap();
    let mut actor = Policy::for_run(policy, task, 0.0, cfg.seed);
    let mut eps = Vec::new();
    for i in 0..episodes {
        rec.begin_episode(i).unwrap();
        eps.push(run_episode(&cfg, i, &mut actor, &mut rec).unwrap());
        rec.end_episode().unwrap();
    }
    let files = rec.finish().unwrap();
    let manifest = genreward_run::RunManifest {
        genreward_version: "test".into(),
        command: vec![],
        task: task.name().into(),
        metaworld_name: task.v3_name(),
        config: cfg.clone(),
        observations: Some(obs),
        video: None,
        goal: None,
        agent: None,
        files,
        episode_goals: Vec::new(),
        interrupted: false,
        episodes: eps.clone(),
        summary: RolloutSummary::new(&cfg, &eps),
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string(&manifest).unwrap(),
    )
    .unwrap();
}

/// Pixels of `a` that differ from `b` in some channel, as a fraction.
fn differing(a: &Frame, b: &Frame) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let n = a
        .rgb
        .chunks_exact(3)
        .zip(b.rgb.chunks_exact(3))
        .filter(|(p, q)| p.iter().zip(*q).any(|(x, y)| x != y))
        .count();
    n as f64 / (a.width * a.height) as f64
}

/// A run folder replays the pixels it recorded: every step's scene, rebuilt from its
/// recorded observation and finger joints (nothing simulated), renders to the frame the
/// run saved; the timeline walks the recorded steps; another episode loads; bad input is a
/// one-line error.
#[test]
fn a_run_folder_replays_the_pixels_it_recorded() {
    let dir = tempfile::tempdir().unwrap();
    record_run(dir.path(), TaskKind::PickPlace, PolicyKind::Expert, 2, 120);
    let mut sim = Sim::open_run(&options(Driver::Keyboard), dir.path(), 1).unwrap();
    assert_eq!(sim.episode.task, TaskKind::PickPlace);
    assert_eq!(sim.episode.seed, 41, "episode 1 of seed 40");
    assert_eq!(sim.episode.history.len(), 120);
    assert_eq!(sim.view.frames.len(), 120);
    assert!(sim.replay.as_ref().unwrap().recorded_frames);
    assert!(sim.episode.message.is_none(), "{:?}", sim.episode.message);
    let spec = sim.view.spec();
    let mut worst: f64 = 0.0;
    for t in (0..120).step_by(7) {
        let f = sim.parts().render_step(t, spec).expect("renders");
        worst = worst.max(differing(&f, &sim.view.frames[t]));
    }
    eprintln!("replay: at most {:.3}% of a frame differs", worst * 100.0);
    assert!(worst < 0.002, "{:.3}% of a frame differs", worst * 100.0);
    // The rebuild is what matches: the reset scene does not show step 100.
    let reset = {
        let world = sim.episode.env.world();
        let (shapes, hand) = (world.shapes(), world.hand_pos());
        sim.view.render_shapes(&shapes, hand, spec, &mut None)
    };
    assert!(differing(&reset.unwrap(), &sim.view.frames[100]) > 0.01);

    // Playing walks the recorded steps and stops at the last one.
    assert_eq!(sim.shown().step(), 0);
    assert_eq!(sim.shown().frame(), Some(&sim.view.frames[0]));
    sim.parts().step([0.0; 4]);
    sim.parts().step([0.0; 4]);
    assert_eq!(sim.shown().step(), 2);
    assert_eq!(sim.shown().record().unwrap().step, 2);
    assert_eq!(sim.shown().shapes(), sim.episode.shapes[2]);
    sim.timeline.cursor = Some(119);
    assert!(sim.shown().episode_over());
    sim.parts().step([0.0; 4]);
    assert_eq!(sim.shown().step(), 119);
    sim.parts().reset();
    assert_eq!(sim.shown().step(), 0);

    sim.parts().load_episode(0).unwrap();
    assert_eq!(sim.episode.seed, 40);
    assert!(sim.episode.history.iter().all(|r| r.episode == 0));
    let e = sim.parts().load_episode(5).unwrap_err().to_string();
    assert!(e.contains("no episode 5") && e.contains("0..=1"), "{e}");
    assert_eq!(
        sim.episode.seed, 40,
        "a failed load keeps the episode shown"
    );

    let missing = dir.path().join("nowhere");
    let e = Sim::open_run(&options(Driver::Keyboard), &missing, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a run folder"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

/// Runs recorded before the finger joints were kept replay with the fingers guessed from
/// the claws' distance: still nearly the recorded pixels.
#[test]
fn runs_without_finger_joints_still_replay() {
    let dir = tempfile::tempdir().unwrap();
    record_run(dir.path(), TaskKind::Push, PolicyKind::Expert, 1, 100);
    let path = dir.path().join("steps.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let stripped: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v.as_object_mut().unwrap().remove("fingers").is_some());
            v.to_string()
        })
        .collect();
    std::fs::write(&path, stripped.join("\n") + "\n").unwrap();
    let mut sim = Sim::open_run(&options(Driver::Keyboard), dir.path(), 0).unwrap();
    assert!(sim.episode.history.iter().all(|r| r.fingers.is_none()));
    let spec = sim.view.spec();
    let mut worst: f64 = 0.0;
    for t in (0..100).step_by(9) {
        let f = sim.parts().render_step(t, spec).unwrap();
        worst = worst.max(differing(&f, &sim.view.frames[t]));
    }
    eprintln!(
        "replay, fingers guessed: at most {:.3}% of a frame differs",
        worst * 100.0
    );
    assert!(worst < 0.01, "{:.3}% of a frame differs", worst * 100.0);
}

/// "Make goal from expert" writes the expert's episode on this task and seed, from the
/// initial scene to a hold after success, as a goal video the goal loader reads.
#[test]
fn the_expert_makes_a_goal_video() {
    let mut sim = Sim::new(&options(Driver::Policy(PolicyKind::Expert))).unwrap();
    let first = sim.view.frame.clone().unwrap();
    let path = sim.parts().expert_goal_file().unwrap();
    let v = genreward_record::load_video(&path).unwrap();
    assert_eq!((v.width, v.height), (32, 32));
    assert!(
        v.len() > genreward_episodes::HOLD_STEPS,
        "{} frames",
        v.len()
    );
    assert_eq!(
        v.frames[0], first.rgb,
        "it starts from this seed's initial scene"
    );
    std::fs::remove_file(path).unwrap();
}
