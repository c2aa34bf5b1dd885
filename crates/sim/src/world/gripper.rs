//! The gripper's drives and limiters: the weld spring pulling the hand to the mocap target,
//! the finger actuators, the shape casts that stop hand and fingers at the scenery, and the
//! squeeze limit that holds an object by friction.

use super::*;

impl SawyerWorld {
    /// One explicit step of the weld spring and the finger actuators.
    pub(super) fn integrate_drives(&mut self, h: f64) {
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
    pub(super) fn limit_hand_motion(&mut self, start: [f64; 3]) {
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
    pub(super) fn gripper_offsets(&self) -> [[f64; 3]; 3] {
        [
            [0.0, 0.0, 0.085],
            [0.0, -CLAW_Y + self.q_r + PAD_Y, 0.0],
            [0.0, CLAW_Y + self.q_l - PAD_Y, 0.0],
        ]
    }

    /// Keeps each closing finger from pressing into an object by more than [`SQUEEZE`].
    pub(super) fn limit_fingers(&mut self, start: [f64; 3]) {
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
    pub(super) fn place_gripper(&mut self, teleport: bool) {
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
}
