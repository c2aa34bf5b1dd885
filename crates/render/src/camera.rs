//! Meta-World's named cameras and the projection we render them with.
//!
//! Positions, view directions and vertical fields of view are Meta-World's
//! (facts §1.9). The roll is ours: MuJoCo's corner cameras have their image
//! "up" pointing at the floor, and its frames come out bottom row first, so
//! Meta-World users get frames upside down or on their side. We keep each
//! camera's position and view direction and turn it about that direction so
//! that world up is image up (straight-down cameras keep MuJoCo's roll).
//! Row 0 of every frame we return is the top of the picture.

use glam::{DMat3, DQuat, DVec3, Mat4, Vec3};
use std::fmt;
use std::str::FromStr;

/// A named Meta-World camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CameraName {
    Corner,
    Corner2,
    Corner3,
    Corner4,
    Topview,
    BehindGripper,
    GripperPov,
    /// Ours, not Meta-World's: from beyond the far edge of the table, looking back at the
    /// robot along -y. Meta-World's cameras see the goal box across its long sides, so one
    /// frame leaves where a goal lies along the line of sight uncertain by up to 16 cm
    /// (corner4) to 25 cm (topview), more than reach's 5 cm success radius; this line of sight
    /// crosses the box along its thinnest side (y, 10 cm). The pixel agents use it.
    Front,
}

impl CameraName {
    /// All cameras, in Meta-World's order.
    pub const ALL: [CameraName; 8] = [
        CameraName::Corner,
        CameraName::Corner2,
        CameraName::Corner3,
        CameraName::Corner4,
        CameraName::Topview,
        CameraName::BehindGripper,
        CameraName::GripperPov,
        CameraName::Front,
    ];

    /// Meta-World's name for the camera.
    pub fn name(self) -> &'static str {
        match self {
            CameraName::Corner => "corner",
            CameraName::Corner2 => "corner2",
            CameraName::Corner3 => "corner3",
            CameraName::Corner4 => "corner4",
            CameraName::Topview => "topview",
            CameraName::BehindGripper => "behindGripper",
            CameraName::GripperPov => "gripperPOV",
            CameraName::Front => "front",
        }
    }

    /// Whether the camera follows the hand.
    pub fn tracks_hand(self) -> bool {
        matches!(self, CameraName::BehindGripper | CameraName::GripperPov)
    }

    /// The camera's pose for a hand at `hand` (world frame, metres).
    pub fn pose(self, hand: [f64; 3]) -> CameraPose {
        // MuJoCo quaternions are (w, x, y, z).
        let q = |w: f64, x: f64, y: f64, z: f64| DQuat::from_xyzw(x, y, z, w).normalize();
        let (pos, rot, fovy) = match self {
            CameraName::Front => return CameraPose::look_at(FRONT_EYE, FRONT_TARGET, 50.0),
            CameraName::Topview => (DVec3::new(0.0, 0.5, 1.5), q(1.0, 0.0, 0.0, 0.0), 45.0),
            CameraName::Corner => (
                DVec3::new(-1.1, -0.4, 0.6),
                q(0.305208, -0.230856, -0.557335, 0.736838),
                45.0,
            ),
            CameraName::Corner2 => (
                DVec3::new(1.3, -0.2, 1.1),
                q(-0.395038, 0.262667, -0.434937, 0.765363),
                60.0,
            ),
            CameraName::Corner3 => (
                DVec3::new(0.9, 0.0, 1.5),
                q(-0.494554, 0.105737, -0.255944, 0.823850),
                45.0,
            ),
            CameraName::Corner4 => (
                DVec3::new(0.75, 0.075, 0.7),
                q(-0.395038, 0.262667, -0.434937, 0.765363),
                60.0,
            ),
            CameraName::BehindGripper | CameraName::GripperPov => {
                let (local_pos, local_rot, fovy) = if self == CameraName::BehindGripper {
                    (DVec3::new(0.0, 0.0, -0.5), q(0.0, 1.0, 0.0, 0.0), 60.0)
                } else {
                    (DVec3::new(0.04, -0.06, 0.0), q(-1.0, -1.3, 0.0, 0.0), 90.0)
                };
                let hand_rot = hand_rotation();
                (
                    DVec3::from_array(hand) + hand_rot * local_pos,
                    hand_rot * local_rot,
                    fovy,
                )
            }
        };
        CameraPose::from_mujoco(pos, rot, fovy)
    }
}

/// Where the `front` camera stands and what it looks at (world frame, metres).
const FRONT_EYE: [f32; 3] = [0.0, 1.45, 0.40];
const FRONT_TARGET: [f32; 3] = [0.0, 0.75, 0.12];

/// The hand body's world rotation: Meta-World re-sets the mocap quaternion to
/// (1, 0, 1, 0) every step, so hand-local +x points down and +y along world y.
pub fn hand_rotation() -> DQuat {
    DQuat::from_xyzw(0.0, 1.0, 0.0, 1.0).normalize()
}

impl fmt::Display for CameraName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown camera name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown camera '{0}' (known: corner, corner2, corner3, corner4, topview, behindGripper, gripperPOV, front)")]
pub struct UnknownCamera(pub String);

