//! The egui side panel: task, seed and policy pickers; play, pause, step,
//! reset and speed; camera presets; the agent's observation; the current
//! reward and info terms; a plot of the reward terms over the episode; the
//! recorder; and any error, shown instead of crashing.

use super::camera::{CamMode, ViewCamera};
use super::capture::{RecordSource, Recording};
use super::reward::{GoalTextures, RewardPanel};
use super::sim::{Driver, Sim};
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy_egui::{egui, EguiContexts, EguiPrimaryContextPass, EguiTextureHandle};
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};
use genreward_render::CameraName;
use genreward_sim::TaskKind;

pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<AgentTexture>()
            .init_resource::<ImaginationTextures>()
            .init_resource::<GoalTextures>()
            .add_systems(EguiPrimaryContextPass, panel);
    }
}

/// The agent view as a Bevy image shown by egui, updated in place when the
/// frame changes (its egui texture id stays the same).
#[derive(Resource, Default)]
struct AgentTexture {
    image: Option<(Handle<Image>, egui::TextureId, u32, u32)>,
    /// The frame shown: the live frame's serial and the timeline's cursor.
    serial: (u64, Option<usize>),
}

/// A Bevy image shown by egui: its handle, egui id and size.
type Shown = (Handle<Image>, egui::TextureId, u32, u32);

/// Puts `rgb` (`w x h`) into `slot`: in place when the size is the same (the egui texture id
/// stays), else as a new image.
fn upload(
    slot: &mut Option<Shown>,
    rgb: &[u8],
    (w, h): (u32, u32),
    images: &mut Assets<Image>,
    contexts: &mut EguiContexts,
) {
    if let Some((handle, _, sw, sh)) = slot {
        if (*sw, *sh) == (w, h) {
            if let Some(mut img) = images.get_mut(handle) {
                img.data = Some(
                    rgb.chunks_exact(3)
                        .flat_map(|p| [p[0], p[1], p[2], 255])
                        .collect(),
                );
                return;
            }
        }
    }
    let img = super::reward::rgb_image(rgb, w, h, ImageSampler::nearest());
    let handle = images.add(img);
    let id = contexts.add_image(EguiTextureHandle::Strong(handle.clone()));
    *slot = Some((handle, id, w, h));
}

impl AgentTexture {
    fn update(&mut self, sim: &Sim, images: &mut Assets<Image>, contexts: &mut EguiContexts) {
        let now = (sim.agent_frame_serial, sim.cursor);
        if self.serial == now {
            return;
        }
        self.serial = now;
        let Some(f) = sim.shown_frame() else { return };
        upload(
            &mut self.image,
            &f.rgb,
            (f.width, f.height),
            images,
            contexts,
        );
    }
}

/// The imagination view's pictures: the frame the agent saw, its model state decoded, the
/// frame it imagined `IMAGINE_AHEAD` steps on, and the frame that came then (when it has).
#[derive(Resource, Default)]
struct ImaginationTextures {
    /// (episode, step shown, whether the later real frame exists) of the pictures held.
    key: Option<(u64, usize, bool)>,
    slots: [Option<Shown>; 4],
    /// The pictures to show now: slot and caption.
    shown: Vec<(usize, String)>,
}

impl ImaginationTextures {
    fn update(&mut self, sim: &Sim, images: &mut Assets<Image>, contexts: &mut EguiContexts) {
        use super::sim::IMAGINE_AHEAD;
        let Some(t) = sim.cursor.or(sim.history.len().checked_sub(1)) else {
            self.key = None;
            self.shown.clear();
            return;
        };
        let later = sim.frames.get(t + IMAGINE_AHEAD);
        let key = (sim.episode_serial, t, later.is_some());
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        self.shown.clear();
        let Some(Some((now, ahead))) = sim.imagined.get(t) else {
            return;
        };
        let side = genreward_models::dreamer::world::IMAGE as u32;
        let t2 = t + IMAGINE_AHEAD;
        let pictures = [
            sim.frames.get(t).map(|f| {
                (
                    f.rgb.as_slice(),
                    f.width,
                    f.height,
                    format!("seen, step {t}"),
                )
            }),
            Some((now.as_slice(), side, side, format!("model, step {t}"))),
            Some((ahead.as_slice(), side, side, format!("imagined, step {t2}"))),
            later.map(|f| {
                (
                    f.rgb.as_slice(),
                    f.width,
                    f.height,
                    format!("seen, step {t2}"),
                )
            }),
        ];
        for (i, p) in pictures.into_iter().enumerate() {
            let Some((rgb, w, h, caption)) = p else {
                continue;
            };
            if rgb.len() == (w * h * 3) as usize {
                upload(&mut self.slots[i], rgb, (w, h), images, contexts);
                self.shown.push((i, caption));
            }
        }
    }
}

