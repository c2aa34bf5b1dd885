//! The GenReward section of the side panel: loading another goal, the goal strip (click a
//! frame to aim r_fb at it), the chosen goal frame and the reward field, the weights
//! (rescoring at once), the returns and the terms' plot.

use crate::reward::{Rescored, RewardMut, Terms, FIELD_GRID};
use crate::sim::{Shown, SimMut};
use crate::textures::GoalTextures;
use bevy_egui::egui;
use genreward_reward::field::FieldSubject;
use genreward_reward::mix::MixWeights;

/// Another goal: a path typed or dropped on the window, or the expert's own for this task and
/// seed (rendered, saved as .npy in the temporary folder, and loaded).
fn goal_loading(ui: &mut egui::Ui, panel: &mut RewardMut, sim: &mut SimMut) {
    if !panel.goal.can_load() {
        return;
    }
    ui.horizontal(|ui| {
        ui.label("goal video");
        ui.add(egui::TextEdit::singleline(&mut panel.goal.path_text).desired_width(170.0));
        if ui.button("load").clicked() {
            let p = std::path::PathBuf::from(panel.goal.path_text.trim());
            panel.load_goal(&p, sim.shown());
        }
    });
    ui.horizontal(|ui| {
        if ui
            .button("make goal from expert")
            .on_hover_text(
                "the scripted expert on this task and seed, until success and a short hold",
            )
            .clicked()
        {
            match sim.expert_goal_file() {
                Ok(p) => {
                    panel.goal.path_text = p.display().to_string();
                    panel.load_goal(&p, sim.shown());
                }
                Err(e) => panel.terms.message = Some(format!("{e:#}")),
            }
        }
        ui.small("or drop a video on the window");
    });
    ui.horizontal(|ui| {
        if ui
            .button("generate goal")
            .on_hover_text(
                "the goal-video generator's video of the task done, from this episode's first frame (no expert runs): the samples side by side, the medoid loaded",
            )
            .clicked()
        {
            match sim.first_frame() {
                Ok((f, length)) => {
                    panel.generate_goal(&f.rgb, (f.width, f.height), length, sim.shown())
                }
                Err(e) => panel.terms.message = Some(format!("{e:#}")),
            }
        }
        let gen = &mut panel.goal.generated;
        ui.add(
            egui::DragValue::new(&mut gen.samples)
                .range(1..=8)
                .prefix("samples "),
        );
        ui.add(egui::DragValue::new(&mut gen.seed).prefix("seed "));
    });
    if let Some(s) = &panel.goal.status {
        ui.small(s.clone());
    }
}

/// Frames the picture at `rect` as the one chosen.
fn mark_chosen(ui: &egui::Ui, rect: egui::Rect) {
    ui.painter().rect_stroke(
        rect.expand(1.0),
        0.0,
        egui::Stroke::new(2.0, egui::Color32::YELLOW),
        egui::StrokeKind::Outside,
    );
}

/// The last generation's samples side by side (their last frames): click one to load it.
fn generated_samples(ui: &mut egui::Ui, panel: &mut RewardMut, sim: &SimMut, tex: &GoalTextures) {
    if tex.samples.is_empty() {
        return;
    }
    let mut clicked = None;
    ui.horizontal_wrapped(|ui| {
        ui.small("generated samples (last frames):");
        for (j, (id, _, _)) in tex.samples.iter().enumerate() {
            let resp = ui
                .add(egui::Image::new((*id, egui::vec2(48.0, 48.0))).sense(egui::Sense::click()))
                .on_hover_text(format!("sample {}: click to load it as the goal", j + 1));
            if panel.goal.generated.chosen == Some(j) {
                mark_chosen(ui, resp.rect);
            }
            if resp.clicked() {
                clicked = Some(j);
            }
        }
    });
    if let Some(j) = clicked {
        panel.use_generated(j, sim.shown());
    }
}

