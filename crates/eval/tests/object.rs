//! The object detector against the sim: on every task's expert episodes, the centroid of the
//! object's pixels lies where the sim's object position projects into the camera (corner2 at
//! 64x64, the goal videos' view). A wrong projection (a flipped axis, another camera) or a
//! detector that takes the table or the arm for the object is off by many pixels. Measured
//! 2026-12-07 (2 seeds x 20 frames per task): found in 42-100 % of frames (the arm hides a
//! grasped object from this camera), median error 0.30-0.67 px, disassemble 2.3 px.
//!
//! The same frames through the shipped VAE (encoded, decoded) are printed, not asserted: the
//! VAE keeps too little of a 3-4 pixel object for the detector (found in about a quarter of
//! them, median error 4.5 px), which is what `eval-goals`' object column reads.

use genreward_eval::object::{detect_object, pixel_distance, project_object};
use genreward_render::{render_envs, CameraName, Renderer, ViewSpec};
use genreward_sim::{Actor, Env, Observation, PhysicsConfig, Policy, PolicyKind, TaskKind};

#[test]
fn the_detected_object_is_where_the_sim_puts_it() {
    let view = ViewSpec::new(
        CameraName::Corner2,
        genreward_render::Size {
            width: 64,
            height: 64,
        },
    );
    let mut renderer = Renderer::new().unwrap();
    let gen = genreward_reward::GoalGenerator::<burn::backend::Flex>::load(
        &genreward_reward::default_goalgen_dir(),
        &genreward_reward::default_vae_dir(),
        Default::default(),
    )
    .unwrap();
    // A frame through the VAE, as eval-goals sees the expert's and the generated goals.
    let decoded = |rgb: &[u8]| -> Vec<u8> {
        let first = gen.first_latents(&[rgb]).unwrap();
        gen.decode(first.unsqueeze_dim::<5>(2)).remove(0).remove(0)
    };
    let mut all = Vec::new();
    let mut dec_errors = Vec::new();
    let mut dec_frames = 0;
    for task in TaskKind::ALL {
        let (mut errors, mut frames) = (Vec::new(), 0);
        for seed in [40_000u32, 40_001] {
            let mut env = Env::new(task, seed, PhysicsConfig::default());
            let mut policy = Policy::for_run(PolicyKind::Expert, task, 0.0, seed);
            policy.reset(task, seed, 0);
            let mut obs = *env.last_obs();
            for t in 0..200 {
                if t % 10 == 0 {
                    let f = render_envs(&mut renderer, &[env.world()], view)
                        .unwrap()
                        .remove(0);
                    let hand = [obs[0], obs[1], obs[2]];
                    let object = [obs[4], obs[5], obs[6]];
                    let want = project_object(view, object, hand).unwrap();
                    frames += 1;
                    if let Some(got) = detect_object(&f.rgb, f.width, f.height) {
                        errors.push(pixel_distance(got, want));
                        dec_frames += 1;
                        if let Some(d) = detect_object(&decoded(&f.rgb), f.width, f.height) {
                            dec_errors.push(pixel_distance(d, want));
                        }
                    }
                }
                let a = policy.act(&Observation {
                    state: &obs,
                    pixels: None,
                });
                obs = env.step(a).unwrap().obs;
            }
        }
        errors.sort_by(f64::total_cmp);
        let median = errors
            .get(errors.len() / 2)
            .copied()
            .unwrap_or(f64::INFINITY);
        let found = errors.len() as f64 / frames as f64;
        eprintln!(
            "{task}: found in {:.0} % of {frames} frames, median error {median:.2} px, max {:.2}",
            100.0 * found,
            errors.last().copied().unwrap_or(f64::NAN)
        );
        all.push((task, found, median));
    }
    dec_errors.sort_by(f64::total_cmp);
    eprintln!(
        "through the VAE: found in {:.0} % of {dec_frames} frames that show it, median error {:.2} px, 90th percentile {:.2}",
        100.0 * dec_errors.len() as f64 / dec_frames as f64,
        dec_errors[dec_errors.len() / 2],
        dec_errors[dec_errors.len() * 9 / 10]
    );
    // Where the object shows it is found within a pixel or so (disassemble's position is the
    // wrench's handle, 2-3 px from the centroid of its orange head). Where it is not found the
    // arm or a fixture hides it from this camera (grasped, or on the shelf): from corner2 that
    // is up to half the frames.
    for (task, found, median) in all {
        assert!(
            found >= 0.4,
            "{task}: the object found in {found:.2} of frames"
        );
        assert!(median <= 3.0, "{task}: median error {median:.2} px");
        if task != TaskKind::Disassemble {
            assert!(median <= 1.0, "{task}: median error {median:.2} px");
        }
    }
}