/// The agent's imagination: what it saw, what its model holds, and what it expects
/// `IMAGINE_AHEAD` steps on (acting with its policy in the world model alone), beside the frame
/// that came.
fn imagination(ui: &mut egui::Ui, sim: &Sim, tex: &ImaginationTextures) {
    let Some(p) = &sim.agent else { return };
    ui.label(format!("imagination (agent {})", p.dir.display()));
    if tex.shown.is_empty() {
        ui.label(
            if sim.driver == Driver::Policy(genreward_sim::PolicyKind::Agent) {
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

/// Width of the side panel in logical pixels.
pub const PANEL_WIDTH: f32 = 400.0;

#[allow(clippy::too_many_arguments)] // a Bevy system: one parameter per resource
fn panel(
    mut contexts: EguiContexts,
    mut sim: ResMut<Sim>,
    mut cam: ResMut<ViewCamera>,
    mut tex: ResMut<AgentTexture>,
    mut imag: ResMut<ImaginationTextures>,
    mut rec: ResMut<Recording>,
    mut images: ResMut<Assets<Image>>,
    mut reward: ResMut<RewardPanel>,
    mut goal_tex: ResMut<GoalTextures>,
    time: Res<Time>,
) -> Result {
    tex.update(&sim, &mut images, &mut contexts);
    goal_tex.ensure(&reward, &mut images, &mut contexts, time.elapsed_secs_f64());
    imag.update(&sim, &mut images, &mut contexts);
    let ctx = contexts.ctx_mut()?.clone();
    super::table_field::legend(&ctx, &reward);
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
            egui::ScrollArea::vertical().show(ui, |ui| {
                episode_controls(ui, &mut sim);
                ui.separator();
                camera_controls(ui, &mut cam, &mut sim);
                ui.separator();
                agent_view(ui, &sim, &tex);
                ui.separator();
                if sim.agent.is_some() {
                    imagination(ui, &sim, &imag);
                    ui.separator();
                }
                super::reward::panel_ui(ui, &mut reward, &mut sim, &goal_tex);
                ui.separator();
                terms(ui, &sim);
                reward_plot(ui, &sim);
                ui.separator();
                recorder(ui, &mut rec);
                if let Some(msg) = sim.message.clone() {
                    ui.separator();
                    ui.horizontal_wrapped(|ui| {
                        ui.colored_label(egui::Color32::from_rgb(230, 80, 60), msg);
                        if ui.small_button("dismiss").clicked() {
                            sim.message = None;
                        }
                    });
                }
            });
        });
    Ok(())
}

/// A replayed run: its folder and what made it, and the episode shown (pick another).
fn replay_controls(ui: &mut egui::Ui, sim: &mut Sim) {
    let Some(replay) = &sim.replay else { return };
    let m = &replay.run.manifest;
    ui.label(format!("run {}", replay.run.path.display()));
    ui.small(format!(
        "{} · {} · seed {} · {} episodes · {}",
        m.task,
        m.config.policy,
        sim.seed,
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
            sim.message = Some(e.to_string());
        }
    }
}

fn episode_controls(ui: &mut egui::Ui, sim: &mut Sim) {
    ui.heading("genreward");
    let mut reset = false;
    if sim.replay.is_some() {
        replay_controls(ui, sim);
    } else {
        pickers(ui, sim, &mut reset);
    }
    if sim.driver == Driver::Keyboard {
        ui.small("arrows/WASD: x, y   E/Q: up/down   space: gripper");
    }
    transport(ui, sim, reset);
}

/// Task, seed and policy of a simulated episode; a change starts it again.
fn pickers(ui: &mut egui::Ui, sim: &mut Sim, reset: &mut bool) {
    egui::Grid::new("episode").num_columns(2).show(ui, |ui| {
        ui.label("task");
        let mut task = sim.task;
        egui::ComboBox::from_id_salt("task")
            .selected_text(task.name())
            .show_ui(ui, |ui| {
                for t in TaskKind::ALL {
                    ui.selectable_value(&mut task, t, t.name());
                }
            });
        if task != sim.task {
            sim.task = task;
            *reset = true;
        }
        ui.end_row();
        ui.label("seed");
        let mut seed = sim.seed;
        ui.add(egui::DragValue::new(&mut seed).range(0..=u32::MAX));
        if seed != sim.seed {
            sim.seed = seed;
            *reset = true;
        }
        ui.end_row();
        ui.label("policy");
        let mut driver = sim.driver;
        egui::ComboBox::from_id_salt("policy")
            .selected_text(driver.to_string())
            .show_ui(ui, |ui| {
                for d in Driver::ALL {
                    ui.selectable_value(&mut driver, d, d.to_string());
                }
                if sim.agent.is_some() {
                    let d = Driver::Policy(genreward_sim::PolicyKind::Agent);
                    ui.selectable_value(&mut driver, d, d.to_string());
                }
            });
        if driver != sim.driver {
            sim.driver = driver;
            *reset = true;
        }
        ui.end_row();
    });
}

/// Play, pause, step, reset, speed and the timeline.
fn transport(ui: &mut egui::Ui, sim: &mut Sim, mut reset: bool) {
    ui.horizontal(|ui| {
        let label = if sim.playing { "⏸ pause" } else { "▶ play" };
        if ui.button(label).clicked() {
            sim.playing = !sim.playing;
            if sim.episode_over() {
                sim.playing = false;
            }
        }
        if ui.button("step").clicked() {
            sim.playing = false;
            sim.step_requested = true;
        }
        if ui.button("reset").clicked() {
            reset = true;
        }
    });
    ui.add(
        egui::Slider::new(&mut sim.speed, 0.05..=8.0)
            .logarithmic(true)
            .text("speed (x real time)"),
    );
    if reset {
        sim.reset();
    }
    let n = sim.history.len();
    // The timeline: drag to show any earlier state (pauses); "live" follows the episode again.
    // A replay's last state is its last recorded step.
    let replay = sim.replay.is_some();
    let last = if replay { n.saturating_sub(1) } else { n };
    ui.horizontal(|ui| {
        let mut t = sim.shown_step();
        let resp = ui.add(egui::Slider::new(&mut t, 0..=last).text("timeline"));
        if resp.changed() {
            sim.playing = false;
            sim.cursor = Some(t);
        }
        if !replay && sim.cursor.is_some() && ui.button("live").clicked() {
            sim.cursor = None;
        }
    });
    let success_at = sim.history.iter().position(|r| r.success);
    ui.label(format!(
        "step {}/{}   {}",
        if replay { sim.shown_step() } else { n },
        if replay { n } else { sim.env.max_path_length() },
        match success_at {
            Some(s) => format!("success at step {}", s + 1),
            None => "not yet successful".into(),
        }
    ));
}

fn camera_controls(ui: &mut egui::Ui, cam: &mut ViewCamera, sim: &mut Sim) {
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
        ui.label(format!("agent camera {} (as recorded)", sim.obs_camera));
        return;
    }
    ui.horizontal(|ui| {
        ui.label("agent camera");
        let mut c = sim.obs_camera;
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

fn agent_view(ui: &mut egui::Ui, sim: &Sim, tex: &AgentTexture) {
    ui.label(format!(
        "agent view ({} {}x{}, the pixels a headless run saves)",
        sim.obs_camera, sim.obs_size.0, sim.obs_size.1
    ));
    if let Some((_, id, w, h)) = &tex.image {
        let (w, h) = (*w as f32, *h as f32);
        let scale = (192.0 / w.max(h)).max(1.0);
        ui.add(egui::Image::new((*id, egui::vec2(w * scale, h * scale))));
    } else {
        ui.label("(no image)");
    }
}

fn terms(ui: &mut egui::Ui, sim: &Sim) {
    let Some(r) = sim.shown_record() else {
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

fn reward_plot(ui: &mut egui::Ui, sim: &Sim) {
    let series = |f: fn(&genreward_sim::StepRecord) -> f64| -> PlotPoints {
        sim.history
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
            if let Some(s) = sim.history.iter().position(|r| r.success) {
                p.vline(VLine::new("first success", s as f64));
            }
            if let Some(t) = sim.cursor {
                p.vline(VLine::new("timeline", t as f64));
            }
        });
}

fn recorder(ui: &mut egui::Ui, rec: &mut Recording) {
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
