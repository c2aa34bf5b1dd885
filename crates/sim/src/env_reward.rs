//! Meta-World's 'v2' dense rewards, info terms and success checks (facts §2–§3.3).
//!
//! Everything is evaluated in `f64` in the same operation order as the reference, so
//! the results agree with Meta-World's float64 evaluation to a few ulps (the only
//! differences come from the summation order inside Euclidean norms).
//!
//! None of the functions here panics: where the reference would raise (a negative
//! tolerance margin, Hamacher arguments outside `[0, 1]`) we return a finite value or
//! propagate NaN instead.

use crate::TaskKind;
use serde::{Deserialize, Serialize};

/// Meta-World's `TARGET_RADIUS` class attribute.
pub const TARGET_RADIUS: f64 = 0.05;

/// `value_at_margin` used by every `long_tail` tolerance in these tasks.
pub const VALUE_AT_MARGIN: f64 = 0.1;

/// Everything a task's reward reads for one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RewardInput {
    /// Clipped observation returned by the step (`next_obs`).
    pub obs: [f64; 39],
    /// Applied action, unclipped (rewards read `action[3]` directly).
    pub action: [f64; 4],
    /// Midpoint of the two fingertip sites.
    pub tcp_center: [f64; 3],
    /// Origin of body `leftpad`.
    pub left_pad: [f64; 3],
    /// Origin of body `rightpad`.
    pub right_pad: [f64; 3],
    /// `init_tcp`: tcp read at the end of the reset settling loop.
    pub init_tcp: [f64; 3],
    /// `obj_init_pos` (disassemble: the nut origin).
    pub obj_init_pos: [f64; 3],
    /// `_target_pos` (unclipped goal).
    pub target_pos: [f64; 3],
    /// `hand_init_pos` (reach's in-place margin).
    pub hand_init_pos: [f64; 3],
    /// Both pads touch the main object with positive normal force
    /// (push / pick-place / shelf-place `grasp_success`).
    pub touching_main_object: bool,
    /// Bin-picking's cached in-place margin (‖obj − target‖ at step 0's post state).
    pub target_to_obj_init: f64,
    /// Disassemble: the nut origin (site `RoundNut`).
    pub wrench_center: [f64; 3],
}

/// The reward and Meta-World's info dict for one step (all floats, as the fixtures
/// record them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardInfo {
    pub reward: f64,
    /// 0.0 / 1.0 as Meta-World reports it.
    pub success: f64,
    pub near_object: f64,
    pub grasp_success: f64,
    pub grasp_reward: f64,
    pub in_place_reward: f64,
    pub obj_to_target: f64,
    /// Equal to `reward`.
    pub unscaled_reward: f64,
}

impl RewardInfo {
    /// Whether the step counts as a success.
    pub fn is_success(&self) -> bool {
        self.success > 0.5
    }
}

// ---------------------------------------------------------------------------------
// Vector helpers: one module, natural summation order (crate::vec3).

pub use crate::vec3::{dist as dist3, dist_xy, dist_xz};
use crate::vec3::{from_slice as vec3, norm as norm3, sub as sub3};

#[inline]
fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

// ---------------------------------------------------------------------------------
// reward_utils

/// `tolerance(x, bounds=(lo, hi), margin, sigmoid="long_tail", value_at_margin=0.1)`.
///
/// 1 inside `[lo, hi]`; outside, `1 / ((3·d)² + 1)` with `d` the distance to the
/// nearer bound divided by `margin` (0.1 at one margin outside); 0 outside when
/// `margin == 0`. The reference raises for `lo > hi` or `margin < 0`; here the
/// formula is simply applied (a negative margin gives the same value as its absolute
/// value, since `d` is squared). NaN inputs propagate when `margin != 0`.
pub fn tolerance(x: f64, lo: f64, hi: f64, margin: f64) -> f64 {
    let in_bounds = lo <= x && x <= hi;
    if margin == 0.0 {
        return if in_bounds { 1.0 } else { 0.0 };
    }
    if in_bounds {
        return 1.0;
    }
    let d = if x < lo { lo - x } else { x - hi } / margin;
    long_tail(d, VALUE_AT_MARGIN)
}

