//! The FB reward field on the table in the 3D view: a translucent colour map over the field's
//! grid (the hand's box), the same values and colours as the panel's top view, updated when
//! the panel refreshes the field, with a colour bar in the view's corner.

use super::reward::RewardPanel;
use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy_egui::egui;
use genreward_record::picture::colormap;
use genreward_reward::field::RewardField;

pub struct TableFieldPlugin;

impl Plugin for TableFieldPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TableField>()
            .add_systems(Update, update.after(super::reward::field_system));
    }
}

/// Opacity of the map over the table (the panel's top view uses 0.6 too).
const OPACITY: f64 = 0.6;
/// Height of the map above the table top (m), so it does not fight the table's surface.
const LIFT: f32 = 0.002;

/// The map's entity, image and the field serial it shows.
#[derive(Resource, Default)]
struct TableField {
    entity: Option<Entity>,
    image: Option<Handle<Image>>,
    serial: u64,
}

/// The field as an RGBA image, one pixel per cell: row 0 is the grid's largest y (so a quad
/// whose texture's top edge lies at +y shows cell (i, j) above the table point it scores),
/// coloured by the field's own range, alpha [`OPACITY`].
pub fn field_rgba(field: &RewardField) -> (u32, u32, Vec<u8>) {
    let (nx, ny) = (field.grid.nx, field.grid.ny);
    let (lo, hi) = field.range();
    let span = (hi - lo).max(1e-12);
    let alpha = (OPACITY * 255.0).round() as u8;
    let mut rgba = Vec::with_capacity(nx * ny * 4);
    for row in 0..ny {
        let j = ny - 1 - row;
        for i in 0..nx {
            let c = colormap((field.values[j * nx + i] - lo) / span);
            rgba.extend_from_slice(&[c[0], c[1], c[2], alpha]);
        }
    }
    (nx as u32, ny as u32, rgba)
}

fn update(
    mut commands: Commands,
    panel: Res<RewardPanel>,
    mut state: ResMut<TableField>,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut visibility: Query<&mut Visibility>,
) {
    let show = panel.field.show && panel.field.values.is_some();
    if let Some(e) = state.entity {
        if let Ok(mut v) = visibility.get_mut(e) {
            let want = if show {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            };
            if *v != want {
                *v = want;
            }
        }
    }
    let Some(field) = panel.field.values.as_ref().filter(|_| show) else {
        return;
    };
    if state.serial == panel.field.picture_serial && state.entity.is_some() {
        return;
    }
    state.serial = panel.field.picture_serial;
    let (w, h, rgba) = field_rgba(field);
    let mut img = Image::new(
        Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        rgba,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::default(),
    );
    // Cells blend into each other as in the panel's bilinear top view.
    img.sampler = ImageSampler::linear();
    let g = &field.grid;
    let (sx, sy) = ((g.x[1] - g.x[0]) as f32, (g.y[1] - g.y[0]) as f32);
    let centre = Vec3::new(
        (g.x[0] + g.x[1]) as f32 / 2.0,
        (g.y[0] + g.y[1]) as f32 / 2.0,
        LIFT,
    );
    let reuse = state
        .image
        .as_ref()
        .and_then(|h| images.get_mut(h).map(|mut i| *i = img.clone()))
        .is_some();
    if reuse {
        if let Some(e) = state.entity {
            // The grid may have changed with the task: keep the quad over it.
            commands
                .entity(e)
                .insert(Transform::from_translation(centre).with_scale(Vec3::new(sx, sy, 1.0)));
        }
        return;
    }
    let image = images.add(img);
    let material = materials.add(StandardMaterial {
        base_color_texture: Some(image.clone()),
        alpha_mode: AlphaMode::Blend,
        unlit: true,
        double_sided: true,
        cull_mode: None,
        ..default()
    });
    // A unit rectangle in the xy plane (normal +z: the world's up), scaled to the grid.
    let mesh = meshes.add(Rectangle::new(1.0, 1.0));
    let e = commands
        .spawn((
            Mesh3d(mesh),
            MeshMaterial3d(material),
            Transform::from_translation(centre).with_scale(Vec3::new(sx, sy, 1.0)),
        ))
        .id();
    state.entity = Some(e);
    state.image = Some(image);
}

/// The colour bar of the map on the table, in the 3D view's bottom-left corner: the field's
/// range, low to high, and what it shows.
pub fn legend(ctx: &egui::Context, panel: &RewardPanel) {
    let Some(field) = panel.field.values.as_ref().filter(|_| panel.field.show) else {
        return;
    };
    let (lo, hi) = field.range();
    egui::Area::new(egui::Id::new("table-field-legend"))
        .anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(12.0, -12.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.small(format!(
                    "r_fb with the {} at each point on the table",
                    match field.subject {
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

#[cfg(test)]
mod tests {
    use super::*;
    use genreward_reward::field::{FieldGrid, FieldSubject};

    /// Cell (i, j) lands at column i, row ny - 1 - j (largest y on top), in the colour of its
    /// place in the field's range.
    #[test]
    fn cells_map_to_pixels_with_y_up() {
        let grid = FieldGrid {
            x: [-0.3, 0.3],
            y: [0.4, 0.9],
            nx: 3,
            ny: 2,
        };
        let values = vec![0.0, 1.0, 2.0, 3.0, 4.0, 10.0];
        let field = RewardField {
            grid,
            subject: FieldSubject::Hand,
            values,
            ms: 0.0,
        };
        let (w, h, rgba) = field_rgba(&field);
        assert_eq!((w, h, rgba.len()), (3, 2, 24));
        let px = |x: usize, y: usize| &rgba[(y * 3 + x) * 4..(y * 3 + x) * 4 + 4];
        // Cell (2, 1), the largest value, top right; cell (0, 0), the smallest, bottom left.
        let top = colormap(1.0);
        assert_eq!(px(2, 0), &[top[0], top[1], top[2], 153]);
        let low = colormap(0.0);
        assert_eq!(px(0, 1), &[low[0], low[1], low[2], 153]);
        let mid = colormap(0.3);
        assert_eq!(
            px(0, 0),
            &[mid[0], mid[1], mid[2], 153],
            "cell (0, 1) holds 3"
        );
    }
}
