//! GenReward's systems: goal files dropped on the window (and `view --drop`), following the
//! episode, refreshing the reward field.

use super::RewardParam;
use crate::sim::{SimParam, SimRead};
use bevy::prelude::*;
use bevy::window::{FileDragAndDrop, PrimaryWindow};

/// A file dropped on the window is loaded as the goal video (a message in the panel if it is
/// not one).
pub(super) fn dropped_goal(
    mut drops: MessageReader<FileDragAndDrop>,
    sim: SimRead,
    mut reward: RewardParam,
) {
    for d in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = d {
            reward.parts().load_goal(path_buf, sim.shown());
        }
    }
}

/// `view --drop FILE` (scripted use): drops the files on the window one per frame from the
/// third frame on, through the same message a real drop sends.
#[derive(Resource, Default)]
pub struct ScriptedDrops(pub Vec<std::path::PathBuf>);

pub(super) fn scripted_drops(
    mut frame: Local<usize>,
    drops: Res<ScriptedDrops>,
    window: Query<Entity, With<PrimaryWindow>>,
    mut out: MessageWriter<FileDragAndDrop>,
) {
    *frame += 1;
    let Some(path) = frame.checked_sub(3).and_then(|i| drops.0.get(i)) else {
        return;
    };
    if let Ok(window) = window.single() {
        out.write(FileDragAndDrop::DroppedFile {
            window,
            path_buf: path.clone(),
        });
    }
}

/// Sends the frame's new steps to the models and takes the terms they have ready.
pub(super) fn follow_sim(sim: SimRead, mut reward: RewardParam) {
    let t0 = std::time::Instant::now();
    reward.parts().follow(sim.shown());
    reward
        .link
        .main_thread
        .add(t0.elapsed().as_secs_f64() * 1e3, false);
}

/// Draws a field the worker answered and asks for the next one when due.
pub(super) fn field_system(mut sim: SimParam, mut reward: RewardParam) {
    let t0 = std::time::Instant::now();
    reward.parts().refresh_field(&mut sim.parts());
    reward
        .link
        .main_thread
        .add(t0.elapsed().as_secs_f64() * 1e3, true);
}
