//! Unit meshes the scene is drawn with: a cube of half-size 1, a cylinder of
//! radius 1 and half-height 1 along y (rapier's axis), and a sphere of radius 1.
//! Low-poly on purpose: at 64x64 a 16-sided cylinder is already round.

use bytemuck::{Pod, Zeroable};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Vertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
}

/// Which unit mesh an instance uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MeshKind {
    Cube = 0,
    Cylinder = 1,
    Sphere = 2,
}

pub const MESH_COUNT: usize = 3;

/// All unit meshes in one vertex and one index buffer.
pub struct MeshSet {
    pub vertices: Vec<Vertex>,
    pub indices: Vec<u32>,
    /// Index range of each [`MeshKind`].
    pub ranges: [std::ops::Range<u32>; MESH_COUNT],
}

const CYLINDER_SEGMENTS: usize = 14;
const SPHERE_STACKS: usize = 6;
const SPHERE_SLICES: usize = 10;

impl MeshSet {
    pub fn build() -> MeshSet {
        let mut set = MeshSet {
            vertices: Vec::new(),
            indices: Vec::new(),
            ranges: [0..0, 0..0, 0..0],
        };
        let start = set.indices.len() as u32;
        set.cube();
        set.ranges[MeshKind::Cube as usize] = start..set.indices.len() as u32;
        let start = set.indices.len() as u32;
        set.cylinder();
        set.ranges[MeshKind::Cylinder as usize] = start..set.indices.len() as u32;
        let start = set.indices.len() as u32;
        set.sphere();
        set.ranges[MeshKind::Sphere as usize] = start..set.indices.len() as u32;
        set
    }

    fn quad(&mut self, corners: [[f32; 3]; 4], normal: [f32; 3]) {
        let base = self.vertices.len() as u32;
        for position in corners {
            self.vertices.push(Vertex { position, normal });
        }
        self.indices
            .extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    }

    fn cube(&mut self) {
        // Each face: normal axis, and two tangent axes (t, b) with t x b = n.
        for axis in 0..3 {
            for sign in [1.0f32, -1.0] {
                let mut n = [0.0; 3];
                n[axis] = sign;
                let (ta, ba) = ((axis + 1) % 3, (axis + 2) % 3);
                let corner = |s: f32, t: f32| {
                    let mut p = n;
                    p[ta] = s;
                    p[ba] = t;
                    p
                };
                // Counter-clockwise seen from outside.
                if sign > 0.0 {
                    self.quad(
                        [
                            corner(-1.0, -1.0),
                            corner(1.0, -1.0),
                            corner(1.0, 1.0),
                            corner(-1.0, 1.0),
                        ],
                        n,
                    );
                } else {
                    self.quad(
                        [
                            corner(-1.0, -1.0),
                            corner(-1.0, 1.0),
                            corner(1.0, 1.0),
                            corner(1.0, -1.0),
                        ],
                        n,
                    );
                }
            }
        }
    }

    fn cylinder(&mut self) {
        let n = CYLINDER_SEGMENTS;
        let ring = |k: usize| {
            let a = k as f32 / n as f32 * std::f32::consts::TAU;
            (a.cos(), a.sin())
        };
        // Side: the axis is y, the ring lies in (z, x) so that winding is outward.
        let base = self.vertices.len() as u32;
        for k in 0..=n {
            let (c, s) = ring(k);
            for y in [-1.0, 1.0] {
                self.vertices.push(Vertex {
                    position: [s, y, c],
                    normal: [s, 0.0, c],
                });
            }
        }
        for k in 0..n as u32 {
            let (a0, a1, b0, b1) = (
                base + 2 * k,
                base + 2 * k + 1,
                base + 2 * k + 2,
                base + 2 * k + 3,
            );
            self.indices.extend_from_slice(&[a0, b0, b1, a0, b1, a1]);
        }
        // Caps.
        for y in [1.0f32, -1.0] {
            let centre = self.vertices.len() as u32;
            self.vertices.push(Vertex {
                position: [0.0, y, 0.0],
                normal: [0.0, y, 0.0],
            });
            for k in 0..=n {
                let (c, s) = ring(k);
                self.vertices.push(Vertex {
                    position: [s, y, c],
                    normal: [0.0, y, 0.0],
                });
            }
            for k in 0..n as u32 {
                let (p, q) = (centre + 1 + k, centre + 2 + k);
                if y > 0.0 {
                    self.indices.extend_from_slice(&[centre, p, q]);
                } else {
                    self.indices.extend_from_slice(&[centre, q, p]);
                }
            }
        }
    }

    fn sphere(&mut self) {
        let base = self.vertices.len() as u32;
        for i in 0..=SPHERE_STACKS {
            let theta = i as f32 / SPHERE_STACKS as f32 * std::f32::consts::PI;
            for j in 0..=SPHERE_SLICES {
                let phi = j as f32 / SPHERE_SLICES as f32 * std::f32::consts::TAU;
                let p = [
                    theta.sin() * phi.cos(),
                    theta.sin() * phi.sin(),
                    theta.cos(),
                ];
                self.vertices.push(Vertex {
                    position: p,
                    normal: p,
                });
            }
        }
        let w = SPHERE_SLICES as u32 + 1;
        for i in 0..SPHERE_STACKS as u32 {
            for j in 0..SPHERE_SLICES as u32 {
                let a = base + i * w + j;
                let b = a + w;
                // The triangles touching a pole with zero area are left out.
                if i > 0 {
                    self.indices.extend_from_slice(&[a, b, a + 1]);
                }
                if i + 1 < SPHERE_STACKS as u32 {
                    self.indices.extend_from_slice(&[a + 1, b, b + 1]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every triangle of a closed convex unit mesh winds counter-clockwise seen
    /// from outside: its geometric normal points away from the origin.
    #[test]
    fn triangles_face_outward() {
        let m = MeshSet::build();
        for (kind, range) in m.ranges.iter().enumerate() {
            assert!(!range.is_empty());
            for t in m.indices[range.start as usize..range.end as usize].chunks(3) {
                let p = |i: u32| glam::Vec3::from_array(m.vertices[i as usize].position);
                let (a, b, c) = (p(t[0]), p(t[1]), p(t[2]));
                let n = (b - a).cross(c - a);
                assert!(n.length() > 1e-6, "mesh {kind}: degenerate triangle {t:?}");
                let centroid = (a + b + c) / 3.0;
                assert!(n.dot(centroid) > 0.0, "mesh {kind}: inward triangle {t:?}");
            }
        }
    }
}
