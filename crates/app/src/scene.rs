//! Mirrors the simulation into Bevy entities every frame: the same primitive
//! list the observation renderer draws (table, fixtures, object, hand,
//! fingers, arm links, goal marker), as unit meshes with a pose and scale.

use crate::sim::SimRead;
use crate::AppSet;
use bevy::prelude::*;
use genreward_render::mesh::{MeshKind, MESH_COUNT};
use genreward_render::scene::{push_instances, GpuInstance};
use std::collections::HashMap;

pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SceneParts>()
            .add_systems(Startup, setup.in_set(AppSet::Present))
            .add_systems(Update, sync.in_set(AppSet::Present));
    }
}

/// The unit meshes and the entities currently showing the scene.
#[derive(Resource, Default)]
struct SceneParts {
    meshes: Vec<Handle<Mesh>>,
    materials: HashMap<[u32; 4], Handle<StandardMaterial>>,
    entities: [Vec<Entity>; MESH_COUNT],
    lists: [Vec<GpuInstance>; MESH_COUNT],
    /// The episode the entities were built for.
    episode: u64,
}

fn setup(mut commands: Commands, mut parts: ResMut<SceneParts>, mut meshes: ResMut<Assets<Mesh>>) {
    // Half-size 1, radius 1, half-height 1: the renderer's unit meshes.
    parts.meshes = vec![
        meshes.add(Cuboid::new(2.0, 2.0, 2.0)),
        meshes.add(Cylinder::new(1.0, 2.0).mesh().resolution(24)),
        meshes.add(Sphere::new(1.0).mesh().uv(16, 10)),
    ];
    commands.spawn((
        DirectionalLight {
            illuminance: 9_000.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::from_xyz(0.35, -0.45, 0.82).looking_at(Vec3::ZERO, Vec3::Z),
    ));
    commands.insert_resource(GlobalAmbientLight {
        color: Color::WHITE,
        brightness: 600.0,
        ..default()
    });
}

fn material(
    parts: &mut SceneParts,
    materials: &mut Assets<StandardMaterial>,
    inst: &GpuInstance,
) -> Handle<StandardMaterial> {
    let c = inst.color;
    let key = [
        c[0].to_bits(),
        c[1].to_bits(),
        c[2].to_bits(),
        c[3].to_bits(),
    ];
    parts
        .materials
        .entry(key)
        .or_insert_with(|| {
            let base = Color::srgb(c[0], c[1], c[2]);
            materials.add(StandardMaterial {
                base_color: base,
                perceptual_roughness: 1.0 - 0.8 * inst.scale[3],
                emissive: LinearRgba::from(base) * (c[3] * 2.0),
                ..default()
            })
        })
        .clone()
}

fn sync(
    mut commands: Commands,
    sim: SimRead,
    mut parts: ResMut<SceneParts>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut transforms: Query<&mut Transform>,
) {
    let parts = &mut *parts;
    if parts.meshes.is_empty() {
        return;
    }
    for l in parts.lists.iter_mut() {
        l.clear();
    }
    push_instances(&sim.shown().shapes(), &mut parts.lists);
    // A new episode (task, seed) may order the parts differently: rebuild.
    let new_episode = parts.episode != sim.episode.serial;
    parts.episode = sim.episode.serial;
    for kind in [MeshKind::Cube, MeshKind::Cylinder, MeshKind::Sphere] {
        let k = kind as usize;
        let fresh = new_episode || parts.entities[k].len() != parts.lists[k].len();
        if fresh {
            for e in parts.entities[k].drain(..) {
                commands.entity(e).despawn();
            }
            for i in 0..parts.lists[k].len() {
                let inst = parts.lists[k][i];
                let mat = material(parts, &mut materials, &inst);
                let e = commands
                    .spawn((
                        Mesh3d(parts.meshes[k].clone()),
                        MeshMaterial3d(mat),
                        transform_of(&inst),
                    ))
                    .id();
                parts.entities[k].push(e);
            }
            continue;
        }
        for (e, inst) in parts.entities[k].iter().zip(&parts.lists[k]) {
            if let Ok(mut t) = transforms.get_mut(*e) {
                *t = transform_of(inst);
            }
        }
    }
}

fn transform_of(inst: &GpuInstance) -> Transform {
    Transform {
        translation: Vec3::new(
            inst.translation[0],
            inst.translation[1],
            inst.translation[2],
        ),
        rotation: Quat::from_array(inst.rotation),
        scale: Vec3::new(inst.scale[0], inst.scale[1], inst.scale[2]),
    }
}
