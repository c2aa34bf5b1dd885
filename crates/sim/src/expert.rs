//! Meta-World's scripted expert policies (facts §3.4) as pure functions of the 39-d
//! observation.
//!
//! Each policy picks a target point with a short rule list (strict `>` / `<` tests),
//! moves with `k·(target − hand)` computed in `f64` and stored as `f32` (not clipped;
//! the environment clips), and sets a gripper effort. The arithmetic follows the
//! reference's operation order, so the output is bit-identical to Meta-World's
//! `policy.get_action(obs)`.

use crate::TaskKind;

/// The expert's action for `task` given the observation `obs`: `[dx, dy, dz, grip]`,
/// xyz unclipped (values up to ~±8 occur).
pub fn expert_action(task: TaskKind, obs: &[f64; 39]) -> [f32; 4] {
    let o = Obs::new(obs);
    match task {
        TaskKind::Reach => reach(&o),
        TaskKind::Push => push(&o),
        TaskKind::PickPlace => pick_place(&o),
        TaskKind::PickOutOfHole => pick_out_of_hole(&o),
        TaskKind::BinPicking => bin_picking(&o),
        TaskKind::ShelfPlace => shelf_place(&o),
        TaskKind::Disassemble => disassemble(&o),
    }
}

/// The parts of the observation the policies read.
struct Obs {
    hand: [f64; 3],
    gripper_open: f64,
    obj: [f64; 3],
    goal: [f64; 3],
}

impl Obs {
    fn new(obs: &[f64; 39]) -> Self {
        Obs {
            hand: [obs[0], obs[1], obs[2]],
            gripper_open: obs[3],
            obj: [obs[4], obs[5], obs[6]],
            goal: [obs[36], obs[37], obs[38]],
        }
    }
}

use crate::vec3::{add, dist, dist_xy as xy_dist};

/// `k·(target − hand)` in f64, rounded to f32, plus the gripper effort.
#[inline]
fn act(k: f64, hand: &[f64; 3], target: &[f64; 3], grip: f64) -> [f32; 4] {
    [
        (k * (target[0] - hand[0])) as f32,
        (k * (target[1] - hand[1])) as f32,
        (k * (target[2] - hand[2])) as f32,
        grip as f32,
    ]
}

fn reach(o: &Obs) -> [f32; 4] {
    act(5.0, &o.hand, &o.goal, 0.0)
}

fn push(o: &Obs) -> [f32; 4] {
    let hand = o.hand;
    let puck = o.obj;
    let q = add(puck, [-0.005, 0.0, 0.0]);
    let target = if xy_dist(&hand, &q) > 0.02 {
        add(q, [0.0, 0.0, 0.2])
    } else if (hand[2] - q[2]).abs() > 0.04 {
        add(q, [0.0, 0.0, 0.03])
    } else {
        o.goal
    };
    let grip = if xy_dist(&hand, &puck) > 0.02 || (hand[2] - puck[2]).abs() > 0.10 {
        0.0
    } else {
        0.6
    };
    act(10.0, &hand, &target, grip)
}

fn pick_place(o: &Obs) -> [f32; 4] {
    let hand = o.hand;
    let puck = o.obj;
    let q = add(puck, [-0.005, 0.0, 0.0]);
    let target = if xy_dist(&hand, &q) > 0.02 {
        add(q, [0.0, 0.0, 0.1])
    } else if (hand[2] - q[2]).abs() > 0.05 && q[2] < 0.04 {
        add(q, [0.0, 0.0, 0.03])
    } else if o.gripper_open > 0.73 {
        // Wait for the fingers to close.
        hand
    } else {
        o.goal
    };
    let grip = if dist(&hand, &puck) < 0.07 { 1.0 } else { 0.0 };
    act(10.0, &hand, &target, grip)
}