/// The `long_tail` sigmoid: `1 / ((d·s)² + 1)` with `s = sqrt(1/v − 1)`.
#[inline]
fn long_tail(d: f64, value_at_margin: f64) -> f64 {
    let scale = (1.0 / value_at_margin - 1.0).sqrt();
    let t = d * scale;
    1.0 / (t * t + 1.0)
}

/// Hamacher product `a·b / (a + b − a·b)` (0 when the denominator is not positive).
///
/// The reference raises unless both arguments lie in `[0, 1]`; here the formula is
/// applied as is and NaN propagates.
pub fn hamacher(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    let denominator = a + b - a * b;
    if denominator > 0.0 {
        (a * b) / denominator
    } else {
        0.0
    }
}

/// Parameters of the base gripper caging reward `G` (facts §2).
#[derive(Clone, Copy, Debug)]
pub struct CagingParams {
    /// `obj_radius` (r): lower bound of the pad–object y distance.
    pub obj_radius: f64,
    /// `pad_success_thresh` (p): upper bound of the pad–object y distance.
    pub pad_success_thresh: f64,
    /// `object_reach_radius` (ρ), only used by the medium-density variant.
    pub object_reach_radius: f64,
    /// `xz_thresh` (ξ).
    pub xz_thresh: f64,
    /// `desired_gripper_effort` (E).
    pub desired_gripper_effort: f64,
    pub density: CagingDensity,
}

/// Density variant of the caging reward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CagingDensity {
    /// Plain `H(caging, grip)`.
    None,
    /// `(H(caging, grip) + caging) / 2`.
    High,
    /// `(H(caging, grip) + reach) / 2`.
    Medium,
}

/// Base-class `_gripper_caging_reward` (facts §2), with the current pads, tcp and
/// `obj_init_pos` / `init_tcp` from `input`, for the object position `obj`.
pub fn gripper_caging_reward(input: &RewardInput, obj: &[f64; 3], p: &CagingParams) -> f64 {
    let pad_y = [input.left_pad[1], input.right_pad[1]];
    let mut caging_lr = [0.0; 2];
    for (c, &py) in caging_lr.iter_mut().zip(pad_y.iter()) {
        let pad_to_obj = (py - obj[1]).abs();
        let pad_to_obj_init = (py - input.obj_init_pos[1]).abs();
        let margin = (pad_to_obj_init - p.pad_success_thresh).abs();
        *c = tolerance(pad_to_obj, p.obj_radius, p.pad_success_thresh, margin);
    }
    let caging_y = hamacher(caging_lr[0], caging_lr[1]);

    let xz_margin = dist_xz(&input.obj_init_pos, &input.init_tcp) - p.xz_thresh;
    let caging_xz = tolerance(dist_xz(&input.tcp_center, obj), 0.0, p.xz_thresh, xz_margin);

    let e = p.desired_gripper_effort;
    let gripper_closed = py_min(py_max(0.0, input.action[3]), e) / e;
    let caging = hamacher(caging_y, caging_xz);
    let gripping = if caging > 0.97 { gripper_closed } else { 0.0 };
    let mut caging_and_gripping = hamacher(caging, gripping);
    match p.density {
        CagingDensity::None => {}
        CagingDensity::High => caging_and_gripping = (caging_and_gripping + caging) / 2.0,
        CagingDensity::Medium => {
            let tcp_to_obj = dist3(obj, &input.tcp_center);
            let tcp_to_obj_init = dist3(&input.obj_init_pos, &input.init_tcp);
            let reach_margin = (tcp_to_obj_init - p.object_reach_radius).abs();
            let reach = tolerance(tcp_to_obj, 0.0, p.object_reach_radius, reach_margin);
            caging_and_gripping = (caging_and_gripping + reach) / 2.0;
        }
    }
    caging_and_gripping
}

/// Python's `max(a, b)`: returns `a` unless `b > a` (so NaN in `b` is ignored, NaN in
/// `a` is kept).
#[inline]
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: returns `a` unless `b < a`.
#[inline]
fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

