//! The physical Sawyer world on rapier3d: table, walls, task fixtures, the object,
//! and a gripper that follows a mocap target the way Meta-World's weld does.
//!
//! Model (see `docs/physics.md`):
//! - The hand is a kinematic body driven toward the mocap target by a critically
//!   damped spring (the weld), integrated at MuJoCo's 2.5 ms timestep. Its motion
//!   is limited by shape casts against the static scenery, so fingers stop on the
//!   table, the hole floor or a bin wall instead of passing through.
//! - Each finger is a kinematic body on a slide joint whose coordinate follows
//!   MuJoCo's position actuator (kp 400, damping 1000, armature 100, joint
//!   limits). A finger closing on an object stops once it squeezes it by
//!   [`SQUEEZE`]; the object is then held by friction alone.
//! - Objects, with Meta-World's shapes and masses, are dynamic bodies.

use crate::task::TaskKind;
use rapier3d::glamx::{Mat3, Quat};
use rapier3d::parry::bounding_volume::BoundingVolume;
use rapier3d::parry::query::{self as pq, ShapeCastOptions};
use rapier3d::prelude::*;

/// Meta-World's physics timestep (s).
pub const MJ_TIMESTEP: f64 = 0.0025;
/// Physics timesteps per control step (frame skip).
pub const FRAME_SKIP: usize = 5;
/// Control period (s): 80 Hz.
pub const CONTROL_DT: f64 = MJ_TIMESTEP * FRAME_SKIP as f64;
/// Control steps per second (1 / CONTROL_DT): recordings play back at this rate.
pub const CONTROL_HZ: u32 = 80;
/// Action xyz scale (metres per unit action).
pub const ACTION_SCALE: f64 = 0.01;
/// How far (m) a closing finger may press into an object.
pub const SQUEEZE: f64 = 0.003;

/// Natural frequency (rad/s) of the hand's weld spring; fitted to the lag the
/// fixtures show between `mocap_pos` and the hand (about 4 cm at 0.8 m/s).
const WELD_OMEGA: f64 = 40.0;
/// Where the weld holds the hand relative to the mocap at rest: the arm's weight
/// sags it by about 5 mm (reset records: mocap z 0.2, hand z 0.19514). Experts
/// rely on it: bin-picking's descent only ends because the hand sags below its
/// 0.07 box floor.
const WELD_SAG: [f64; 3] = [0.0, 0.0, -0.004_857];

const FINGER_KP: f64 = 400.0;
const FINGER_DAMPING: f64 = 1000.0;
const FINGER_ARMATURE: f64 = 100.0;
const R_CLOSE_RANGE: (f64, f64) = (0.0, 0.04);
const L_CLOSE_RANGE: (f64, f64) = (-0.03, 0.0);
/// Claw offset along y from the hand when the fingers are fully open.
const CLAW_Y: f64 = 0.05;
/// Pad offset from its claw, toward the gripper's centre.
const PAD_Y: f64 = 0.003;
/// Pad / claw box half-size (world x, y, z).
const PAD_HALF: [f32; 3] = [0.015, 0.003, 0.045];
/// Radius of the drawn goal marker (Meta-World's goal sites are 2 cm spheres).
const GOAL_MARKER_RADIUS: f32 = 0.02;
/// Fingertip (end-effector site) below the hand origin.
const TIP_Z: f64 = 0.045;

/// Tunable physics settings (the defaults are what the benchmarks and bars use).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhysicsConfig {
    /// rapier steps per control step.
    pub substeps: usize,
    /// rapier solver iterations per step.
    pub solver_iterations: usize,
}

impl Default for PhysicsConfig {
    fn default() -> Self {
        PhysicsConfig {
            substeps: 1,
            solver_iterations: 8,
        }
    }
}

fn v3(a: [f64; 3]) -> Vector {
    Vector::new(a[0] as f32, a[1] as f32, a[2] as f32)
}
fn arr(v: Vector) -> [f64; 3] {
    [v.x as f64, v.y as f64, v.z as f64]
}
use crate::vec3::add;
fn pose_t(t: [f64; 3]) -> Pose {
    Pose::from_translation(v3(t))
}

/// Friction/contact material of a collider. Frictions are averaged (MuJoCo takes
/// the max; see docs/physics.md for why we do not).
fn material(b: ColliderBuilder, friction: f32) -> ColliderBuilder {
    b.friction(friction)
        .friction_combine_rule(CoefficientCombineRule::Average)
        .restitution(0.0)
}

mod gripper;
mod scene;
mod shapes;

pub use shapes::{
    arm_joints, fingers_from_opening, moved_shapes, Role, ShapeInstance, ShapeKind, ARM_FOREARM,
    ARM_SHOULDER, ARM_UPPER, ARM_WRIST_ABOVE_HAND,
};

