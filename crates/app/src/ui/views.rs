//! The panel's views of the episode: the agent view, the agent's imagination, the step's
//! reward and info terms, their plot over the episode, and the recorder.

use crate::capture::{RecordSource, Recording};
use crate::sim::{Driver, Shown};
use crate::textures::{AgentTexture, ImaginationTextures};
use bevy_egui::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

/// The agent's imagination: what it saw, what its model holds, and what it expects
/// `IMAGINE_AHEAD` steps on (acting with its policy in the world model alone), beside the frame
/// that came.
pub(super) fn imagination(ui: &mut egui::Ui, sim: Shown, tex: &ImaginationTextures) {
    let Some(p) = &sim.episode.agent else { return };
    ui.label(format!("imagination (agent {})", p.dir.display()));
    if tex.shown.is_empty() {
        ui.label(
            if sim.episode.driver == Driver::Policy(genreward_sim::PolicyKind::Agent) {
                "(after the agent's first step)"
            } else {
                "(pick the agent policy to see it)"
            },
        );
        return;
    }
    ui.horizontal_wrapped(|ui| {
        for (slot, caption) in &tex.shown {
            let Some((_, id, _, _)) = &tex.slots[*slot] else {
                continue;
            };
            ui.vertical(|ui| {
                ui.add(egui::Image::new((*id, egui::vec2(88.0, 88.0))));
                ui.small(caption.as_str());
            });
        }
    });
}

pub(super) fn agent_view(ui: &mut egui::Ui, sim: Shown, tex: &AgentTexture) {
    ui.label(format!(
        "agent view ({} {}x{}, the pixels a headless run saves)",
        sim.view.camera, sim.view.size.0, sim.view.size.1
    ));
    if let Some((_, id, w, h)) = &tex.image {
        let (w, h) = (*w as f32, *h as f32);
        let scale = (192.0 / w.max(h)).max(1.0);
        ui.add(egui::Image::new((*id, egui::vec2(w * scale, h * scale))));
    } else {
        ui.label("(no image)");
    }
}

pub(super) fn terms(ui: &mut egui::Ui, sim: Shown) {
    let Some(r) = sim.record() else {
        ui.label("no step yet");
        return;
    };
    egui::Grid::new("terms")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (name, v) in [
                ("reward", r.reward),
                ("near_object", r.near_object),
                ("grasp_success", r.grasp_success),
                ("grasp_reward", r.grasp_reward),
                ("in_place_reward", r.in_place_reward),
                ("obj_to_target", r.obj_to_target),
            ] {
                ui.label(name);
                ui.monospace(format!("{v:>9.4}"));
                ui.end_row();
            }
            ui.label("success");
            ui.monospace(if r.success { "yes" } else { "no" });
            ui.end_row();
            ui.label("action");
            ui.monospace(format!(
                "{:+.2} {:+.2} {:+.2} {:+.2}",
                r.action[0], r.action[1], r.action[2], r.action[3]
            ));
            ui.end_row();
        });
}

pub(super) fn reward_plot(ui: &mut egui::Ui, sim: Shown) {
    let series = |f: fn(&genreward_sim::StepRecord) -> f64| -> PlotPoints {
        sim.episode
            .history
            .iter()
            .enumerate()
            .map(|(i, r)| [i as f64, f(r)])
            .collect()
    };
    Plot::new("reward-terms")
        .height(170.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new("reward", series(|r| r.reward)));
            p.line(Line::new("in_place", series(|r| r.in_place_reward)));
            p.line(Line::new("grasp", series(|r| r.grasp_reward)));
            p.line(Line::new("near_object", series(|r| r.near_object)));
            if let Some(s) = sim.episode.history.iter().position(|r| r.success) {
                p.vline(VLine::new("first success", s as f64));
            }
            if let Some(t) = sim.timeline.cursor {
                p.vline(VLine::new("timeline", t as f64));
            }
        });
}

pub(super) fn recorder(ui: &mut egui::Ui, rec: &mut Recording) {
    ui.label("record (.mp4 or .gif)");
    ui.text_edit_singleline(&mut rec.path_text);
    ui.horizontal(|ui| {
        if rec.is_active() {
            if ui.button("⏹ stop").clicked() {
                rec.stop_requested = true;
            }
            ui.label(format!("{} frames", rec.frames()));
        } else {
            if ui.button("⏺ agent view").clicked() {
                rec.start_requested = Some(RecordSource::AgentView);
            }
            if ui.button("⏺ window").clicked() {
                rec.start_requested = Some(RecordSource::Window);
            }
        }
    });
    if let Some(s) = &rec.status {
        ui.small(s.clone());
    }
}