// ---------------------------------------------------------------------------------
// Per-task rewards

/// Evaluate the reward, info terms and success of `task` for one step.
pub fn evaluate(task: TaskKind, input: &RewardInput) -> RewardInfo {
    let mut info = match task {
        TaskKind::Reach => reach(input),
        TaskKind::Push => push(input),
        TaskKind::PickPlace => pick_place(input),
        TaskKind::PickOutOfHole => pick_out_of_hole(input),
        TaskKind::BinPicking => bin_picking(input),
        TaskKind::ShelfPlace => shelf_place(input),
        TaskKind::Disassemble => disassemble(input),
    };
    info.unscaled_reward = info.reward;
    info
}

fn reach(input: &RewardInput) -> RewardInfo {
    let target = &input.target_pos;
    let tcp_to_target = dist3(&input.tcp_center, target);
    let margin = dist3(&input.hand_init_pos, target);
    let in_place = tolerance(tcp_to_target, 0.0, TARGET_RADIUS, margin);
    RewardInfo {
        reward: 10.0 * in_place,
        success: flag(tcp_to_target <= TARGET_RADIUS),
        near_object: tcp_to_target,
        grasp_success: 1.0,
        grasp_reward: tcp_to_target,
        in_place_reward: in_place,
        obj_to_target: tcp_to_target,
        unscaled_reward: 0.0,
    }
}

/// push / pick-place / shelf-place `grasp_success`.
fn touching_grasp(input: &RewardInput, obj: &[f64; 3]) -> bool {
    input.touching_main_object && input.obs[3] > 0.0 && obj[2] - 0.02 > input.obj_init_pos[2]
}

fn push(input: &RewardInput) -> RewardInfo {
    let obj = vec3(&input.obs[4..7]);
    let tcp_opened = input.obs[3];
    let tcp_to_obj = dist3(&obj, &input.tcp_center);
    let target_to_obj = dist3(&obj, &input.target_pos);
    let margin = dist3(&input.obj_init_pos, &input.target_pos);
    let in_place = tolerance(target_to_obj, 0.0, TARGET_RADIUS, margin);
    let grasped = gripper_caging_reward(
        input,
        &obj,
        &CagingParams {
            obj_radius: 0.015,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.005,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        },
    );
    let mut reward = 2.0 * grasped;
    if tcp_to_obj < 0.02 && tcp_opened > 0.0 {
        reward += 1.0 + reward + 5.0 * in_place;
    }
    if target_to_obj < TARGET_RADIUS {
        reward = 10.0;
    }
    RewardInfo {
        reward,
        success: flag(target_to_obj <= TARGET_RADIUS),
        near_object: flag(tcp_to_obj <= 0.03),
        grasp_success: flag(touching_grasp(input, &obj)),
        grasp_reward: grasped,
        in_place_reward: in_place,
        obj_to_target: target_to_obj,
        unscaled_reward: 0.0,
    }
}

/// Pick-place's own caging reward: signed pad offsets, margins from the *live* pad
/// positions (Meta-World's `init_left_pad`/`init_right_pad` alias `data.xpos`).
fn pick_place_caging(input: &RewardInput, obj: &[f64; 3]) -> f64 {
    const PAD_SUCCESS_MARGIN: f64 = 0.05;
    const XZ_SUCCESS_MARGIN: f64 = 0.005;
    const OBJ_RADIUS: f64 = 0.015;
    let left_pad = &input.left_pad;
    let right_pad = &input.right_pad;
    let delta_left = left_pad[1] - obj[1];
    let delta_right = obj[1] - right_pad[1];
    // The "initial" pads are live views of the current pads.
    let right_margin = ((obj[1] - right_pad[1]).abs() - PAD_SUCCESS_MARGIN).abs();
    let left_margin = ((obj[1] - left_pad[1]).abs() - PAD_SUCCESS_MARGIN).abs();
    let right_caging = tolerance(delta_right, OBJ_RADIUS, PAD_SUCCESS_MARGIN, right_margin);
    let left_caging = tolerance(delta_left, OBJ_RADIUS, PAD_SUCCESS_MARGIN, left_margin);
    let y_caging = hamacher(left_caging, right_caging);

    let tcp_obj_xz = dist_xz(&input.tcp_center, obj);
    let xz_margin = dist_xz(&input.obj_init_pos, &input.init_tcp) - XZ_SUCCESS_MARGIN;
    let xz_caging = tolerance(tcp_obj_xz, 0.0, XZ_SUCCESS_MARGIN, xz_margin);

    let gripper_closed = py_min(py_max(0.0, input.action[3]), 1.0);
    let caging = hamacher(y_caging, xz_caging);
    let gripping = if caging > 0.97 { gripper_closed } else { 0.0 };
    let caging_and_gripping = hamacher(caging, gripping);
    (caging_and_gripping + caging) / 2.0
}

