//! The simulation inside the app: stepping at the chosen speed, the policy or the keyboard
//! driving it, and the agent's observation rendered after every step by the same headless
//! renderer `genreward rollout --camera` uses.
//!
//! Its state is five resources ([`state`]): the [`Episode`], its [`Playback`], the
//! [`Timeline`], the [`AgentView`] and, with `view --run`, the [`Replay`]; systems take them
//! together as [`SimParam`] (or [`SimRead`]), and a step, a reset or a replayed episode loading
//! works on all of them as [`SimMut`].

mod access;
mod driver;
mod replay;
mod state;
mod step;
mod systems;
#[cfg(test)]
pub(crate) mod tests;

pub use access::{Shown, Sim, SimMut, SimParam, SimRead};
pub use driver::Driver;
pub use state::{AgentView, Episode};

use crate::AppSet;
use bevy::prelude::*;

/// Meta-World's control rate: speed 1.0 plays 80 steps per second.
pub const CONTROL_HZ: f32 = genreward_sim::CONTROL_HZ as f32;

/// How many steps ahead the imagination view looks.
pub const IMAGINE_AHEAD: usize = 8;

pub struct SimPlugin;

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, systems::advance.in_set(AppSet::Step));
    }
}
