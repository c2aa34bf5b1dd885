//! The seven Meta-World v3 tasks: names, bounds, sampling ranges (facts §3.1).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One Meta-World v3 task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    Reach,
    Push,
    PickPlace,
    PickOutOfHole,
    BinPicking,
    ShelfPlace,
    Disassemble,
}

/// Error for a task name we do not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown task '{0}' (known: reach, push, pick-place, pick-out-of-hole, bin-picking, shelf-place, disassemble; a -v3 suffix is accepted)")]
pub struct UnknownTask(pub String);

impl TaskKind {
    pub const ALL: [TaskKind; 7] = [
        TaskKind::Reach,
        TaskKind::Push,
        TaskKind::PickPlace,
        TaskKind::PickOutOfHole,
        TaskKind::BinPicking,
        TaskKind::ShelfPlace,
        TaskKind::Disassemble,
    ];

    /// Meta-World's name without the version suffix.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Reach => "reach",
            TaskKind::Push => "push",
            TaskKind::PickPlace => "pick-place",
            TaskKind::PickOutOfHole => "pick-out-of-hole",
            TaskKind::BinPicking => "bin-picking",
            TaskKind::ShelfPlace => "shelf-place",
            TaskKind::Disassemble => "disassemble",
        }
    }

    /// Meta-World's full environment name, e.g. `pick-place-v3`.
    pub fn v3_name(self) -> String {
        format!("{}-v3", self.name())
    }

    /// One-line description for `genreward tasks`.
    pub fn description(self) -> &'static str {
        match self {
            TaskKind::Reach => "move the gripper's fingertips to a goal point in the air",
            TaskKind::Push => "push a puck across the table to a goal spot",
            TaskKind::PickPlace => "grasp a puck and carry it to a goal point in the air",
            TaskKind::PickOutOfHole => {
                "grasp a puck from the bottom of a hole and lift it to a goal"
            }
            TaskKind::BinPicking => {
                "pick a cube out of the left bin and drop it into the right bin"
            }
            TaskKind::ShelfPlace => "pick a block and place it on a shelf",
            TaskKind::Disassemble => "lift the nut (by its handle) off the peg",
        }
    }

    /// One sentence saying what a frame of the task done shows: the text CLIP scores goal
    /// frames against (`genreward goal-frame`), listed by `genreward tasks`.
    pub fn goal_text(self) -> &'static str {
        match self {
            TaskKind::Reach => "a robot arm with its gripper at the target point",
            TaskKind::Push => "a robot arm that has pushed the puck onto the goal spot",
            TaskKind::PickPlace => "a robot gripper holding the puck up in the air at the goal",
            TaskKind::PickOutOfHole => "a robot gripper holding the puck lifted out of the hole",
            TaskKind::BinPicking => "a robot arm that has dropped the cube into the right bin",
            TaskKind::ShelfPlace => "a robot arm that has placed the block on the shelf",
            TaskKind::Disassemble => "a robot gripper lifting the nut off the peg",
        }
    }

    /// Lower corner of the hand (= mocap) box.
    pub fn hand_low(self) -> [f64; 3] {
        match self {
            TaskKind::PickOutOfHole => [-0.5, 0.40, -0.05],
            TaskKind::BinPicking => [-0.5, 0.40, 0.07],
            _ => [-0.5, 0.40, 0.05],
        }
    }

    /// Upper corner of the hand (= mocap) box.
    pub fn hand_high(self) -> [f64; 3] {
        [0.5, 1.0, 0.5]
    }

    /// Where the hand is driven during reset. Shelf-place and disassemble store it
    /// as float32 in Meta-World, so the values carry float32 rounding.
    pub fn hand_init_pos(self) -> [f64; 3] {
        match self {
            TaskKind::ShelfPlace => [0.0, 0.6f32 as f64, 0.2f32 as f64],
            TaskKind::Disassemble => [0.0, 0.4f32 as f64, 0.2f32 as f64],
            _ => [0.0, 0.6, 0.2],
        }
    }

    /// Object sampling range (low, high).
    pub fn obj_range(self) -> ([f64; 3], [f64; 3]) {
        match self {
            TaskKind::Reach | TaskKind::Push | TaskKind::PickPlace => {
                ([-0.1, 0.6, 0.02], [0.1, 0.7, 0.02])
            }
            TaskKind::PickOutOfHole => ([0.0, 0.75, 0.02], [0.0, 0.75, 0.02]),
            TaskKind::BinPicking => ([-0.21, 0.65, 0.02], [-0.03, 0.75, 0.02]),
            TaskKind::ShelfPlace => ([-0.1, 0.5, 0.019], [0.1, 0.6, 0.021]),
            TaskKind::Disassemble => ([0.0, 0.6, 0.025], [0.1, 0.75, 0.02501]),
        }
    }

    /// Goal sampling range (low, high).
    pub fn goal_range(self) -> ([f64; 3], [f64; 3]) {
        match self {
            TaskKind::Reach | TaskKind::PickPlace => ([-0.1, 0.8, 0.05], [0.1, 0.9, 0.3]),
            TaskKind::Push => ([-0.1, 0.8, 0.01], [0.1, 0.9, 0.02]),
            TaskKind::PickOutOfHole => ([-0.1, 0.5, 0.15], [0.1, 0.6, 0.3]),
            TaskKind::BinPicking => ([0.1199, 0.699, -0.001], [0.1201, 0.701, 0.001]),
            TaskKind::ShelfPlace => ([-0.1, 0.8, 0.299], [0.1, 0.9, 0.301]),
            TaskKind::Disassemble => ([-0.1, 0.6, 0.1699], [0.1, 0.75, 0.1701]),
        }
    }

    /// The box the goal slot of the observation is clipped to (`goal_space`).
    pub fn goal_space(self) -> ([f64; 3], [f64; 3]) {
        let (lo, hi) = self.goal_range();
        match self {
            TaskKind::Disassemble => ([lo[0], lo[1], lo[2] + 0.005], [hi[0], hi[1], hi[2] + 0.005]),
            _ => (lo, hi),
        }
    }
}

/// A list of tasks as a user writes it: `all`, or names separated by commas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskList(pub Vec<TaskKind>);

impl FromStr for TaskList {
    type Err = UnknownTask;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "all" {
            return Ok(TaskList(TaskKind::ALL.to_vec()));
        }
        s.split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(TaskList)
    }
}

impl FromStr for TaskKind {
    type Err = UnknownTask;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let base = s.trim().strip_suffix("-v3").unwrap_or(s.trim());
        let base = base.strip_suffix("-goal-observable").unwrap_or(base);
        let base = base.strip_suffix("-v3").unwrap_or(base);
        TaskKind::ALL
            .into_iter()
            .find(|t| t.name() == base)
            .ok_or_else(|| UnknownTask(s.to_string()))
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