fn pick_place(input: &RewardInput) -> RewardInfo {
    let obj = vec3(&input.obs[4..7]);
    let tcp_opened = input.obs[3];
    let target = &input.target_pos;
    let obj_to_target = dist3(&obj, target);
    let tcp_to_obj = dist3(&obj, &input.tcp_center);
    let margin = dist3(&input.obj_init_pos, target);
    let in_place = tolerance(obj_to_target, 0.0, TARGET_RADIUS, margin);
    let grasped = pick_place_caging(input, &obj);
    let mut reward = hamacher(grasped, in_place);
    if tcp_to_obj < 0.02 && tcp_opened > 0.0 && obj[2] - 0.01 > input.obj_init_pos[2] {
        reward += 1.0 + 5.0 * in_place;
    }
    if obj_to_target < TARGET_RADIUS {
        reward = 10.0;
    }
    RewardInfo {
        reward,
        success: flag(obj_to_target <= 0.07),
        near_object: flag(tcp_to_obj <= 0.03),
        grasp_success: flag(touching_grasp(input, &obj)),
        grasp_reward: grasped,
        in_place_reward: in_place,
        obj_to_target,
        unscaled_reward: 0.0,
    }
}

/// `1` when `z ≥ floor`, else a long-tail penalty on how far below the floor `z` is.
fn above_floor(z: f64, floor: f64, margin: f64) -> f64 {
    if z >= floor {
        1.0
    } else {
        tolerance(py_max(floor - z, 0.0), 0.0, 0.01, margin)
    }
}

fn pick_out_of_hole(input: &RewardInput) -> RewardInfo {
    let obj = vec3(&input.obs[4..7]);
    let gripper = &input.tcp_center;
    let obj_to_target = dist3(&obj, &input.target_pos);
    let tcp_to_obj = dist3(&obj, gripper);
    let margin = dist3(&input.obj_init_pos, &input.target_pos);

    const THRESHOLD: f64 = 0.03;
    let radius = dist_xy(gripper, &input.obj_init_pos);
    let floor = if radius <= THRESHOLD {
        0.0
    } else {
        0.015 * (radius - THRESHOLD).ln() + 0.15
    };
    let above = above_floor(gripper[2], floor, 0.02);

    let grasped = gripper_caging_reward(
        input,
        &obj,
        &CagingParams {
            obj_radius: 0.015,
            pad_success_thresh: 0.02,
            object_reach_radius: 0.01,
            xz_thresh: 0.03,
            desired_gripper_effort: 0.1,
            density: CagingDensity::High,
        },
    );
    let in_place = tolerance(obj_to_target, 0.0, 0.02, margin);
    let mut reward = hamacher(grasped, in_place);

    let near_object = tcp_to_obj < 0.04;
    let pinched_without_obj = input.obs[3] < 0.33;
    let lifted = obj[2] - 0.02 > input.obj_init_pos[2];
    let grasp = near_object && lifted && !pinched_without_obj;
    if grasp {
        reward += 1.0 + 5.0 * hamacher(in_place, above);
    }
    if obj_to_target < TARGET_RADIUS {
        reward = 10.0;
    }
    RewardInfo {
        reward,
        success: flag(obj_to_target <= 0.07),
        near_object: flag(tcp_to_obj <= 0.03),
        grasp_success: flag(grasp),
        grasp_reward: grasped,
        in_place_reward: in_place,
        obj_to_target,
        unscaled_reward: 0.0,
    }
}

