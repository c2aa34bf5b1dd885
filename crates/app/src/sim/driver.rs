//! Who acts: a policy or a person at the keyboard, and the keyboard's mapping to an action.

use super::state::Episode;
use anyhow::Result;
use bevy::prelude::*;
use genreward_sim::PolicyKind;
use std::fmt;
use std::str::FromStr;

/// Who acts: a policy, or a person at the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Policy(PolicyKind),
    Keyboard,
}

impl Driver {
    pub const ALL: [Driver; 4] = [
        Driver::Policy(PolicyKind::Expert),
        Driver::Policy(PolicyKind::Random),
        Driver::Policy(PolicyKind::Zero),
        Driver::Keyboard,
    ];
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Driver::Policy(p) => write!(f, "{p}"),
            Driver::Keyboard => f.write_str("keyboard"),
        }
    }
}

impl FromStr for Driver {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("keyboard") {
            return Ok(Driver::Keyboard);
        }
        s.parse::<PolicyKind>().map(Driver::Policy).map_err(|_| {
            anyhow::anyhow!(
                "unknown policy '{s}' (known: expert, random, zero, keyboard, agent:DIR)"
            )
        })
    }
}

/// The keyboard action: arrows or WASD move in x/y, E/Q up and down, space
/// toggles the gripper.
pub(crate) fn keyboard_action(keys: &ButtonInput<KeyCode>, episode: &mut Episode) -> [f64; 4] {
    let axis = |pos: &[KeyCode], neg: &[KeyCode]| -> f64 {
        let p = pos.iter().any(|k| keys.pressed(*k)) as i32;
        let n = neg.iter().any(|k| keys.pressed(*k)) as i32;
        (p - n) as f64
    };
    if keys.just_pressed(KeyCode::Space) {
        episode.gripper_closed = !episode.gripper_closed;
    }
    [
        axis(
            &[KeyCode::ArrowRight, KeyCode::KeyD],
            &[KeyCode::ArrowLeft, KeyCode::KeyA],
        ),
        axis(
            &[KeyCode::ArrowUp, KeyCode::KeyW],
            &[KeyCode::ArrowDown, KeyCode::KeyS],
        ),
        axis(&[KeyCode::KeyE], &[KeyCode::KeyQ]),
        episode.gripper_hold(),
    ]
}
