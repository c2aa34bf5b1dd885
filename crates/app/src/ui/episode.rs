//! The episode's controls: task, seed and policy (or a replayed run's episode), play, pause,
//! step, reset, speed and the timeline; the 3D view's camera presets and the agent camera.

use crate::camera::{CamMode, ViewCamera};
use crate::sim::{Driver, SimMut};
use bevy_egui::egui;
use genreward_render::CameraName;
use genreward_sim::TaskKind;

/// A replayed run: its folder and what made it, and the episode shown (pick another).
fn replay_controls(ui: &mut egui::Ui, sim: &mut SimMut) {
    let Some(replay) = &sim.replay else { return };
    let m = &replay.run.manifest;
    ui.label(format!("run {}", replay.run.path.display()));
    ui.small(format!(
        "{} · {} · seed {} · {} episodes · {}",
        m.task,
        m.config.policy,
        sim.episode.seed,
        replay.episodes.len(),
        if replay.recorded_frames {
            "agent views as recorded"
        } else {
            "agent views rendered from the rebuilt scenes (the run saved none)"
        }
    ));
    let (first, last) = (
        replay.episodes.first().copied().unwrap_or(0),
        replay.episodes.last().copied().unwrap_or(0),
    );
    let mut k = replay.episode;
    ui.horizontal(|ui| {
        ui.label("episode");
        ui.add(egui::DragValue::new(&mut k).range(first..=last));
    });
    if k != replay.episode {
        if let Err(e) = sim.load_episode(k) {
            sim.episode.message = Some(e.to_string());
        }
    }
}

pub(super) fn episode_controls(ui: &mut egui::Ui, sim: &mut SimMut) {
    ui.heading("genreward");
    let mut reset = false;
    if sim.replay.is_some() {
        replay_controls(ui, sim);
    } else {
        pickers(ui, sim, &mut reset);
    }
    if sim.episode.driver == Driver::Keyboard {
        ui.small("arrows/WASD: x, y   E/Q: up/down   space: gripper");
    }
    transport(ui, sim, reset);
}

/// Task, seed and policy of a simulated episode; a change starts it again.
fn pickers(ui: &mut egui::Ui, sim: &mut SimMut, reset: &mut bool) {
    egui::Grid::new("episode").num_columns(2).show(ui, |ui| {
        ui.label("task");
        let mut task = sim.episode.task;
        egui::ComboBox::from_id_salt("task")
            .selected_text(task.name())
            .show_ui(ui, |ui| {
                for t in TaskKind::ALL {
                    ui.selectable_value(&mut task, t, t.name());
                }
            });
        if task != sim.episode.task {
            sim.episode.task = task;
            *reset = true;
        }
        ui.end_row();
        ui.label("seed");
        let mut seed = sim.episode.seed;
        ui.add(egui::DragValue::new(&mut seed).range(0..=u32::MAX));
        if seed != sim.episode.seed {
            sim.episode.seed = seed;
            *reset = true;
        }
        ui.end_row();
        ui.label("policy");
        let mut driver = sim.episode.driver;
        egui::ComboBox::from_id_salt("policy")
            .selected_text(driver.to_string())
            .show_ui(ui, |ui| {
                for d in Driver::ALL {
                    ui.selectable_value(&mut driver, d, d.to_string());
                }
                if sim.episode.agent.is_some() {
                    let d = Driver::Policy(genreward_sim::PolicyKind::Agent);
                    ui.selectable_value(&mut driver, d, d.to_string());
                }
            });
        if driver != sim.episode.driver {
            sim.episode.driver = driver;
            *reset = true;
        }
        ui.end_row();
    });
}

/// Play, pause, step, reset, speed and the timeline.
fn transport(ui: &mut egui::Ui, sim: &mut SimMut, mut reset: bool) {
    ui.horizontal(|ui| {
        let label = if sim.playback.playing {
            "⏸ pause"
        } else {
            "▶ play"
        };
        if ui.button(label).clicked() {
            sim.playback.playing = !sim.playback.playing;
            if sim.shown().episode_over() {
                sim.playback.playing = false;
            }
        }
        if ui.button("step").clicked() {
            sim.playback.playing = false;
            sim.playback.step_requested = true;
        }
        if ui.button("reset").clicked() {
            reset = true;
        }
    });
    ui.add(
        egui::Slider::new(&mut sim.playback.speed, 0.05..=8.0)
            .logarithmic(true)
            .text("speed (x real time)"),
    );
    if reset {
        sim.reset();
    }
    let n = sim.episode.history.len();
    // The timeline: drag to show any earlier state (pauses); "live" follows the episode again.
    // A replay's last state is its last recorded step.
    let replay = sim.replay.is_some();
    let last = if replay { n.saturating_sub(1) } else { n };
    ui.horizontal(|ui| {
        let mut t = sim.shown().step();
        let resp = ui.add(egui::Slider::new(&mut t, 0..=last).text("timeline"));
        if resp.changed() {
            sim.playback.playing = false;
            sim.timeline.cursor = Some(t);
        }
        if !replay && sim.timeline.cursor.is_some() && ui.button("live").clicked() {
            sim.timeline.cursor = None;
        }
    });
    let success_at = sim.episode.history.iter().position(|r| r.success);
    ui.label(format!(
        "step {}/{}   {}",
        if replay { sim.shown().step() } else { n },
        if replay {
            n
        } else {
            sim.episode.env.max_path_length()
        },
        match success_at {
            Some(s) => format!("success at step {}", s + 1),
            None => "not yet successful".into(),
        }
    ));
}

pub(super) fn camera_controls(ui: &mut egui::Ui, cam: &mut ViewCamera, sim: &mut SimMut) {
    ui.label("3D view (drag: orbit, right-drag: pan, wheel: zoom)");
    ui.horizontal_wrapped(|ui| {
        if ui
            .selectable_label(cam.mode == CamMode::Orbit, "orbit")
            .clicked()
        {
            cam.mode = CamMode::Orbit;
        }
        for c in CameraName::ALL {
            if ui
                .selectable_label(cam.mode == CamMode::Preset(c), c.name())
                .clicked()
            {
                cam.mode = CamMode::Preset(c);
            }
        }
    });
    if sim.replay.is_some() {
        ui.label(format!("agent camera {} (as recorded)", sim.view.camera));
        return;
    }
    ui.horizontal(|ui| {
        ui.label("agent camera");
        let mut c = sim.view.camera;
        egui::ComboBox::from_id_salt("obs-camera")
            .selected_text(c.name())
            .show_ui(ui, |ui| {
                for n in CameraName::ALL {
                    ui.selectable_value(&mut c, n, n.name());
                }
            });
        sim.set_obs_camera(c);
    });
}
