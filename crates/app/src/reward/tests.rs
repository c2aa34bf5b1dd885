//! GenReward's unit tests: the worker scores as the models do; rescoring is the formula.

use super::rescore::rescore;
use super::{GoalSetup, Reward};
use crate::sim::Sim;
use crate::{Driver, ViewOptions};
use genreward_reward::mix::MixWeights;
use genreward_sim::{PolicyKind, TaskKind};

/// The worker thread scores the episode as the models do when called directly, step by
/// step; a goal-frame change rescores the steps taken and aims the later ones; a new
/// episode starts the video window over.
#[test]
fn the_worker_scores_as_the_models_do_and_follows_the_goal_frame() {
    let opts = ViewOptions {
        task: TaskKind::Push,
        seed: 3,
        obs_size: (64, 64),
        ..crate::sim::tests::options(Driver::Policy(PolicyKind::Expert))
    };
    let mut sim = Sim::new(&opts).unwrap();
    let goal = sim.parts().expert_goal_file().unwrap();
    let args = genreward_reward::RewardSettings {
        every: 8,
        alpha: 10.0,
        beta: 0.005,
        ..Default::default()
    };
    let load = || genreward_run::Loaded::from_file(&goal, &args, TaskKind::Push).unwrap();
    let mut panel = Reward::new(Some(GoalSetup {
        loaded: load(),
        sparse_every: None,
        heatmap: None,
    }));
    let mut direct = load().terms;
    std::fs::remove_file(&goal).unwrap();
    let fb = direct.fb.as_mut().unwrap();
    let inputs = |sim: &Sim, range: std::ops::Range<usize>| {
        let s: Vec<f32> = sim.episode.history[range.clone()]
            .iter()
            .flat_map(|r| r.obs.map(|v| v as f32))
            .collect();
        let a: Vec<f32> = sim.episode.history[range]
            .iter()
            .flat_map(|r| r.action.map(|v| v as f32))
            .collect();
        (s, a)
    };
    let close = |a: &[f64], b: &[f64]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1.0))
    };

    for _ in 0..20 {
        sim.parts().step([0.0; 4]);
        panel.parts().follow(sim.shown());
    }
    panel.parts().finish(&mut sim.parts());
    assert_eq!(panel.terms.r_fb.len(), 20);
    let want_video: Vec<f64> = sim.view.frames[..20]
        .iter()
        .map(|f| {
            direct
                .video
                .push(&f.rgb, f.width, f.height)
                .unwrap()
                .unwrap_or(0.0)
        })
        .collect();
    assert_eq!(want_video.iter().filter(|v| **v != 0.0).count(), 2);
    assert!(
        close(&panel.terms.r_video, &want_video),
        "{:?}",
        panel.terms.r_video
    );
    let (s, a) = inputs(&sim, 0..20);
    let before = fb.score(&s, &a).unwrap();
    assert!(
        close(&panel.terms.r_fb, &before),
        "{:?} vs {before:?}",
        panel.terms.r_fb
    );

    // Aim at sampled frame 2: the steps taken are rescored, the next ones aimed too.
    panel.parts().set_goal_frame(2);
    for _ in 0..6 {
        sim.parts().step([0.0; 4]);
        panel.parts().follow(sim.shown());
    }
    panel.parts().finish(&mut sim.parts());
    fb.set_goal(&direct.goal.window[2]).unwrap();
    let (s, a) = inputs(&sim, 0..26);
    let aimed = fb.score(&s, &a).unwrap();
    assert!(
        close(&panel.terms.r_fb, &aimed),
        "{:?} vs {aimed:?}",
        panel.terms.r_fb
    );
    let moved = before
        .iter()
        .zip(&aimed)
        .map(|(x, y)| (x - y).abs())
        .sum::<f64>();
    assert!(moved > 1.0, "the goal frame changes r_fb ({moved})");
    assert_eq!(panel.goal.frame, 2);

    // A new episode: terms from its first step, r_video paid at its own step 8.
    sim.parts().reset();
    for _ in 0..8 {
        sim.parts().step([0.0; 4]);
        panel.parts().follow(sim.shown());
    }
    panel.parts().finish(&mut sim.parts());
    assert_eq!(panel.terms.r_fb.len(), 8);
    direct.video.reset();
    let last = sim.view.frames[..8]
        .iter()
        .filter_map(|f| direct.video.push(&f.rgb, f.width, f.height).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(last.len(), 1);
    assert!(
        (panel.terms.r_video[7] - last[0]).abs() < 1e-6,
        "{:?}",
        panel.terms.r_video
    );
    assert!(
        panel.link.backend.starts_with("cpu"),
        "{}",
        panel.link.backend
    );
}

