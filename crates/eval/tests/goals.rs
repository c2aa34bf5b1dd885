//! `eval_goals` end to end on a tiny goal-data folder (reach, 2 training seeds) and 3 held-out
//! seeds, with the shipped VAE, generator and FB model: the reward figures obey what must hold
//! whatever the models' quality, so a mixed-up goal or episode index shows.

use genreward_episodes::{write_goal_data, GoalDataConfig};
use genreward_eval::{eval_goals, EvalGoalsConfig};
use genreward_models::DeviceKind;
use genreward_render::{CameraName, Size, ViewSpec};
use genreward_reward::{default_fb_dir, default_goalgen_dir, default_vae_dir, load_encoder};
use genreward_sim::TaskKind;
use indicatif::ProgressBar;

#[test]
fn reward_figures_hold_their_closed_forms() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let vae = default_vae_dir();
    let encoder = load_encoder::<burn::backend::Flex>(&vae, Default::default()).unwrap();
    let side = encoder.size();
    let cfg = GoalDataConfig {
        out: data.clone(),
        tasks: vec![TaskKind::Reach],
        train: 2,
        val: 0,
        view: ViewSpec::new(
            CameraName::Corner2,
            Size {
                width: side,
                height: side,
            },
        ),
        length: 256,
        vae: vae.clone(),
    };
    write_goal_data(&cfg, &encoder, &ProgressBar::hidden()).unwrap();
    let report = eval_goals(
        &EvalGoalsConfig {
            data,
            split: "eval".into(),
            per_task: 3,
            generator: default_goalgen_dir(),
            vae,
            steps: Some(2),
            guidance: None,
            gen_seed: 0,
            samples: 2,
            pick: genreward_reward::SamplePick::Mean,
            device: DeviceKind::Cpu,
            rewards: Some(default_fb_dir()),
            clip: None,
        },
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(report.episode_length, 256);
    assert_eq!(report.tasks.len(), 1, "only the data's task");
    let t = &report.tasks[0];
    assert_eq!((t.task.as_str(), t.seeds), ("reach", 3));
    let names: Vec<&str> = t.methods.iter().map(|m| m.method.as_str()).collect();
    assert_eq!(
        names[..4],
        [
            "generated, 1 step",
            "generated, 2 steps",
            "generated, 1 step, mean of 2",
            "expert, same seed (oracle)"
        ],
        "the generator's rows, then the oracle"
    );
    let row = |name: &str| {
        t.methods
            .iter()
            .find(|m| m.method == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    // The oracle's goal video is the expert's own episode, so r_video's cosine is 1 toward it
    // and below toward any other seed's, and below for the random episode.
    let oracle = row("expert, same seed (oracle)");
    assert_eq!((oracle.latent_mse, oracle.psnr_db), (None, None));
    let r = oracle.rewards.as_ref().unwrap();
    assert_eq!(r.video_own_vs_other, 1.0, "{r:?}");
    assert_eq!(r.video_expert_vs_random, 1.0, "{r:?}");
    // One goal for every seed: every comparison of own and other is a tie.
    let r = row("task mean latent").rewards.as_ref().unwrap();
    assert_eq!(
        (r.video_own_vs_other, r.fb_own_vs_other),
        (0.5, 0.5),
        "{r:?}"
    );
    for m in &t.methods {
        let r = m.rewards.as_ref().unwrap();
        for v in [
            r.video_own_vs_other,
            r.fb_own_vs_other,
            r.video_expert_vs_random,
            r.fb_expert_vs_random,
        ] {
            assert!((0.0..=1.0).contains(&v), "{}: {r:?}", m.method);
        }
        // The object's distance where both last frames show it; the oracle is the reference.
        match (m.object_px, m.object_found) {
            (None, None) => assert!(m.method.contains("oracle"), "{}", m.method),
            (px, Some(found)) => {
                assert!((0.0..=1.0).contains(&found), "{}", m.method);
                assert_eq!(px.is_some(), found > 0.0, "{}", m.method);
                assert!(px.is_none_or(|d| (0.0..=64.0 * 1.5).contains(&d)));
            }
            (Some(_), None) => panic!("{}: a distance without its share", m.method),
        }
        if m.method.starts_with("generated") {
            assert!(m.seconds_per_goal > 0.0 && m.latent_mse.unwrap().is_finite());
        }
    }
    assert_eq!(report.mean.len(), t.methods.len());
    let table = report.table();
    assert!(table.contains("own>other video 1.000"), "{table}");
}