/// The goal strip (click a frame to aim r_fb at it), the chosen goal frame and the reward field.
fn goal_section(ui: &mut egui::Ui, panel: &mut RewardMut, tex: &GoalTextures) {
    let Some((path, scores, method)) = panel.goal.loaded().map(|s| {
        (
            s.info.path.clone(),
            s.goal_frame.scores.clone(),
            s.goal_frame.method.clone(),
        )
    }) else {
        return;
    };
    ui.small(format!("goal {path}"));
    ui.label(format!(
        "goal frame {} ({}); click a frame to aim r_fb at it",
        panel.goal.frame,
        if panel.goal.frame == panel.goal.loaded().map(|s| s.goal_frame.frame).unwrap_or(0) {
            method.as_str()
        } else {
            "user"
        }
    ));
    let mut clicked = None;
    // Two rows of eight, so the strip fits the panel.
    egui::Grid::new("goal-strip")
        .spacing(egui::vec2(3.0, 2.0))
        .show(ui, |ui| {
            for (k, (id, w, h)) in tex.ids.iter().enumerate() {
                ui.vertical(|ui| {
                    let size = egui::vec2(40.0, 40.0 * *h as f32 / (*w).max(1) as f32);
                    let resp = ui.add(egui::Image::new((*id, size)).sense(egui::Sense::click()));
                    if k == panel.goal.frame {
                        mark_chosen(ui, resp.rect);
                    }
                    if resp.clicked() {
                        clicked = Some(k);
                    }
                    ui.small(format!("{:.2}", scores.get(k).copied().unwrap_or(0.0)));
                });
                if k % 8 == 7 {
                    ui.end_row();
                }
            }
        });
    if let Some(k) = clicked {
        panel.set_goal_frame(k);
    }
    // The chosen goal frame large, beside the goal video playing.
    ui.horizontal(|ui| {
        let fit = |w: u32, h: u32| {
            let scale = 128.0 / w.max(h).max(1) as f32;
            egui::vec2(w as f32 * scale, h as f32 * scale)
        };
        if let Some((id, w, h)) = tex.ids.get(panel.goal.frame) {
            ui.vertical(|ui| {
                ui.add(egui::Image::new((*id, fit(*w, *h))));
                ui.small(format!("goal frame {}", panel.goal.frame));
            });
        }
        if let Some((_, id, w, h, k)) = &tex.player {
            let n = panel.goal.loaded().map(|s| s.goal.video.len()).unwrap_or(0);
            ui.vertical(|ui| {
                ui.add(egui::Image::new((*id, fit(*w, *h))));
                ui.small(format!("goal video {}/{n}", k + 1));
            });
        }
    });
    ui.horizontal(|ui| {
        ui.checkbox(&mut panel.field.show, "reward field of");
        ui.radio_value(&mut panel.field.subject, FieldSubject::Hand, "hand");
        ui.radio_value(&mut panel.field.subject, FieldSubject::Object, "object");
    });
    if panel.field.show {
        if let Some((_, id, w, h, _)) = &tex.field {
            let scale = 330.0 / (*w).max(1) as f32;
            ui.add(egui::Image::new((
                *id,
                egui::vec2(*w as f32 * scale, *h as f32 * scale),
            )));
        }
        ui.small(format!(
            "r_fb if the {} were at each of {FIELD_GRID}x{FIELD_GRID} cells; refreshed every {} steps and on a new goal frame ({:.0} ms with the top view)",
            match panel.field.subject {
                FieldSubject::Hand => "hand",
                FieldSubject::Object => "object",
            },
            panel.field.every,
            panel.field.ms
        ));
    }
}

/// The GenReward section of the side panel: the goal strip (click a frame to aim r_fb at it),
/// the chosen goal frame, the weights (rescoring at once), the returns and the terms' plot.
pub fn panel_ui(ui: &mut egui::Ui, panel: &mut RewardMut, sim: &mut SimMut, tex: &GoalTextures) {
    ui.heading("GenReward");
    goal_loading(ui, panel, sim);
    generated_samples(ui, panel, sim, tex);
    if !panel.has_terms() {
        ui.label("no goal yet: load a goal video (or drop one on the window) to see r_video, r_fb and the mix");
        return;
    }
    if let Some(g) = panel.terms.recorded.clone() {
        ui.small(format!(
            "terms as recorded in steps.jsonl (goal frame {} by {}); the weights rescore them",
            g.goal_frame.as_ref().map_or(0, |f| f.frame),
            g.goal_frame.as_ref().map_or("?", |f| f.method.as_str())
        ));
        if panel.goal.loaded().is_none() {
            ui.small(format!(
                "goal {} (its models are not loaded: no goal strip)",
                g.path
            ));
        }
    }
    let timing = panel.goal.loaded().map(|s| (s.has_fb, s.info.every));
    if timing.is_some() {
        goal_section(ui, panel, tex);
    }
    weights(ui, &mut panel.terms.weights);
    let r = panel.terms.rescored(&sim.episode.history);
    returns(ui, panel, &r, timing);
    terms_plot(ui, panel.terms, &r, sim.shown());
    if let Some(m) = panel.terms.message.clone() {
        ui.colored_label(egui::Color32::from_rgb(230, 80, 60), m);
    }
}

