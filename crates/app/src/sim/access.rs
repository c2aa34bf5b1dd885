//! The simulation's resources borrowed together: [`Sim`] owns them until the app starts,
//! [`SimParam`] and [`SimRead`] are the systems' parameters, [`SimMut`] is what a step, a reset
//! or a replayed episode loading works on, [`Shown`] answers what the timeline shows.

use super::state::{AgentView, Episode, Playback, Replay, Timeline};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use genreward_render::Frame;
use genreward_sim::rollout::StepRecord;
use genreward_sim::world::ShapeInstance;

/// The simulation's resources before the app starts (and in tests).
pub struct Sim {
    pub episode: Episode,
    pub playback: Playback,
    pub timeline: Timeline,
    pub view: AgentView,
    pub replay: Option<Replay>,
}

impl Sim {
    /// Every part, mutably.
    pub fn parts(&mut self) -> SimMut<'_> {
        SimMut {
            episode: &mut self.episode,
            playback: &mut self.playback,
            timeline: &mut self.timeline,
            view: &mut self.view,
            replay: self.replay.as_mut(),
        }
    }

    /// What the timeline shows.
    #[cfg(test)]
    pub fn shown(&self) -> Shown<'_> {
        Shown {
            episode: &self.episode,
            timeline: &self.timeline,
            view: &self.view,
            replay: self.replay.as_ref(),
        }
    }

    /// Hands the parts to the app as resources.
    pub fn insert(self, app: &mut App) {
        app.insert_resource(self.episode)
            .insert_resource(self.playback)
            .insert_resource(self.timeline)
            .insert_resource(self.view);
        if let Some(r) = self.replay {
            app.insert_resource(r);
        }
    }
}

/// The simulation's resources for a system that steps, resets or renders it.
#[derive(SystemParam)]
pub struct SimParam<'w> {
    pub episode: ResMut<'w, Episode>,
    pub playback: ResMut<'w, Playback>,
    pub timeline: ResMut<'w, Timeline>,
    pub view: ResMut<'w, AgentView>,
    pub replay: Option<ResMut<'w, Replay>>,
}

impl SimParam<'_> {
    /// Every part, mutably.
    pub fn parts(&mut self) -> SimMut<'_> {
        SimMut {
            episode: &mut self.episode,
            playback: &mut self.playback,
            timeline: &mut self.timeline,
            view: &mut self.view,
            replay: self.replay.as_deref_mut(),
        }
    }

    /// What the timeline shows.
    pub fn shown(&self) -> Shown<'_> {
        Shown {
            episode: &self.episode,
            timeline: &self.timeline,
            view: &self.view,
            replay: self.replay.as_deref(),
        }
    }
}

/// The simulation's resources for a system that only reads what is shown.
#[derive(SystemParam)]
pub struct SimRead<'w> {
    pub episode: Res<'w, Episode>,
    pub timeline: Res<'w, Timeline>,
    pub view: Res<'w, AgentView>,
    pub replay: Option<Res<'w, Replay>>,
}

impl SimRead<'_> {
    /// What the timeline shows.
    pub fn shown(&self) -> Shown<'_> {
        Shown {
            episode: &self.episode,
            timeline: &self.timeline,
            view: &self.view,
            replay: self.replay.as_deref(),
        }
    }
}

/// Every part of the simulation, mutably: what a step, a reset, a replayed episode loading and
/// a render of the timeline's state work on (see `step.rs` and `replay.rs`).
pub struct SimMut<'a> {
    pub episode: &'a mut Episode,
    pub playback: &'a mut Playback,
    pub timeline: &'a mut Timeline,
    pub view: &'a mut AgentView,
    pub replay: Option<&'a mut Replay>,
}

impl SimMut<'_> {
    /// What the timeline shows.
    pub fn shown(&self) -> Shown<'_> {
        Shown {
            episode: self.episode,
            timeline: self.timeline,
            view: self.view,
            replay: self.replay.as_deref(),
        }
    }
}

/// What the timeline shows: the state before the cursor's step, or the live state.
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    pub episode: &'a Episode,
    pub timeline: &'a Timeline,
    pub view: &'a AgentView,
    pub replay: Option<&'a Replay>,
}

impl<'a> Shown<'a> {
    /// The step the timeline shows: the cursor, or the number of steps taken (the live state).
    pub fn step(&self) -> usize {
        let n = self.episode.history.len();
        let last = match self.replay {
            // A replay has no live state after its last recorded step.
            Some(_) => n.saturating_sub(1),
            None => n,
        };
        self.timeline.cursor.map_or(last, |t| t.min(last))
    }

    /// The step record at the timeline's cursor (the step taken from the state shown), or the
    /// last step when following the episode.
    pub fn record(&self) -> Option<&'a StepRecord> {
        let history = &self.episode.history;
        match self.timeline.cursor {
            Some(t) if t < history.len() => history.get(t),
            _ => history.last(),
        }
    }

    /// The scene at the timeline's step.
    pub fn shapes(&self) -> Vec<ShapeInstance> {
        match self.episode.shapes.get(self.step()) {
            Some(s) => s.clone(),
            None => self.episode.env.world().shapes(),
        }
    }

    /// The agent view at the timeline's step.
    pub fn frame(&self) -> Option<&'a Frame> {
        match self.view.frames.get(self.step()) {
            Some(f) if self.timeline.cursor.is_some() => Some(f),
            _ => self.view.frame.as_ref(),
        }
    }

    /// The hand's position at the timeline's step.
    pub fn hand(&self) -> [f64; 3] {
        match self.episode.history.get(self.step()) {
            Some(r) => genreward_sim::obs::hand(&r.obs),
            None => self.episode.env.world().hand_pos(),
        }
    }

    /// The observation at the timeline's step (the state before its action).
    pub fn obs(&self) -> [f64; genreward_sim::OBS_DIM] {
        match self.episode.history.get(self.step()) {
            Some(r) => r.obs,
            None => *self.episode.env.last_obs(),
        }
    }

    /// Whether playing can go on: a simulated episode's step limit, a replay's last step.
    pub fn episode_over(&self) -> bool {
        if self.replay.is_some() {
            return self.step() + 1 >= self.episode.history.len();
        }
        self.episode.history.len() >= self.episode.env.max_path_length()
    }
}