impl FromStr for CameraName {
    type Err = UnknownCamera;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept Meta-World's spelling and any case.
        let lower = s.to_ascii_lowercase();
        CameraName::ALL
            .into_iter()
            .find(|c| c.name().to_ascii_lowercase() == lower)
            .ok_or_else(|| UnknownCamera(s.to_string()))
    }
}

/// Where a camera is and where it looks (world frame, z up).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CameraPose {
    pub eye: Vec3,
    /// Unit view direction.
    pub forward: Vec3,
    /// Unit image-up direction, orthogonal to `forward`.
    pub up: Vec3,
    /// Vertical field of view in degrees (MuJoCo's `fovy`).
    pub fovy_deg: f32,
}

impl CameraPose {
    /// From a MuJoCo camera frame (looks along local -z, image up is local +y),
    /// turned about the view axis so that world up is image up.
    pub fn from_mujoco(pos: DVec3, rot: DQuat, fovy_deg: f64) -> CameraPose {
        let m = DMat3::from_quat(rot);
        let forward = -m.z_axis;
        let mj_up = m.y_axis;
        let world_up = DVec3::Z;
        let up = if forward.dot(world_up).abs() < 0.98 {
            (world_up - forward * forward.dot(world_up)).normalize()
        } else {
            mj_up
        };
        CameraPose {
            eye: pos.as_vec3(),
            forward: forward.normalize().as_vec3(),
            up: up.as_vec3(),
            fovy_deg: fovy_deg as f32,
        }
    }

    /// A camera at `eye` looking at `target`, world up as image up.
    pub fn look_at(eye: [f32; 3], target: [f32; 3], fovy_deg: f32) -> CameraPose {
        let eye = Vec3::from_array(eye);
        let forward = (Vec3::from_array(target) - eye).normalize();
        let up = if forward.z.abs() < 0.98 {
            (Vec3::Z - forward * forward.z).normalize()
        } else {
            Vec3::Y
        };
        CameraPose {
            eye,
            forward,
            up,
            fovy_deg,
        }
    }

    /// View-projection matrix (right-handed, depth 0..1) for an image of `aspect` = width / height.
    pub fn view_proj(&self, aspect: f32) -> Mat4 {
        let view = glam::camera::rh::view::look_to_mat4(self.eye, self.forward, self.up);
        let proj = glam::camera::rh::proj::directx::perspective(
            self.fovy_deg.to_radians(),
            aspect,
            NEAR,
            FAR,
        );
        proj * view
    }
}

impl CameraPose {
    /// Where the world point `p` (metres) shows in a `width x height` frame of this camera, in
    /// pixels from the top-left corner (x right, y down; a pixel's centre at `+0.5`); `None`
    /// behind the camera.
    pub fn project(&self, p: [f64; 3], width: u32, height: u32) -> Option<[f64; 2]> {
        let m = self.view_proj(width as f32 / height.max(1) as f32);
        let c = m * glam::Vec4::new(p[0] as f32, p[1] as f32, p[2] as f32, 1.0);
        if c.w <= 0.0 {
            return None;
        }
        let (x, y) = ((c.x / c.w) as f64, (c.y / c.w) as f64);
        Some([
            (x + 1.0) / 2.0 * width as f64,
            (1.0 - y) / 2.0 * height as f64,
        ])
    }
}

/// Clip planes (metres): MuJoCo's defaults scaled to the scene's extent.
const NEAR: f32 = 0.01;
const FAR: f32 = 10.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_any_case() {
        for c in CameraName::ALL {
            assert_eq!(c.name().parse::<CameraName>().unwrap(), c);
            assert_eq!(c.name().to_uppercase().parse::<CameraName>().unwrap(), c);
        }
        assert!("corner9".parse::<CameraName>().is_err());
    }

    #[test]
    fn corner_looks_at_the_table_and_up_is_up() {
        // corner: xyaxes (-1,1,0, -0.2,-0.2,-1): z = x cross y points away from the view.
        let p = CameraName::Corner.pose([0.0, 0.6, 0.2]);
        let x = DVec3::new(-1.0, 1.0, 0.0).normalize();
        let y = DVec3::new(-0.2, -0.2, -1.0);
        let y = (y - x * x.dot(y)).normalize();
        let z = x.cross(y);
        let fwd = (-z).as_vec3();
        assert!(
            (p.forward - fwd).length() < 1e-5,
            "{:?} vs {:?}",
            p.forward,
            fwd
        );
        assert!(p.up.z > 0.5);
        assert!(p.up.dot(p.forward).abs() < 1e-6);
    }

    #[test]
    fn topview_looks_straight_down_with_far_table_edge_at_top() {
        let p = CameraName::Topview.pose([0.0, 0.6, 0.2]);
        assert!((p.forward - Vec3::new(0.0, 0.0, -1.0)).length() < 1e-6);
        assert!((p.up - Vec3::Y).length() < 1e-6);
    }

    #[test]
    fn behind_gripper_sits_half_a_metre_behind_the_hand_looking_at_it() {
        let hand = [0.1, 0.6, 0.2];
        let p = CameraName::BehindGripper.pose(hand);
        // hand-local (0,0,-0.5) is world -x.
        assert!(
            (p.eye - Vec3::new(-0.4, 0.6, 0.2)).length() < 1e-5,
            "{:?}",
            p.eye
        );
        assert!((p.forward - Vec3::X).length() < 1e-5);
    }
}
