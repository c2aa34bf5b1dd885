//! The simulation's system: the steps this frame owes, with the keyboard's action.

use super::access::SimParam;
use super::driver::{keyboard_action, Driver};
use super::CONTROL_HZ;
use bevy::prelude::*;
use bevy_egui::EguiContexts;

/// Takes the steps due this frame: one in a scripted run, real time times the speed while
/// playing, one when asked for; stops playing at the episode's end.
pub(super) fn advance(
    mut sim: SimParam,
    time: Res<Time>,
    keys: Res<ButtonInput<KeyCode>>,
    mut egui: EguiContexts,
) {
    let typing = egui
        .ctx_mut()
        .map(|c| c.egui_wants_keyboard_input())
        .unwrap_or(false);
    let action = if sim.episode.driver == Driver::Keyboard && !typing {
        keyboard_action(&keys, &mut sim.episode)
    } else {
        [0.0, 0.0, 0.0, sim.episode.gripper_hold()]
    };
    let pb = &mut *sim.playback;
    let steps = if pb.one_step_per_frame() {
        1
    } else if pb.playing {
        pb.accum += time.delta_secs() * CONTROL_HZ * pb.speed;
        // Never fall more than a few frames behind.
        pb.accum = pb.accum.min(64.0);
        let n = pb.accum.floor();
        pb.accum -= n;
        n as usize
    } else {
        0
    };
    let steps = if pb.step_requested {
        steps.max(1)
    } else {
        steps
    };
    pb.step_requested = false;
    let mut sim = sim.parts();
    for _ in 0..steps {
        sim.step(action);
        if sim.shown().episode_over() {
            sim.playback.playing = false;
            break;
        }
    }
}
