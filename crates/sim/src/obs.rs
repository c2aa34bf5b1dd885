//! The 39-d observation's layout, named once (Meta-World v3): the current frame's 18 numbers,
//! the previous frame's 18, and the goal.
//!
//! | entries | what |
//! | --- | --- |
//! | `0..3` | hand (end effector) position |
//! | `3` | gripper opening |
//! | `4..7` | first object's position |
//! | `7..11` | first object's quaternion |
//! | `11..18` | second object's position and quaternion (zeros when absent) |
//! | `18..36` | the same 18 numbers one step earlier |
//! | `36..39` | goal position (zeros when the goal is hidden) |
//!
//! [`StateDims`] selects entries by name or index, as a user writes them.

use crate::env::OBS_DIM;
use std::ops::Range;

/// Numbers of one frame.
pub const FRAME: usize = 18;
/// The hand's position.
pub const HAND: Range<usize> = 0..3;
/// The gripper's opening.
pub const GRIPPER: usize = 3;
/// The first object's position.
pub const OBJECT: Range<usize> = 4..7;
/// The previous step's hand position.
pub const PREV_HAND: Range<usize> = FRAME..FRAME + 3;
/// The previous step's first object position.
pub const PREV_OBJECT: Range<usize> = FRAME + 4..FRAME + 7;
/// The goal's position.
pub const GOAL: Range<usize> = 36..39;

fn xyz(obs: &[f64], r: Range<usize>) -> [f64; 3] {
    [obs[r.start], obs[r.start + 1], obs[r.start + 2]]
}

/// The hand's position in `obs` (a 39-d observation).
pub fn hand(obs: &[f64; OBS_DIM]) -> [f64; 3] {
    xyz(obs, HAND)
}

/// The first object's position in `obs`.
pub fn object(obs: &[f64; OBS_DIM]) -> [f64; 3] {
    xyz(obs, OBJECT)
}

/// The goal's position in `obs`.
pub fn goal(obs: &[f64; OBS_DIM]) -> [f64; 3] {
    xyz(obs, GOAL)
}

/// A selection of observation entries, in order, each once: comma-separated names (`hand`,
/// `object`, `goal`), ranges `A:B` (B not included) and indices.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateDims(pub Vec<usize>);

/// A selection we cannot use.
#[derive(Debug, thiserror::Error)]
pub enum BadStateDims {
    #[error("`{0}` is not goal, hand, object, A:B or an index")]
    Unknown(String),
    #[error("`{0}` is empty or outside the state's 0..{OBS_DIM}")]
    OutOfRange(String),
    #[error("entry {0} is named twice")]
    Twice(usize),
}

impl std::str::FromStr for StateDims {
    type Err = BadStateDims;
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut dims = Vec::new();
        for item in list.split(',').map(str::trim) {
            let num = |t: &str| {
                t.trim()
                    .parse::<usize>()
                    .map_err(|_| BadStateDims::Unknown(item.to_string()))
            };
            let range = match item {
                "goal" => GOAL,
                "hand" => HAND,
                "object" => OBJECT,
                _ => match item.split_once(':') {
                    Some((lo, hi)) => num(lo)?..num(hi)?,
                    None => num(item).map(|i| i..i + 1)?,
                },
            };
            if range.is_empty() || range.end > OBS_DIM {
                return Err(BadStateDims::OutOfRange(item.to_string()));
            }
            for i in range {
                if dims.contains(&i) {
                    return Err(BadStateDims::Twice(i));
                }
                dims.push(i);
            }
        }
        Ok(StateDims(dims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dims_read_names_ranges_and_indices_in_order() {
        let d: StateDims = "goal, hand,7:9,3".parse().unwrap();
        assert_eq!(d.0, vec![36, 37, 38, 0, 1, 2, 7, 8, 3]);
        for bad in ["hand,0", "40", "5:5", "elbow", "1:x"] {
            assert!(bad.parse::<StateDims>().is_err(), "{bad}");
        }
    }

    /// The named slices are where the environment puts the hand, the object and the goal.
    #[test]
    fn the_layout_matches_the_environment() {
        let env = crate::Env::new(crate::TaskKind::PickPlace, 3, Default::default());
        let o = env.last_obs();
        let h = env.world().hand_pos();
        assert!(
            (0..3).all(|i| (hand(o)[i] - h[i]).abs() < 1e-9),
            "{:?} {h:?}",
            hand(o)
        );
        let t = env.placement().target_pos;
        assert!(
            (0..3).all(|i| (goal(o)[i] - t[i]).abs() < 1e-3),
            "{:?} {t:?}",
            goal(o)
        );
        assert_eq!(&o[PREV_HAND], &o[HAND]);
        assert!(object(o)[2] > 0.0);
    }
}
