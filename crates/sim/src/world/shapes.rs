//! What the world looks like: every collider as a drawable primitive with its role, and
//! the drawn-only Sawyer arm (pedestal and two links) that follows the hand.

use super::*;

/// Where the object's parts sit, for rendering and tests.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ShapeInstance {
    /// World pose: translation and quaternion (x, y, z, w).
    pub translation: [f32; 3],
    pub rotation: [f32; 4],
    pub shape: ShapeKind,
    /// What the part belongs to.
    pub role: Role,
}

/// Primitive shapes used in the scene (metres, in the instance's local frame).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum ShapeKind {
    Box {
        half: [f32; 3],
    },
    /// Cylinder along the local y axis (rapier's convention).
    Cylinder {
        radius: f32,
        half_height: f32,
    },
    Sphere {
        radius: f32,
    },
    /// Capsule around the local segment a-b.
    Capsule {
        radius: f32,
        a: [f32; 3],
        b: [f32; 3],
    },
}

/// The scene element a shape belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    Table,
    Fixture,
    Object,
    Hand,
    Finger,
    /// Sawyer's pedestal and links (drawn, not collided).
    Arm,
    /// The task's goal site (drawn, not collided).
    Goal,
}

/// Sawyer's proportions for the drawn arm: pedestal top, shoulder height,
/// upper arm and forearm lengths, wrist above the hand (`right_hand` is 0.12 m
/// above the `hand` body in Meta-World's model).
pub const ARM_SHOULDER: [f64; 3] = [0.0, 0.0, 0.317];
pub const ARM_UPPER: f64 = 0.58;
pub const ARM_FOREARM: f64 = 0.62;
pub const ARM_WRIST_ABOVE_HAND: f64 = 0.12;

/// Joint positions (pedestal foot, shoulder, elbow, wrist, hand) of a two-link
/// arm reaching the wrist point above `hand`, elbow up, in the vertical plane
/// through the base and the wrist.
pub fn arm_joints(hand: [f64; 3]) -> [[f64; 3]; 5] {
    let s = ARM_SHOULDER;
    let w = add(hand, [0.0, 0.0, ARM_WRIST_ABOVE_HAND]);
    let d = [w[0] - s[0], w[1] - s[1], w[2] - s[2]];
    let horiz = (d[0] * d[0] + d[1] * d[1]).sqrt();
    let dist = (horiz * horiz + d[2] * d[2]).sqrt().max(1e-9);
    let (l1, l2) = (ARM_UPPER, ARM_FOREARM);
    // Clamp into the reachable annulus; the drawn wrist then stops short.
    let r = dist.clamp((l1 - l2).abs() + 1e-6, l1 + l2 - 1e-6);
    let cos_a = ((l1 * l1 + r * r - l2 * l2) / (2.0 * l1 * r)).clamp(-1.0, 1.0);
    let base_angle = d[2].atan2(horiz);
    let a = base_angle + cos_a.acos();
    let (ux, uy) = if horiz > 1e-9 {
        (d[0] / horiz, d[1] / horiz)
    } else {
        (0.0, 1.0)
    };
    let elbow = [
        s[0] + l1 * a.cos() * ux,
        s[1] + l1 * a.cos() * uy,
        s[2] + l1 * a.sin(),
    ];
    let wrist = if (r - dist).abs() < 1e-9 {
        w
    } else {
        [
            s[0] + d[0] * r / dist,
            s[1] + d[1] * r / dist,
            s[2] + d[2] * r / dist,
        ]
    };
    [[0.0, 0.0, -0.913], s, elbow, wrist, hand]
}

/// Shapes with the hand moved to `hand` (gripper and fingers shifted with it, the drawn arm
/// re-posed to reach it) and/or every object part shifted by `object_shift`; nothing is
/// simulated and everything else stays as it is. `shapes` and `hand_now` are a world's
/// [`SawyerWorld::shapes`] and hand position. The reward field re-renders these for FB models
/// that read camera frames.
pub fn moved_shapes(
    shapes: &[ShapeInstance],
    hand_now: [f64; 3],
    hand: Option<[f64; 3]>,
    object_shift: Option<[f64; 3]>,
) -> Vec<ShapeInstance> {
    let dh = hand.map(|h| [h[0] - hand_now[0], h[1] - hand_now[1], h[2] - hand_now[2]]);
    let joints = hand.map(arm_joints);
    let mut arm_link = 0;
    let shift = |s: &mut ShapeInstance, d: [f64; 3]| {
        for (t, dk) in s.translation.iter_mut().zip(d) {
            *t += dk as f32;
        }
    };
    shapes
        .iter()
        .map(|s| {
            let mut s = s.clone();
            match (s.role, dh, object_shift) {
                (Role::Hand | Role::Finger, Some(d), _) => shift(&mut s, d),
                (Role::Object, _, Some(d)) => shift(&mut s, d),
                (Role::Arm, Some(_), _) => {
                    if let (ShapeKind::Capsule { a, b, .. }, Some(j)) = (&mut s.shape, joints) {
                        *a = j[arm_link].map(|x| x as f32);
                        *b = j[arm_link + 1].map(|x| x as f32);
                        arm_link += 1;
                    }
                }
                _ => {}
            }
            s
        })
        .collect()
}