fn pick_out_of_hole(o: &Obs) -> [f32; 4] {
    let hand = o.hand;
    let q = add(o.obj, [0.0, 0.0, 0.02]);
    let goal = o.goal;
    let target = if xy_dist(&hand, &q) > 0.02 {
        add(q, [0.0, 0.0, 0.15])
    } else if (hand[2] - q[2]).abs() > 0.01 {
        q
    } else if (hand[2] - goal[2]).abs() > 0.04 {
        [hand[0], hand[1], goal[2]]
    } else {
        goal
    };
    let grip = if xy_dist(&hand, &q) > 0.02 || (hand[2] - q[2]).abs() > 0.15 {
        0.0
    } else {
        0.1
    };
    act(25.0, &hand, &target, grip)
}

/// Bin-picking's hard-coded drop point (the goal observation is not used).
const BIN_DROP: [f64; 3] = [0.12, 0.7, 0.02];

fn bin_picking(o: &Obs) -> [f32; 4] {
    let hand = o.hand;
    let mut q = add(o.obj, [0.0, 0.0, 0.03]);
    // Keep the approach point near the middle (y) of the start bin.
    q[1] = q[1].clamp(0.675, 0.725);
    let target = if xy_dist(&hand, &q) > 0.02 {
        add(q, [0.0, 0.0, 0.15])
    } else if (hand[2] - q[2]).abs() > 0.01 {
        q
    } else if xy_dist(&hand, &BIN_DROP) > 0.02 {
        if hand[2] < 0.15 {
            add(hand, [0.0, 0.0, 0.1])
        } else {
            [BIN_DROP[0], BIN_DROP[1], 0.18]
        }
    } else {
        BIN_DROP
    };
    let grip = if xy_dist(&hand, &q) > 0.02 || (hand[2] - q[2]).abs() > 0.02 {
        -1.0
    } else {
        0.6
    };
    act(25.0, &hand, &target, grip)
}

fn shelf_place(o: &Obs) -> [f32; 4] {
    let hand = o.hand;
    let block = o.obj;
    let q = add(block, [-0.005, 0.0, 0.015]);
    let shelf_x = o.goal[0];
    let target = if xy_dist(&hand, &q) > 0.04 {
        add(q, [0.0, 0.0, 0.3])
    } else if (hand[2] - q[2]).abs() > 0.04 {
        q
    } else if (hand[0] - shelf_x).abs() > 0.02 {
        [shelf_x, hand[1], 0.3]
    } else if hand[2] < 0.30 {
        add(hand, [0.0, 0.0, 0.3])
    } else {
        add(hand, [0.0, 0.05, 0.0])
    };
    let grip = if xy_dist(&hand, &block) > 0.04 || (hand[2] - block[2]).abs() > 0.15 {
        -1.0
    } else {
        0.7
    };
    act(25.0, &hand, &target, grip)
}

fn disassemble(o: &Obs) -> [f32; 4] {
    let hand = o.hand;
    let q = add(o.obj, [-0.02, 0.0, 0.01]);
    let target = if xy_dist(&hand, &q) > 0.02 {
        add(q, [0.0, 0.0, 0.1])
    } else if (hand[2] - q[2]).abs() > 0.03 {
        q
    } else {
        add(hand, [0.0, 0.0, 0.1])
    };
    let grip = if xy_dist(&hand, &q) > 0.02 || (hand[2] - q[2]).abs() > 0.07 {
        0.0
    } else {
        0.8
    };
    act(10.0, &hand, &target, grip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_moves_toward_goal() {
        let mut obs = [0.0; 39];
        obs[0..3].copy_from_slice(&[0.0, 0.6, 0.2]);
        obs[36..39].copy_from_slice(&[0.1, 0.8, 0.2]);
        let a = expert_action(TaskKind::Reach, &obs);
        assert_eq!(
            a,
            [
                (5.0f64 * 0.1) as f32,
                (5.0 * (0.8 - 0.6f64)) as f32,
                0.0,
                0.0
            ]
        );
    }
}