/// The weights: alpha and beta on logarithmic sliders, and r_env's sparse interval (the
/// episode is rescored at once).
fn weights(ui: &mut egui::Ui, weights: &mut MixWeights) {
    // Logarithmic sliders: the weights span orders of magnitude (alpha 10, beta 0.005 by
    // default); the number beside each can be typed or dragged for exact values.
    ui.add(
        egui::Slider::new(&mut weights.alpha, 0.0..=1000.0)
            .logarithmic(true)
            .smallest_positive(0.01)
            .text("alpha (r_video)"),
    );
    ui.add(
        egui::Slider::new(&mut weights.beta, 0.0..=10.0)
            .logarithmic(true)
            .smallest_positive(1e-5)
            .max_decimals(5)
            .text("beta (r_fb)"),
    );
    ui.horizontal(|ui| {
        let mut sparse = weights.sparse_every.is_some();
        ui.checkbox(&mut sparse, "sparse r_env");
        let mut k = weights.sparse_every.unwrap_or(64);
        ui.add_enabled(
            sparse,
            egui::Slider::new(&mut k, 1..=512)
                .logarithmic(true)
                .text("steps apart"),
        );
        weights.sparse_every = sparse.then_some(k);
    });
}

/// The returns of each term and their mix, the last terms, and the models' timing.
fn returns(ui: &mut egui::Ui, panel: &RewardMut, r: &Rescored, timing: Option<(bool, usize)>) {
    egui::Grid::new("genreward-returns")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (name, v) in [
                ("return r_env (paid)", r.returns[0]),
                ("alpha * r_video", r.returns[1]),
                ("beta * r_fb", r.returns[2]),
                ("return", r.returns[3]),
            ] {
                ui.label(name);
                ui.monospace(format!("{v:>10.2}"));
                ui.end_row();
            }
            ui.label("last r_video / r_fb");
            ui.monospace(format!(
                "{:.3} / {:.1}",
                panel
                    .terms
                    .r_video
                    .iter()
                    .rev()
                    .find(|v| **v != 0.0)
                    .copied()
                    .unwrap_or(0.0),
                panel.terms.r_fb.last().copied().unwrap_or(0.0)
            ));
            ui.end_row();
        });
    if let Some((fb_on, every)) = timing {
        let lag = panel.link.lag(panel.terms);
        ui.small(format!(
            "models on {} (worker thread): r_video {:.1} ms per payment (every {every} steps), r_fb {:.3} ms per step{}{}",
            panel.link.backend,
            panel.link.ms_video,
            panel.link.ms_fb,
            if fb_on { "" } else { " (r_fb off)" },
            if lag > 0 { format!(", {lag} steps queued") } else { String::new() }
        ));
    }
}

/// The plot of the terms over the episode, weighted, and their mix.
fn terms_plot(ui: &mut egui::Ui, terms: &Terms, r: &Rescored, sim: Shown) {
    let line = |v: &[f64]| -> egui_plot::PlotPoints {
        v.iter().enumerate().map(|(i, &y)| [i as f64, y]).collect()
    };
    let dense: Vec<f64> = sim.episode.history.iter().map(|s| s.dense_reward).collect();
    let fb_w: Vec<f64> = terms.r_fb.iter().map(|v| terms.weights.beta * v).collect();
    let video_w: egui_plot::PlotPoints = terms
        .r_video
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(i, v)| [i as f64, terms.weights.alpha * v])
        .collect();
    egui_plot::Plot::new("genreward-terms")
        .height(170.0)
        .legend(egui_plot::Legend::default())
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(egui_plot::Line::new("r_env dense", line(&dense)));
            if terms.weights.sparse_every.is_some() {
                p.line(egui_plot::Line::new("r_env paid", line(&r.env_paid)));
            }
            p.line(egui_plot::Line::new("beta r_fb", line(&fb_w)));
            p.points(egui_plot::Points::new("alpha r_video", video_w).radius(3.0));
            p.line(egui_plot::Line::new("total", line(&r.total)));
            if let Some(t) = sim.timeline.cursor {
                p.vline(egui_plot::VLine::new("timeline", t as f64));
            }
        });
}