/// A rapier world holding one Meta-World task scene.
pub struct SawyerWorld {
    task: TaskKind,
    config: PhysicsConfig,
    world: PhysicsWorld,
    hand_body: RigidBodyHandle,
    finger_r_body: RigidBodyHandle,
    finger_l_body: RigidBodyHandle,
    /// Hand-base, right finger, left finger colliders (cast against scenery).
    gripper_colliders: [ColliderHandle; 3],
    pad_r: ColliderHandle,
    pad_l: ColliderHandle,
    object_body: RigidBodyHandle,
    object_colliders: Vec<ColliderHandle>,
    main_geom: ColliderHandle,
    /// Static colliders and their role, for rendering.
    static_colliders: Vec<(ColliderHandle, Role)>,
    // Driven state (f64, integrated at MJ_TIMESTEP).
    mocap: [f64; 3],
    hand: [f64; 3],
    hand_vel: [f64; 3],
    q_r: f64,
    q_l: f64,
    qd_r: f64,
    qd_l: f64,
    ctrl: f64,
    /// Both pads pressed on the object at the last check.
    gripping: bool,
    /// The task's goal position (drawn as the goal marker).
    goal: [f64; 3],
}
impl SawyerWorld {
    pub fn task(&self) -> TaskKind {
        self.task
    }

    pub fn config(&self) -> PhysicsConfig {
        self.config
    }

    /// Applies one action: moves the mocap target by `clip(a[:3], -1, 1) * 0.01`
    /// inside the task's hand box, sets the gripper command `a[3]`, and advances
    /// the physics by one control period.
    pub fn step(&mut self, action: [f64; 4]) {
        let (lo, hi) = (self.task.hand_low(), self.task.hand_high());
        for i in 0..3 {
            let d = action[i].clamp(-1.0, 1.0) * ACTION_SCALE;
            self.mocap[i] = (self.mocap[i] + d).clamp(lo[i], hi[i]);
        }
        // MuJoCo clamps the actuator control to its ctrlrange.
        self.ctrl = action[3].clamp(-1.0, 1.0);
        let n = self.config.substeps.max(1);
        let micro = (FRAME_SKIP / n).max(1);
        let h = CONTROL_DT / (n * micro) as f64;
        for _ in 0..n {
            let start = self.hand;
            for _ in 0..micro {
                self.integrate_drives(h);
            }
            self.limit_hand_motion(start);
            self.limit_fingers(start);
            self.place_gripper(false);
            self.world.step();
        }
    }
    // ---- read-outs -------------------------------------------------------

    /// Current mocap target.
    pub fn mocap_pos(&self) -> [f64; 3] {
        self.mocap
    }
    /// Hand body origin (obs[0:3]).
    pub fn hand_pos(&self) -> [f64; 3] {
        self.hand
    }
    /// Right and left claw origins.
    pub fn claws(&self) -> ([f64; 3], [f64; 3]) {
        (
            add(self.hand, [0.0, -CLAW_Y + self.q_r, 0.0]),
            add(self.hand, [0.0, CLAW_Y + self.q_l, 0.0]),
        )
    }
    /// Gripper opening observation: claw distance / 0.1, clipped to [0, 1].
    pub fn gripper_opening(&self) -> f64 {
        let (r, l) = self.claws();
        let d = ((r[0] - l[0]).powi(2) + (r[1] - l[1]).powi(2) + (r[2] - l[2]).powi(2)).sqrt();
        (d / 0.1).clamp(0.0, 1.0)
    }
    /// Right and left pad body origins.
    pub fn pads(&self) -> ([f64; 3], [f64; 3]) {
        let (r, l) = self.claws();
        (add(r, [0.0, PAD_Y, 0.0]), add(l, [0.0, -PAD_Y, 0.0]))
    }
    /// Midpoint of the two fingertips.
    pub fn tcp_center(&self) -> [f64; 3] {
        let (r, l) = self.claws();
        [
            (r[0] + l[0]) / 2.0,
            (r[1] + l[1]) / 2.0,
            (r[2] + l[2]) / 2.0 - TIP_Z,
        ]
    }
    /// Object body origin and rotation.
    pub fn object_pose(&self) -> ([f64; 3], Quat) {
        let b = &self.world.bodies[self.object_body];
        (arr(b.translation()), *b.rotation())
    }
    /// Object linear velocity.
    pub fn object_velocity(&self) -> [f64; 3] {
        arr(self.world.bodies[self.object_body].linvel())
    }
    /// Both pads touch the main object geom with a positive normal impulse.
    pub fn touching_main_object(&self) -> bool {
        let touch = |pad| {
            self.world
                .narrow_phase
                .contact_pair(pad, self.main_geom)
                .is_some_and(|p| p.total_impulse_magnitude() > 0.0)
        };
        touch(self.pad_r) && touch(self.pad_l)
    }
    /// Finger joint coordinates (r_close, l_close).
    pub fn finger_joints(&self) -> (f64, f64) {
        (self.q_r, self.q_l)
    }
    /// The task's goal position.
    pub fn goal(&self) -> [f64; 3] {
        self.goal
    }
}

/// Rotation matrix of a quaternion, row-major, f64.
pub fn quat_matrix(q: Quat) -> [[f64; 3]; 3] {
    let m = Mat3::from_quat(q);
    let c = m.to_cols_array_2d();
    let mut r = [[0.0; 3]; 3];
    for (i, row) in r.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = c[j][i] as f64;
        }
    }
    r
}
