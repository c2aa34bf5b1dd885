//! Building a task's scene: table and walls, the task's fixtures, the object with Meta-World's
//! shapes and masses, and the gripper at its initial pose.

use super::*;

impl SawyerWorld {
    /// Builds the scene of `task` with the object at `obj_init_pos`, the task's
    /// fixture placed for `target_pos`, and the hand at `hand_init_pos` with open fingers.
    pub fn new(
        task: TaskKind,
        config: PhysicsConfig,
        obj_init_pos: [f64; 3],
        target_pos: [f64; 3],
    ) -> Self {
        // The insertion order (statics, object, gripper) fixes the handles, and with them the
        // solver's order: keep it.
        let mut world = physics_world(config);
        let statics = add_statics(&mut world, task, obj_init_pos, target_pos);
        let (object_body, object_colliders, main_geom) =
            build_object(&mut world, task, obj_init_pos);
        let g = build_gripper(&mut world, task);
        let mut w = SawyerWorld {
            task,
            config,
            world,
            hand_body: g.hand_body,
            finger_r_body: g.finger_r_body,
            finger_l_body: g.finger_l_body,
            gripper_colliders: [g.base, g.pad_r, g.pad_l],
            pad_r: g.pad_r,
            pad_l: g.pad_l,
            object_body,
            object_colliders,
            main_geom,
            static_colliders: statics,
            mocap: task.hand_init_pos(),
            hand: g.hand0,
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
}

/// An empty physics world with the scene's gravity and solver settings.
fn physics_world(config: PhysicsConfig) -> PhysicsWorld {
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
    world
}

/// The table, its walls and the task's fixtures, fixed to one ground body.
fn add_statics(
    world: &mut PhysicsWorld,
    task: TaskKind,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
) -> Vec<(ColliderHandle, Role)> {
    let mut statics = Vec::new();
    let ground = world.bodies.insert(RigidBodyBuilder::fixed());
    let mut add_static = |world: &mut PhysicsWorld, b: ColliderBuilder, role| {
        let h = world
            .colliders
            .insert_with_parent(b, ground, &mut world.bodies);
        statics.push((h, role));
    };
    // Table top surface at z = 0, retaining walls (facts §1.10).
    add_static(
        world,
        material(ColliderBuilder::cuboid(0.7, 0.4, 0.46), 1.0).translation(v3([0.0, 0.6, -0.46])),
        Role::Table,
    );
    for (c, h) in [
        ([0.0, 0.21, 0.06], [0.7, 0.01, 0.06]),
        ([0.0, 0.99, 0.06], [0.7, 0.01, 0.06]),
        ([0.69, 0.6, 0.06], [0.01, 0.38, 0.06]),
        ([-0.69, 0.6, 0.06], [0.01, 0.38, 0.06]),
    ] {
        let wall = material(ColliderBuilder::cuboid(h[0], h[1], h[2]), 1.0).translation(v3(c));
        add_static(world, wall, Role::Table);
    }
    for (c, h, f) in task_fixtures(task, obj_init_pos, target_pos) {
        let fixture = material(ColliderBuilder::cuboid(h[0], h[1], h[2]), f).translation(v3(c));
        add_static(world, fixture, Role::Fixture);
    }
    if task == TaskKind::Disassemble {
        // The peg: cylinder r 0.02, half-length 0.05, at obj_init + (0, 0, 0.03).
        let c = add(obj_init_pos, [0.0, 0.0, 0.03]);
        let pose = Pose::from_parts(v3(c), Quat::from_rotation_x(std::f32::consts::FRAC_PI_2));
        let peg = material(ColliderBuilder::cylinder(0.05, 0.02), 1.0).position(pose);
        add_static(world, peg, Role::Fixture);
    }
    statics
}

/// The gripper's bodies and colliders: a hand base and two fingers, all kinematic.
struct Gripper {
    hand0: [f64; 3],
    hand_body: RigidBodyHandle,
    base: ColliderHandle,
    finger_r_body: RigidBodyHandle,
    pad_r: ColliderHandle,
    finger_l_body: RigidBodyHandle,
    pad_l: ColliderHandle,
}

/// Builds the gripper at the task's initial hand pose with open fingers.
fn build_gripper(world: &mut PhysicsWorld, task: TaskKind) -> Gripper {
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
            RigidBodyBuilder::kinematic_position_based().translation(v3(add(hand0, [0.0, y, 0.0]))),
        );
        let pad_dir = -y.signum();
        let pad_box = ColliderBuilder::cuboid(PAD_HALF[0], PAD_HALF[1], PAD_HALF[2]);
        let pad = world.colliders.insert_with_parent(
            material(pad_box.clone(), 2.0).translation(Vector::new(
                0.0,
                (pad_dir * PAD_Y) as f32,
                0.0,
            )),
            body,
            &mut world.bodies,
        );
        // The claw: the finger's own box, behind the pad.
        world
            .colliders
            .insert_with_parent(material(pad_box, 1.0), body, &mut world.bodies);
        (body, pad)
    };
    let (finger_r_body, pad_r) = mk_finger(world, -CLAW_Y);
    let (finger_l_body, pad_l) = mk_finger(world, CLAW_Y);
    Gripper {
        hand0,
        hand_body,
        base,
        finger_r_body,
        pad_r,
        finger_l_body,
        pad_l,
    }
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