fn bin_picking(input: &RewardInput) -> RewardInfo {
    let hand = vec3(&input.obs[0..3]);
    let obj = vec3(&input.obs[4..7]);
    let target = &input.target_pos;
    let target_to_obj = dist3(&obj, target);
    let in_place = tolerance(target_to_obj, 0.0, TARGET_RADIUS, input.target_to_obj_init);

    const THRESHOLD: f64 = 0.03;
    let radii = [dist_xy(&hand, &input.obj_init_pos), dist_xy(&hand, target)];
    let floors = radii.map(|r| {
        if r > THRESHOLD {
            0.02 * (r - THRESHOLD).ln() + 0.2
        } else {
            0.0
        }
    });
    let min_floor = py_min(floors[0], floors[1]);
    let above = above_floor(hand[2], min_floor, 0.05);

    let grasped = gripper_caging_reward(
        input,
        &obj,
        &CagingParams {
            obj_radius: 0.015,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 0.7,
            density: CagingDensity::High,
        },
    );
    let mut reward = hamacher(grasped, in_place);

    let near_object = dist3(&obj, &hand) < 0.04;
    let pinched_without_obj = input.obs[3] < 0.43;
    let lifted = obj[2] - 0.02 > input.obj_init_pos[2];
    let grasp = near_object && lifted && !pinched_without_obj;
    if grasp {
        reward += 1.0 + 5.0 * hamacher(above, in_place);
    }
    if target_to_obj < TARGET_RADIUS {
        reward = 10.0;
    }
    RewardInfo {
        reward,
        success: flag(target_to_obj <= TARGET_RADIUS),
        near_object: flag(near_object),
        grasp_success: flag(grasp),
        grasp_reward: grasped,
        in_place_reward: in_place,
        obj_to_target: target_to_obj,
        unscaled_reward: 0.0,
    }
}

fn shelf_place(input: &RewardInput) -> RewardInfo {
    let obj = vec3(&input.obs[4..7]);
    let tcp_opened = input.obs[3];
    let target = &input.target_pos;
    let obj_to_target = dist3(&obj, target);
    let tcp_to_obj = dist3(&obj, &input.tcp_center);
    let margin = dist3(&input.obj_init_pos, target);
    let mut in_place = tolerance(obj_to_target, 0.0, TARGET_RADIUS, margin);
    let grasped = gripper_caging_reward(
        input,
        &obj,
        &CagingParams {
            obj_radius: 0.02,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 1.0,
            density: CagingDensity::None,
        },
    );
    let mut reward = hamacher(grasped, in_place);

    // In-place adjustments for a block below the shelf board (z < 0.24) in front of or
    // behind the shelf. Meta-World writes the y band as 3·TARGET_RADIUS, which is
    // 0.15000000000000002 in float64; keep that exact value.
    let band = 3.0 * TARGET_RADIUS;
    let low = 0.0 < obj[2] && obj[2] < 0.24;
    let inside_x = target[0] - 0.15 < obj[0] && obj[0] < target[0] + 0.15;
    if low && inside_x && (target[1] - band) < obj[1] && obj[1] < target[1] {
        let z_scaling = (0.24 - obj[2]) / 0.24;
        let y_scaling = (obj[1] - (target[1] - band)) / band;
        let bound_loss = hamacher(y_scaling, z_scaling);
        in_place = clip01(in_place - bound_loss);
    }
    if low && inside_x && obj[1] > target[1] {
        in_place = 0.0;
    }

    if tcp_to_obj < 0.025 && tcp_opened > 0.0 && obj[2] - 0.01 > input.obj_init_pos[2] {
        reward += 1.0 + 5.0 * in_place;
    }
    if obj_to_target < TARGET_RADIUS {
        reward = 10.0;
    }
    RewardInfo {
        reward,
        success: flag(obj_to_target <= 0.07),
        near_object: flag(tcp_to_obj <= 0.03),
        grasp_success: flag(touching_grasp(input, &obj)),
        grasp_reward: grasped,
        in_place_reward: in_place,
        obj_to_target,
        unscaled_reward: 0.0,
    }
}

