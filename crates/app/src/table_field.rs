//! The FB reward field on the table in the 3D view: a translucent colour map over the field's
//! grid (the hand's box), the same values and colours as the panel's top view, updated when
//! the panel refreshes the field, with a colour bar in the view's corner.

use crate::reward::FieldView;
use crate::AppSet;
use bevy::asset::RenderAssetUsages;
use bevy::ecs::system::SystemParam;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use genreward_record::picture::colormap;
use genreward_reward::field::RewardField;

pub struct TableFieldPlugin;

impl Plugin for TableFieldPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TableField>()
            .add_systems(Update, update.in_set(AppSet::Present));
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

/// The assets the map is made of.
#[derive(SystemParam)]
struct MapAssets<'w> {
    images: ResMut<'w, Assets<Image>>,
    meshes: ResMut<'w, Assets<Mesh>>,
    materials: ResMut<'w, Assets<StandardMaterial>>,
}

/// Shows the map while the panel shows the field, and redraws it when the field changed.
fn update(
    mut commands: Commands,
    field: Res<FieldView>,
    mut state: ResMut<TableField>,
    mut assets: MapAssets,
    mut visibility: Query<&mut Visibility>,
) {
    let MapAssets {
        images,
        meshes,
        materials,
    } = &mut assets;
    let view = &*field;
    let show = view.show && view.values.is_some();
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
    let Some(field) = view.values.as_ref().filter(|_| show) else {
        return;
    };
    if state.serial == view.picture_serial && state.entity.is_some() {
        return;
    }
    state.serial = view.picture_serial;
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

#[cfg(test)]
mod tests;
