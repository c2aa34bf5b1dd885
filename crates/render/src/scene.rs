//! Turns the simulation's shape list into GPU instances: one entry per unit
//! mesh with pose, scale and colour. The palette is chosen so the parts a
//! policy must tell apart (table, arm, gripper, object, goal) differ in hue
//! and brightness even at 64x64.

use crate::mesh::MeshKind;
use bytemuck::{Pod, Zeroable};
use genreward_sim::world::{Role, ShapeInstance, ShapeKind};
use glam::{Quat, Vec3};

/// One drawn primitive, as the shader reads it (64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct GpuInstance {
    /// Quaternion (x, y, z, w).
    pub rotation: [f32; 4],
    /// xyz: translation.
    pub translation: [f32; 4],
    /// xyz: scale of the unit mesh; w: specular strength.
    pub scale: [f32; 4],
    /// rgb: albedo; a: emissive share.
    pub color: [f32; 4],
}

/// Albedo, specular strength and emissive share of a role.
pub fn material(role: Role) -> ([f32; 3], f32, f32) {
    match role {
        // Light wood.
        Role::Table => ([0.72, 0.56, 0.40], 0.05, 0.0),
        // Blue-grey: bins, shelf, hole block, peg.
        Role::Fixture => ([0.42, 0.48, 0.60], 0.15, 0.0),
        // Saturated orange: the thing to move.
        Role::Object => ([0.95, 0.45, 0.08], 0.25, 0.0),
        // Dark metal.
        Role::Hand => ([0.16, 0.16, 0.18], 0.35, 0.0),
        // Light metal pads so the gripper opening reads.
        Role::Finger => ([0.78, 0.78, 0.80], 0.35, 0.0),
        // Sawyer red.
        Role::Arm => ([0.62, 0.08, 0.10], 0.3, 0.0),
        // Green, glowing a little so it shows in shade.
        Role::Goal => ([0.10, 0.85, 0.25], 0.0, 0.45),
    }
}

/// Floor colour (Meta-World's floor sits 0.913 m below the table top).
const FLOOR: [f32; 3] = [0.30, 0.31, 0.34];
const FLOOR_Z: f32 = -0.913;

/// Appends the instances of `shapes` (plus the floor) to `out`, one list per mesh kind.
pub fn push_instances(shapes: &[ShapeInstance], out: &mut [Vec<GpuInstance>; 3]) {
    let mk = |t: Vec3, r: Quat, s: Vec3, (albedo, spec, glow): ([f32; 3], f32, f32)| GpuInstance {
        rotation: r.to_array(),
        translation: [t.x, t.y, t.z, 0.0],
        scale: [s.x, s.y, s.z, spec],
        color: [albedo[0], albedo[1], albedo[2], glow],
    };
    out[MeshKind::Cube as usize].push(mk(
        Vec3::new(0.0, 0.6, FLOOR_Z - 0.01),
        Quat::IDENTITY,
        Vec3::new(4.0, 4.0, 0.01),
        (FLOOR, 0.0, 0.0),
    ));
    for s in shapes {
        let t = Vec3::from_array(s.translation);
        let r = Quat::from_array(s.rotation).normalize();
        let m = material(s.role);
        match s.shape {
            ShapeKind::Box { half } => {
                out[MeshKind::Cube as usize].push(mk(t, r, Vec3::from_array(half), m))
            }
            ShapeKind::Cylinder {
                radius,
                half_height,
            } => out[MeshKind::Cylinder as usize].push(mk(
                t,
                r,
                Vec3::new(radius, half_height, radius),
                m,
            )),
            ShapeKind::Sphere { radius } => {
                out[MeshKind::Sphere as usize].push(mk(t, r, Vec3::splat(radius), m))
            }
            ShapeKind::Capsule { radius, a, b } => {
                let a = t + r * Vec3::from_array(a);
                let b = t + r * Vec3::from_array(b);
                let axis = b - a;
                let len = axis.length();
                if len > 1e-6 {
                    let rot = Quat::from_rotation_arc(Vec3::Y, axis / len);
                    out[MeshKind::Cylinder as usize].push(mk(
                        (a + b) * 0.5,
                        rot,
                        Vec3::new(radius, len * 0.5, radius),
                        m,
                    ));
                }
                // Chained capsules (the arm) share their joints: draw one sphere
                // per joint, the largest.
                for end in [a, b] {
                    let spheres = &mut out[MeshKind::Sphere as usize];
                    let t = [end.x, end.y, end.z, 0.0];
                    if let Some(s) = spheres.iter_mut().find(|s| s.translation == t) {
                        if s.scale[0] < radius {
                            *s = mk(end, Quat::IDENTITY, Vec3::splat(radius), m);
                        }
                    } else {
                        spheres.push(mk(end, Quat::IDENTITY, Vec3::splat(radius), m));
                    }
                }
            }
        }
    }
}