/// `np.clip(x, 0, 1)` (NaN propagates).
#[inline]
fn clip01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

/// Half of disassemble's `WRENCH_HANDLE_LENGTH` (0.02).
const WRENCH_X_SNAP: f64 = 0.02 / 2.0;

/// Disassemble's orientation term: `max(1 − ‖q − (0.707, 0, 0, 0.707)‖ / 0.4, 0)`
/// with `q = obs[7:11]` (w, x, y, z).
pub fn disassemble_reward_quat(obs: &[f64; 39]) -> f64 {
    let ideal = [0.707, 0.0, 0.0, 0.707];
    let d = [
        obs[7] - ideal[0],
        obs[8] - ideal[1],
        obs[9] - ideal[2],
        obs[10] - ideal[3],
    ];
    let error = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]).sqrt();
    py_max(1.0 - error / 0.4, 0.0)
}

/// Disassemble's position term: `0.1·[c_z > 0.02] + 0.9·tol(‖T + (0,0,0.1) − c‖; [0, 0.02], 0.2)`.
pub fn disassemble_reward_pos(wrench_center: &[f64; 3], target_pos: &[f64; 3]) -> f64 {
    let goal = [
        target_pos[0] + 0.0,
        target_pos[1] + 0.0,
        target_pos[2] + 0.1,
    ];
    let pos_error = sub3(&goal, wrench_center);
    let lifted = wrench_center[2] > 0.02;
    0.1 * flag(lifted) + 0.9 * tolerance(norm3(pos_error), 0.0, 0.02, 0.2)
}

/// The nut origin (site `RoundNut`) reconstructed from the observation: the handle
/// site `obs[4:7]` minus the nut rotation (quaternion `obs[7:11]`, w,x,y,z) applied
/// to the nut-local handle offset (0, −0.13, 0). Agrees with MuJoCo's site position
/// to ~1e-16; used when a record lacks `wrench_center`.
pub fn nut_origin_from_obs(obs: &[f64; 39]) -> [f64; 3] {
    let (w, x, y, z) = (obs[7], obs[8], obs[9], obs[10]);
    let n = (w * w + x * x + y * y + z * z).sqrt();
    let (w, x, y, z) = if n > 0.0 {
        (w / n, x / n, y / n, z / n)
    } else {
        (1.0, 0.0, 0.0, 0.0)
    };
    // Second column of the rotation matrix times the local offset's y (−0.13).
    let col_y = [
        2.0 * (x * y - w * z),
        1.0 - 2.0 * (x * x + z * z),
        2.0 * (y * z + w * x),
    ];
    let off = -0.13;
    [
        obs[4] - col_y[0] * off,
        obs[5] - col_y[1] * off,
        obs[6] - col_y[2] * off,
    ]
}

fn disassemble(input: &RewardInput) -> RewardInfo {
    let hand = vec3(&input.obs[0..3]);
    let wrench = vec3(&input.obs[4..7]);
    let mut wrench_threshed = wrench;
    if (wrench[0] - hand[0]).abs() < WRENCH_X_SNAP {
        wrench_threshed[0] = hand[0];
    }
    let reward_quat = disassemble_reward_quat(&input.obs);
    let reward_grab = gripper_caging_reward(
        input,
        &wrench_threshed,
        &CagingParams {
            obj_radius: 0.015,
            pad_success_thresh: 0.02,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        },
    );
    let reward_in_place = disassemble_reward_pos(&input.wrench_center, &input.target_pos);
    let mut reward = (2.0 * reward_grab + 6.0 * reward_in_place) * reward_quat;
    let success = input.obs[6] > input.target_pos[2];
    if success {
        reward = 10.0;
    }
    RewardInfo {
        reward,
        success: flag(success),
        near_object: reward_quat,
        grasp_success: flag(reward_grab >= 0.5),
        grasp_reward: reward_grab,
        in_place_reward: reward_in_place,
        obj_to_target: 0.0,
        unscaled_reward: 0.0,
    }
}
