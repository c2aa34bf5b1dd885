//! The generator's data: the frames rendered in lockstep at the sampled steps are the expert goal
//! video's own frames, and the files hold what the layout says.

use burn::backend::Flex;
use genreward_episodes::{
    expert_goal_frames, goal_video_frames, write_goal_data, GoalDataConfig, GOAL_TRAIN_SEED,
    GOAL_VAL_SEED, HOLD_STEPS,
};
use genreward_render::{CameraName, Renderer, ViewSpec};
use genreward_reward::{uniform_indices, WINDOW};
use genreward_sim::TaskKind;
use indicatif::ProgressBar;
use std::path::Path;

const VIEW: ViewSpec = ViewSpec {
    camera: CameraName::Corner2,
    width: 64,
    height: 64,
};

#[test]
fn goal_data_holds_the_expert_goal_videos_sampled_frames_as_latents() {
    let vae = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/models/vae");
    let encoder = genreward_reward::load_encoder::<Flex>(&vae, Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = GoalDataConfig {
        out: dir.path().to_path_buf(),
        tasks: vec![TaskKind::Push],
        train: 3,
        val: 1,
        view: VIEW,
        length: 256,
        vae: vae.clone(),
    };
    let report = write_goal_data(&cfg, &encoder, &ProgressBar::hidden()).unwrap();
    assert_eq!((report.videos, report.skipped), (4, 0));
    let train = dir.path().join("train/push");
    let (shape, latents) = genreward_record::read_npy_f32(&train.join("latents.npy")).unwrap();
    assert_eq!(shape, vec![3, 4, WINDOW, 8, 8]);
    let (shape, firsts) = genreward_record::read_npy_u8(&train.join("first.npy")).unwrap();
    assert_eq!(shape, vec![3, 64, 64, 3]);
    let seeds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(train.join("seeds.json")).unwrap()).unwrap();
    assert_eq!(seeds["seeds"][0], GOAL_TRAIN_SEED);
    let val: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("val/push/seeds.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(val["seeds"][0], GOAL_VAL_SEED);

    // Seed 1 of the training range, rendered frame by frame as `genreward goal` does.
    let seed = GOAL_TRAIN_SEED + 1;
    let mut renderer = Renderer::new().unwrap();
    let (frames, success) = expert_goal_frames(
        TaskKind::Push,
        seed,
        VIEW,
        500,
        HOLD_STEPS,
        256,
        &mut renderer,
    )
    .unwrap();
    assert_eq!(frames.len(), goal_video_frames(success, HOLD_STEPS, 256));
    assert_eq!(seeds["success_steps"][1], success);
    let sampled: Vec<&[u8]> = uniform_indices(frames.len(), WINDOW)
        .into_iter()
        .map(|i| frames[i].as_slice())
        .collect();
    let n = 64 * 64 * 3;
    assert_eq!(&firsts[n..2 * n], sampled[0], "the first frame");
    let want = encoder.encode(&sampled).unwrap();
    let per = want.len();
    assert_eq!(
        &latents[per..2 * per],
        want.as_slice(),
        "the latent of the sampled frames"
    );
}

#[test]
fn bad_goal_data_settings_are_refused() {
    let vae = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/models/vae");
    let encoder = genreward_reward::load_encoder::<Flex>(&vae, Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = GoalDataConfig {
        out: dir.path().to_path_buf(),
        tasks: vec![TaskKind::Reach],
        train: 1,
        val: 0,
        view: ViewSpec {
            width: 128,
            height: 128,
            ..VIEW
        },
        length: 256,
        vae,
    };
    let e = write_goal_data(&cfg, &encoder, &ProgressBar::hidden())
        .unwrap_err()
        .to_string();
    assert!(e.contains("the VAE reads 64x64"), "{e}");
    cfg.view = VIEW;
    cfg.train = 0;
    let e = write_goal_data(&cfg, &encoder, &ProgressBar::hidden())
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least one task and one seed"), "{e}");
}
