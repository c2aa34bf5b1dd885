//! The colour bar of the reward field drawn on the table, in the 3D view's bottom-left corner.

use crate::reward::FieldView;
use bevy_egui::egui;
use genreward_record::picture::colormap;

/// The colour bar of the map on the table, in the 3D view's bottom-left corner: the field's
/// range, low to high, and what it shows.
pub(super) fn legend(ctx: &egui::Context, field: &FieldView) {
    let Some(values) = field.values.as_ref().filter(|_| field.show) else {
        return;
    };
    let (lo, hi) = values.range();
    egui::Area::new(egui::Id::new("table-field-legend"))
        .anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(12.0, -12.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.small(format!(
                    "r_fb with the {} at each point on the table",
                    match values.subject {
                        genreward_reward::field::FieldSubject::Hand => "hand",
                        genreward_reward::field::FieldSubject::Object => "object",
                    }
                ));
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(220.0, 14.0), egui::Sense::hover());
                let n = 64;
                for k in 0..n {
                    let c = colormap((k as f64 + 0.5) / n as f64);
                    let x0 = rect.left() + rect.width() * k as f32 / n as f32;
                    let x1 = rect.left() + rect.width() * (k + 1) as f32 / n as f32;
                    ui.painter().rect_filled(
                        egui::Rect::from_min_max(
                            egui::pos2(x0, rect.top()),
                            egui::pos2(x1 + 0.5, rect.bottom()),
                        ),
                        0.0,
                        egui::Color32::from_rgb(c[0], c[1], c[2]),
                    );
                }
                ui.horizontal(|ui| {
                    ui.monospace(format!("{lo:.1}"));
                    ui.add_space(120.0);
                    ui.monospace(format!("{hi:.1}"));
                });
            });
        });
}
