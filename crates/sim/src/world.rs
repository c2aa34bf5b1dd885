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
fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
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
    /// Builds the scene of `task` with the object at `obj_init_pos`, the task's
    /// fixture placed for `target_pos`, and the hand at `hand_init_pos` with open fingers.
    pub fn new(
        task: TaskKind,
        config: PhysicsConfig,
        obj_init_pos: [f64; 3],
        target_pos: [f64; 3],
    ) -> Self {
        let mut world = PhysicsWorld::new();
        world.gravity = Vector::new(0.0, 0.0, -9.81);
        let ip = &mut world.integration_parameters;
        ip.dt = (CONTROL_DT / config.substeps.max(1) as f64) as f32;
        ip.num_solver_iterations = config.solver_iterations.max(1);
        // Our objects are centimetre-sized: scale the solver's length tolerances.
        ip.length_unit = 0.1;
        // A grasp holds by the friction of the squeeze; the squeeze is a penetration
        // corrected in the biased pass, so friction must act there too.
        ip.friction_in_bias_pass = true;

        let mut statics = Vec::new();
        let ground = world.bodies.insert(RigidBodyBuilder::fixed());
        let mut add_static = |world: &mut PhysicsWorld, body, b: ColliderBuilder, role| {
            let h = world
                .colliders
                .insert_with_parent(b, body, &mut world.bodies);
            statics.push((h, role));
        };
        // Table top surface at z = 0, retaining walls (facts §1.10).
        add_static(
            &mut world,
            ground,
            material(ColliderBuilder::cuboid(0.7, 0.4, 0.46), 1.0)
                .translation(v3([0.0, 0.6, -0.46])),
            Role::Table,
        );
        for (c, h) in [
            ([0.0, 0.21, 0.06], [0.7, 0.01, 0.06]),
            ([0.0, 0.99, 0.06], [0.7, 0.01, 0.06]),
            ([0.69, 0.6, 0.06], [0.01, 0.38, 0.06]),
            ([-0.69, 0.6, 0.06], [0.01, 0.38, 0.06]),
        ] {
            add_static(
                &mut world,
                ground,
                material(ColliderBuilder::cuboid(h[0], h[1], h[2]), 1.0).translation(v3(c)),
                Role::Table,
            );
        }
        for (c, h, f) in task_fixtures(task, obj_init_pos, target_pos) {
            add_static(
                &mut world,
                ground,
                material(ColliderBuilder::cuboid(h[0], h[1], h[2]), f).translation(v3(c)),
                Role::Fixture,
            );
        }
        if task == TaskKind::Disassemble {
            // The peg: cylinder r 0.02, half-length 0.05, at obj_init + (0, 0, 0.03).
            let c = add(obj_init_pos, [0.0, 0.0, 0.03]);
            add_static(
                &mut world,
                ground,
                material(ColliderBuilder::cylinder(0.05, 0.02), 1.0).position(Pose::from_parts(
                    v3(c),
                    Quat::from_rotation_x(std::f32::consts::FRAC_PI_2),
                )),
                Role::Fixture,
            );
        }

        // The object.
        let (object_body, object_colliders, main_geom) =
            build_object(&mut world, task, obj_init_pos);

        // The gripper: hand base and two fingers, all kinematic.
        let hand0 = add(task.hand_init_pos(), WELD_SAG);
        let hand_body = world
            .bodies
            .insert(RigidBodyBuilder::kinematic_position_based().translation(v3(hand0)));
        let base = world.colliders.insert_with_parent(
            material(ColliderBuilder::cuboid(0.025, 0.06, 0.035), 1.0)
                .translation(Vector::new(0.0, 0.0, 0.085)),
            hand_body,
            &mut world.bodies,
        );
        let mk_finger = |world: &mut PhysicsWorld, y: f64| {
            let body = world.bodies.insert(
                RigidBodyBuilder::kinematic_position_based()
                    .translation(v3(add(hand0, [0.0, y, 0.0]))),
            );
            let pad_dir = -y.signum();
            let pad = world.colliders.insert_with_parent(
                material(
                    ColliderBuilder::cuboid(PAD_HALF[0], PAD_HALF[1], PAD_HALF[2]),
                    2.0,
                )
                .translation(Vector::new(0.0, (pad_dir * PAD_Y) as f32, 0.0)),
                body,
                &mut world.bodies,
            );
            let claw = world.colliders.insert_with_parent(
                material(
                    ColliderBuilder::cuboid(PAD_HALF[0], PAD_HALF[1], PAD_HALF[2]),
                    1.0,
                ),
                body,
                &mut world.bodies,
            );
            (body, pad, claw)
        };
        let (finger_r_body, pad_r, claw_r) = mk_finger(&mut world, -CLAW_Y);
        let (finger_l_body, pad_l, claw_l) = mk_finger(&mut world, CLAW_Y);
        let _ = (claw_r, claw_l);

        let mut w = SawyerWorld {
            task,
            config,
            world,
            hand_body,
            finger_r_body,
            finger_l_body,
            gripper_colliders: [base, pad_r, pad_l],
            pad_r,
            pad_l,
            object_body,
            object_colliders,
            main_geom,
            static_colliders: statics,
            mocap: task.hand_init_pos(),
            hand: hand0,
            hand_vel: [0.0; 3],
            q_r: 0.0,
            q_l: 0.0,
            qd_r: 0.0,
            qd_l: 0.0,
            ctrl: -1.0,
            gripping: false,
            goal: target_pos,
        };
        // Nothing is stepped here: the broad phase learns of the scene on the first
        // step, and the gripper starts 15 cm above anything it could hit.
        w.place_gripper(true);
        w
    }

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

    /// One explicit step of the weld spring and the finger actuators.
    fn integrate_drives(&mut self, h: f64) {
        let w = WELD_OMEGA;
        for i in 0..3 {
            let rest = self.mocap[i] + WELD_SAG[i];
            let acc = w * w * (rest - self.hand[i]) - 2.0 * w * self.hand_vel[i];
            self.hand_vel[i] += acc * h;
            self.hand[i] += self.hand_vel[i] * h;
        }
        let u = self.ctrl;
        if self.gripping && u > 0.0 {
            // Both pads are pressed on the object: fingers and object move as one
            // along y, pushed by the actuators' force difference (which centres a
            // grasp, as in MuJoCo), slowed by both fingers' damping and armature.
            let f = -FINGER_KP * (self.q_r + self.q_l);
            let v = 0.5 * (self.qd_r + self.qd_l);
            let v = (v * 2.0 * FINGER_ARMATURE + f * h)
                / (2.0 * FINGER_ARMATURE + 2.0 * FINGER_DAMPING * h);
            let v = v.clamp(
                (R_CLOSE_RANGE.0 - self.q_r) / h,
                (R_CLOSE_RANGE.1 - self.q_r) / h,
            );
            let v = v.clamp(
                (L_CLOSE_RANGE.0 - self.q_l) / h,
                (L_CLOSE_RANGE.1 - self.q_l) / h,
            );
            self.q_r += v * h;
            self.q_l += v * h;
            self.qd_r = v;
            self.qd_l = v;
            return;
        }
        let step = |q: &mut f64, qd: &mut f64, target: f64, range: (f64, f64)| {
            let f = FINGER_KP * (target - *q) - FINGER_DAMPING * *qd;
            // Semi-implicit in the damping term: stable for any h.
            *qd = (*qd * FINGER_ARMATURE + f * h + FINGER_DAMPING * *qd * h)
                / (FINGER_ARMATURE + FINGER_DAMPING * h);
            *q += *qd * h;
            if *q < range.0 {
                *q = range.0;
                *qd = qd.max(0.0);
            } else if *q > range.1 {
                *q = range.1;
                *qd = qd.min(0.0);
            }
        };
        step(&mut self.q_r, &mut self.qd_r, u, R_CLOSE_RANGE);
        step(&mut self.q_l, &mut self.qd_l, -u, L_CLOSE_RANGE);
    }

    /// Stops the gripper where its colliders would enter the static scenery,
    /// sliding along the surface it hits.
    fn limit_hand_motion(&mut self, start: [f64; 3]) {
        let mut motion = [
            self.hand[0] - start[0],
            self.hand[1] - start[1],
            self.hand[2] - start[2],
        ];
        if motion.iter().all(|m| *m == 0.0) {
            return;
        }
        let offsets = self.gripper_offsets();
        let mut pos = start;
        for _pass in 0..3 {
            let mvec = v3(motion);
            if mvec.length_squared() < 1e-16 {
                break;
            }
            let mut best: Option<(f32, Vector)> = None;
            {
                let qp = self.world.broad_phase.as_query_pipeline(
                    self.world.narrow_phase.query_dispatcher(),
                    &self.world.bodies,
                    &self.world.colliders,
                    QueryFilter::only_fixed(),
                );
                for (k, handle) in self.gripper_colliders.iter().enumerate() {
                    let co = &self.world.colliders[*handle];
                    let shape_pos = Pose::from_translation(v3(add(pos, offsets[k])));
                    let opts = ShapeCastOptions {
                        max_time_of_impact: 1.0,
                        target_distance: 0.0,
                        stop_at_penetration: false,
                        compute_impact_geometry_on_penetration: true,
                    };
                    if let Some((_, hit)) = qp.cast_shape(&shape_pos, mvec, co.shape(), opts) {
                        if best.is_none_or(|(t, _)| hit.time_of_impact < t) {
                            best = Some((hit.time_of_impact, hit.normal1));
                        }
                    }
                }
            }
            match best {
                None => {
                    pos = add(pos, motion);
                    break;
                }
                Some((toi, normal)) => {
                    let t = toi.clamp(0.0, 1.0) as f64;
                    pos = add(pos, [motion[0] * t, motion[1] * t, motion[2] * t]);
                    // Slide: drop the component of the remaining motion into the surface.
                    let n = arr(normal);
                    let rest = [
                        motion[0] * (1.0 - t),
                        motion[1] * (1.0 - t),
                        motion[2] * (1.0 - t),
                    ];
                    let into = rest[0] * n[0] + rest[1] * n[1] + rest[2] * n[2];
                    motion = if into < 0.0 {
                        [
                            rest[0] - into * n[0],
                            rest[1] - into * n[1],
                            rest[2] - into * n[2],
                        ]
                    } else {
                        rest
                    };
                    let vin =
                        self.hand_vel[0] * n[0] + self.hand_vel[1] * n[1] + self.hand_vel[2] * n[2];
                    if vin < 0.0 {
                        for i in 0..3 {
                            self.hand_vel[i] -= vin * n[i];
                        }
                    }
                }
            }
        }
        self.hand = pos;
    }

    /// World offsets of the gripper colliders from the hand origin.
    fn gripper_offsets(&self) -> [[f64; 3]; 3] {
        [
            [0.0, 0.0, 0.085],
            [0.0, -CLAW_Y + self.q_r + PAD_Y, 0.0],
            [0.0, CLAW_Y + self.q_l - PAD_Y, 0.0],
        ]
    }

    /// Keeps each closing finger from pressing into an object by more than [`SQUEEZE`].
    fn limit_fingers(&mut self, start: [f64; 3]) {
        let obj_body = &self.world.bodies[self.object_body];
        let obj_pose = *obj_body.position();
        let mut contact = [false; 2];
        for right in [true, false] {
            // Closing direction in world y: +1 for the right finger, -1 for the left.
            let dir = if right { 1.0 } else { -1.0 };
            let q = if right { self.q_r } else { self.q_l };
            // Pads at their new opening but where the hand was: the hand's own
            // travel pushes the object through the contact solver and is not squeeze.
            let pad_center = if right {
                add(start, [0.0, -CLAW_Y + q + PAD_Y, 0.0])
            } else {
                add(start, [0.0, CLAW_Y + q - PAD_Y, 0.0])
            };
            let pad_shape =
                self.world.colliders[if right { self.pad_r } else { self.pad_l }].shape();
            let pad_pose = pose_t(pad_center);
            let mut excess: f64 = 0.0;
            let pad_aabb = pad_shape.compute_aabb(&pad_pose);
            for ch in &self.object_colliders {
                let co = &self.world.colliders[*ch];
                if !co.compute_aabb().intersects(&pad_aabb) {
                    continue;
                }
                let local = co
                    .position_wrt_parent()
                    .copied()
                    .unwrap_or(Pose::identity());
                let cpose = obj_pose * local;
                if let Ok(Some(c)) = pq::contact(&pad_pose, pad_shape, &cpose, co.shape(), 0.0) {
                    // Depth along the closing direction.
                    let along = (c.normal1.y as f64 * dir).max(0.0);
                    let depth = (-(c.dist as f64)) * along;
                    excess = excess.max(depth - SQUEEZE);
                    if depth > 0.25 * SQUEEZE {
                        contact[right as usize] = true;
                    }
                }
            }
            if excess > 0.0 {
                if right {
                    self.q_r = (self.q_r - excess).max(R_CLOSE_RANGE.0);
                    self.qd_r = self.qd_r.min(0.0);
                } else {
                    self.q_l = (self.q_l + excess).min(L_CLOSE_RANGE.1);
                    self.qd_l = self.qd_l.max(0.0);
                }
            }
        }
        self.gripping = contact[0] && contact[1];
    }

    /// Sends the driven state to the kinematic bodies (or teleports them at reset).
    fn place_gripper(&mut self, teleport: bool) {
        let poses = [
            (self.hand_body, self.hand),
            (
                self.finger_r_body,
                add(self.hand, [0.0, -CLAW_Y + self.q_r, 0.0]),
            ),
            (
                self.finger_l_body,
                add(self.hand, [0.0, CLAW_Y + self.q_l, 0.0]),
            ),
        ];
        for (h, p) in poses {
            let body = &mut self.world.bodies[h];
            if teleport {
                body.set_position(pose_t(p), true);
            } else {
                body.set_next_kinematic_position(pose_t(p));
            }
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

/// Static boxes of a task (centre, half-size, friction).
fn task_fixtures(
    task: TaskKind,
    _obj_init: [f64; 3],
    target: [f64; 3],
) -> Vec<([f64; 3], [f32; 3], f32)> {
    let mut v = Vec::new();
    match task {
        TaskKind::PickOutOfHole => {
            let base = [0.0, 0.6, 0.0];
            for (c, h) in [
                ([0.0, -0.175, 0.027], [0.7, 0.225, 0.027]),
                ([0.0, 0.375, 0.027], [0.15, 0.025, 0.027]),
                ([0.425, 0.225, 0.027], [0.275, 0.175, 0.027]),
                ([-0.425, 0.225, 0.027], [0.275, 0.175, 0.027]),
            ] {
                v.push((add(base, c), h, 1.0));
            }
        }
        TaskKind::BinPicking => {
            for bx in [-0.12, 0.12] {
                let b = [bx, 0.7, 0.0];
                v.push((add(b, [0.0, 0.0, 0.005]), [0.1, 0.1, 0.005], 1.0));
                for y in [-0.095, 0.095] {
                    v.push((add(b, [0.0, y, 0.03]), [0.1, 0.005, 0.03], 1.0));
                }
                for x in [-0.095, 0.095] {
                    v.push((add(b, [x, 0.0, 0.03]), [0.005, 0.09, 0.03], 1.0));
                }
            }
        }
        TaskKind::ShelfPlace => {
            let s = [target[0], target[1], target[2] - 0.3];
            for (c, h) in [
                ([0.11, 0.0, 0.32], [0.01, 0.1, 0.32]),
                ([-0.11, 0.0, 0.32], [0.01, 0.1, 0.32]),
                ([0.0, 0.0, 0.65], [0.12, 0.1, 0.01]),
                ([0.0, -0.015, 0.24], [0.1, 0.095, 0.01]),
                ([0.0, -0.015, 0.05], [0.1, 0.095, 0.01]),
                ([0.0, 0.09, 0.32], [0.1, 0.01, 0.32]),
                ([0.0, -0.008, 0.021], [0.1, 0.088, 0.021]),
            ] {
                v.push((add(s, c), h, 1.0));
            }
        }
        _ => {}
    }
    v
}

/// Builds the task's object; returns (body, colliders, main geom).
fn build_object(
    world: &mut PhysicsWorld,
    task: TaskKind,
    pos: [f64; 3],
) -> (RigidBodyHandle, Vec<ColliderHandle>, ColliderHandle) {
    let mut rb = RigidBodyBuilder::dynamic()
        .translation(v3(pos))
        .can_sleep(false);
    if matches!(task, TaskKind::PickOutOfHole | TaskKind::ShelfPlace) {
        // Meta-World gives these objects an inertia of 1e5: they cannot turn.
        rb = rb.lock_rotations();
    }
    if task == TaskKind::Disassemble {
        rb = rb.rotation(Vector::new(0.0, 0.0, std::f32::consts::FRAC_PI_2));
    }
    let body = world.bodies.insert(rb);
    let mut cols = Vec::new();
    let mut ins = |world: &mut PhysicsWorld, b: ColliderBuilder| {
        let h = world
            .colliders
            .insert_with_parent(b, body, &mut world.bodies);
        cols.push(h);
        h
    };
    let main = match task {
        TaskKind::Reach | TaskKind::Push | TaskKind::PickPlace | TaskKind::PickOutOfHole => {
            let mass = if task == TaskKind::PickOutOfHole {
                0.01
            } else {
                0.75
            };
            ins(
                world,
                material(ColliderBuilder::cylinder(0.02, 0.02), 1.0)
                    .rotation(Vector::new(std::f32::consts::FRAC_PI_2, 0.0, 0.0))
                    .mass(mass),
            )
        }
        TaskKind::BinPicking => ins(
            world,
            material(ColliderBuilder::cuboid(0.02, 0.02, 0.02), 1.0).mass(0.1),
        ),
        TaskKind::ShelfPlace => ins(
            world,
            material(ColliderBuilder::cuboid(0.02, 0.02, 0.02), 2.0).mass(0.01),
        ),
        TaskKind::Disassemble => {
            // Ring of eight capsules around the peg, a stem and the handle (nut-local frame).
            for k in 0..8 {
                let a = k as f32 * std::f32::consts::FRAC_PI_4;
                let c = Vector::new(0.048 * a.cos(), 0.048 * a.sin(), 0.0);
                // Tangential capsule: local x axis turned to the tangent direction.
                let rot = Quat::from_rotation_z(a + std::f32::consts::FRAC_PI_2);
                ins(
                    world,
                    material(ColliderBuilder::capsule_x(0.015, 0.019), 1.0)
                        .position(Pose::from_parts(c, rot))
                        .mass(0.02),
                );
            }
            ins(
                world,
                material(ColliderBuilder::cylinder(0.05, 0.012), 1.0)
                    .translation(Vector::new(0.0, -0.1, 0.0))
                    .mass(0.02),
            );
            ins(
                world,
                material(ColliderBuilder::cuboid(0.019, 0.038, 0.016), 1.0)
                    .translation(Vector::new(0.0, -0.13, 0.0))
                    .mass(0.04),
            )
        }
    };
    (body, cols, main)
}