#[test]
fn rescoring_is_the_formula_on_stored_terms() {
    let dense = [1.0, 2.0, 3.0, 4.0];
    let rv = [0.0, 0.5, 0.0, 0.9];
    let rf = [10.0, 20.0, -5.0, 40.0];
    let w = MixWeights {
        alpha: 3.0,
        beta: 0.1,
        sparse_every: Some(2),
    };
    let r = rescore(&dense, &rv, &rf, &w);
    assert_eq!(r.env_paid, vec![0.0, 2.0, 0.0, 4.0]);
    for t in 0..4 {
        let want = r.env_paid[t] + 3.0 * rv[t] + 0.1 * rf[t];
        assert!((r.total[t] - want).abs() < 1e-12);
    }
    assert!((r.returns[0] - 6.0).abs() < 1e-12);
    assert!((r.returns[1] - 4.2).abs() < 1e-12);
    assert!((r.returns[2] - 6.5).abs() < 1e-12);
    assert!((r.returns[3] - 16.7).abs() < 1e-12);
    // Dense: every step's r_env is paid.
    let r = rescore(
        &dense,
        &rv,
        &rf,
        &MixWeights {
            sparse_every: None,
            ..w
        },
    );
    assert_eq!(r.env_paid, dense.to_vec());
}

/// "generate goal": the samples the panel shows are the generator's for the episode's first
/// frame, each saved as a goal file of the episode's length; the medoid is loaded (the goal
/// `goal --samples K` makes), and clicking another sample loads that one.
#[test]
fn generating_a_goal_loads_the_medoid_and_another_sample_on_request() {
    let opts = ViewOptions {
        task: TaskKind::Push,
        seed: 5,
        obs_size: (64, 64),
        ..crate::sim::tests::options(Driver::Policy(PolicyKind::Expert))
    };
    let mut sim = Sim::new(&opts).unwrap();
    let mut panel = Reward::new(None);
    panel.set_loader(genreward_reward::RewardSettings::default());
    panel.goal.generated.samples = 3;
    panel.goal.generated.seed = 7;
    let (first, length) = sim.parts().first_frame().unwrap();
    panel
        .parts()
        .generate_goal(&first.rgb, (first.width, first.height), length, sim.shown());
    assert_eq!(panel.terms.message, None);
    let gen = &panel.goal.generated;
    assert_eq!(gen.made.len(), 3);

    // The same goals straight from the library.
    let settings = genreward_reward::GenSettings {
        samples: 3,
        seed: 7,
        pick: genreward_reward::SamplePick::Medoid,
        ..Default::default()
    };
    let g = genreward_reward::LoadedGenerator::load(
        &genreward_reward::default_goalgen_dir(),
        &genreward_reward::default_vae_dir(),
        genreward_models::DeviceKind::Cpu,
    )
    .unwrap();
    let (want, made) = g
        .goal_videos(
            &[&first.rgb],
            (first.width, first.height),
            TaskKind::Push,
            &g.resolved(&settings),
            length,
        )
        .unwrap()
        .remove(0);
    assert_eq!(gen.chosen, made.picked);
    let loaded = panel.goal.loaded().unwrap();
    assert_eq!(
        loaded.goal.video.frames, want.video.frames,
        "the medoid is loaded"
    );
    assert_eq!(loaded.goal.video.len(), length);
    let other = (made.picked.unwrap() + 1) % 3;
    assert_ne!(made.samples[other], made.samples[made.picked.unwrap()]);
    panel.parts().use_generated(other, sim.shown());
    let loaded = panel.goal.loaded().unwrap();
    let stretched =
        genreward_reward::stretch_to_length(&made.samples[other], g.trained_length(), length);
    assert_eq!(
        loaded.goal.video.frames, stretched,
        "sample {other} is loaded"
    );
    assert_eq!(panel.goal.generated.chosen, Some(other));
    for s in &panel.goal.generated.made {
        std::fs::remove_file(&s.path).unwrap();
    }
}
