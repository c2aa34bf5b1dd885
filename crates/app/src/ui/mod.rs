//! The egui side panel: task, seed and policy pickers; play, pause, step, reset and speed;
//! camera presets; the agent's observation and imagination; GenReward's section; the current
//! reward and info terms and their plot; the recorder; and any error, shown instead of
//! crashing.

mod episode;
mod field_legend;
mod reward_panel;
mod views;

use crate::camera::ViewCamera;
use crate::capture::Recording;
use crate::reward::RewardParam;
use crate::sim::SimParam;
use crate::textures::{AgentTexture, GoalTextures, ImaginationTextures};
use crate::AppSet;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::{egui, EguiContexts, EguiPrimaryContextPass};

pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            EguiPrimaryContextPass,
            (crate::textures::refresh, panel).chain().in_set(AppSet::Ui),
        );
    }
}

/// Width of the side panel in logical pixels.
pub const PANEL_WIDTH: f32 = 400.0;

/// What the panel shows and drives.
#[derive(SystemParam)]
struct Panel<'w, 's> {
    contexts: EguiContexts<'w, 's>,
    sim: SimParam<'w>,
    reward: RewardParam<'w>,
    cam: ResMut<'w, ViewCamera>,
    rec: ResMut<'w, Recording>,
    agent_tex: Res<'w, AgentTexture>,
    imagination_tex: Res<'w, ImaginationTextures>,
    goal_tex: Res<'w, GoalTextures>,
}

/// Draws the side panel (and the reward field's colour bar over the 3D view).
fn panel(mut p: Panel) -> Result {
    let ctx = p.contexts.ctx_mut()?.clone();
    field_legend::legend(&ctx, &p.reward.field);
    let mut root = egui::Ui::new(
        ctx.clone(),
        "genreward-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    egui::Panel::right("genreward-panel")
        .default_size(PANEL_WIDTH)
        .resizable(true)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| sections(ui, &mut p));
        });
    Ok(())
}

/// The panel's sections, top to bottom.
fn sections(ui: &mut egui::Ui, p: &mut Panel) {
    let mut sim = p.sim.parts();
    episode::episode_controls(ui, &mut sim);
    ui.separator();
    episode::camera_controls(ui, &mut p.cam, &mut sim);
    ui.separator();
    views::agent_view(ui, sim.shown(), &p.agent_tex);
    ui.separator();
    if sim.episode.agent.is_some() {
        views::imagination(ui, sim.shown(), &p.imagination_tex);
        ui.separator();
    }
    reward_panel::panel_ui(ui, &mut p.reward.parts(), &mut sim, &p.goal_tex);
    ui.separator();
    views::terms(ui, sim.shown());
    views::reward_plot(ui, sim.shown());
    ui.separator();
    views::recorder(ui, &mut p.rec);
    if let Some(msg) = sim.episode.message.clone() {
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(egui::Color32::from_rgb(230, 80, 60), msg);
            if ui.small_button("dismiss").clicked() {
                sim.episode.message = None;
            }
        });
    }
}