impl SawyerWorld {
    /// Every collider of the scene as a primitive, for renderers.
    pub fn shapes(&self) -> Vec<ShapeInstance> {
        let mut out = Vec::new();
        let mut push = |h: ColliderHandle, role: Role| {
            let co = &self.world.colliders[h];
            let p = co.position();
            let rot = p.rotation;
            let shape = if let Some(c) = co.shape().as_cuboid() {
                ShapeKind::Box {
                    half: c.half_extents.to_array(),
                }
            } else if let Some(c) = co.shape().as_cylinder() {
                ShapeKind::Cylinder {
                    radius: c.radius,
                    half_height: c.half_height,
                }
            } else if let Some(c) = co.shape().as_capsule() {
                ShapeKind::Capsule {
                    radius: c.radius,
                    a: c.segment.a.to_array(),
                    b: c.segment.b.to_array(),
                }
            } else {
                return;
            };
            let q = rot;
            out.push(ShapeInstance {
                translation: p.translation.to_array(),
                rotation: [q.x, q.y, q.z, q.w],
                shape,
                role,
            });
        };
        for (h, role) in &self.static_colliders {
            push(*h, *role);
        }
        for h in &self.object_colliders {
            push(*h, Role::Object);
        }
        push(self.gripper_colliders[0], Role::Hand);
        for b in [self.finger_r_body, self.finger_l_body] {
            for h in self.world.bodies[b].colliders() {
                push(*h, Role::Finger);
            }
        }
        let j = arm_joints(self.hand);
        for (k, radius) in [(0, 0.09f32), (1, 0.065), (2, 0.055), (3, 0.045)] {
            out.push(ShapeInstance {
                translation: [0.0; 3],
                rotation: [0.0, 0.0, 0.0, 1.0],
                shape: ShapeKind::Capsule {
                    radius,
                    a: j[k].map(|x| x as f32),
                    b: j[k + 1].map(|x| x as f32),
                },
                role: Role::Arm,
            });
        }
        out.push(ShapeInstance {
            translation: self.goal.map(|x| x as f32),
            rotation: [0.0, 0.0, 0.0, 1.0],
            shape: ShapeKind::Sphere {
                radius: GOAL_MARKER_RADIUS,
            },
            role: Role::Goal,
        });
        out
    }
}

/// The finger joints (right, left) that give the claws `opening` apart (metres, as obs[3] *
/// 0.1 records it), as the actuators move free fingers: symmetrically, the left finger stopping
/// at its 3 cm limit and the right one taking the rest. With `centre` (the claws' centre's y
/// offset from the hand, where a grasped object sits) the claws are centred there instead, as a
/// grasp centres them. A guess for runs that did not record the joints: after a grasp the
/// simulated fingers stay off centre for a while, by up to about a centimetre.
pub fn fingers_from_opening(opening: f64, centre: Option<f64>) -> (f64, f64) {
    let closing = (2.0 * CLAW_Y - opening).clamp(
        R_CLOSE_RANGE.0 - L_CLOSE_RANGE.1,
        R_CLOSE_RANGE.1 - L_CLOSE_RANGE.0,
    );
    // q_r - q_l = closing; q_r + q_l = twice the claws' centre offset.
    let q_l = (centre.unwrap_or(0.0) - closing / 2.0)
        .clamp(L_CLOSE_RANGE.0, L_CLOSE_RANGE.1)
        .max(R_CLOSE_RANGE.0 - closing)
        .min(R_CLOSE_RANGE.1 - closing);
    (closing + q_l, q_l)
}

impl SawyerWorld {
    /// This world's scene with the hand at `hand`, the finger joints at `fingers` (right,
    /// left) and the object's body at `object` (origin and rotation); the table, fixtures and
    /// goal marker stay as they are. Nothing is simulated: replays rebuild a recorded step's
    /// scene with this.
    pub fn shapes_posed(
        &self,
        hand: [f64; 3],
        fingers: (f64, f64),
        object: ([f64; 3], Quat),
    ) -> Vec<ShapeInstance> {
        let (q_r, q_l) = fingers;
        let finger_dy = |right: bool| {
            if right {
                q_r - self.q_r
            } else {
                q_l - self.q_l
            }
        };
        let (p0, q0) = self.object_pose();
        let (p1, q1) = object;
        let inv0 = q0.inverse();
        let hand_y = self.hand[1] as f32;
        let mut out = moved_shapes(&self.shapes(), self.hand, Some(hand), None);
        for s in &mut out {
            match s.role {
                Role::Finger => {
                    // Right claw at -CLAW_Y from the hand, left at +CLAW_Y (before the move:
                    // `moved_shapes` shifted both by the hand's travel).
                    let before = s.translation[1] - (hand[1] - self.hand[1]) as f32;
                    s.translation[1] += finger_dy(before < hand_y) as f32;
                }
                Role::Object => {
                    let t = Vector::from_array(s.translation) - v3(p0);
                    let r = Quat::from_array(s.rotation);
                    let rel_t = inv0 * t;
                    let rel_r = inv0 * r;
                    let t1 = v3(p1) + q1 * rel_t;
                    let r1 = (q1 * rel_r).normalize();
                    s.translation = t1.to_array();
                    s.rotation = r1.to_array();
                }
                _ => {}
            }
        }
        out
    }
}
