//! GenReward in the app: with `view --goal FILE`, every step's agent-view frame feeds the video
//! reward and every step's state and action the FB reward, as `rollout --goal` computes them
//! (the same terms, the same frames). The terms are stored per step, so the panel's alpha, beta
//! and sparse-interval controls rescore the whole episode at once without running a model again,
//! and clicking another goal frame re-aims r_fb and rescores the episode's r_fb in one batch.
//!
//! The models run on a worker thread of their own ([`worker`]): the frame's update only
//! sends the step's frame, state and action and takes the terms that are ready, so an r_video
//! payment (16 frames through the encoder, about 30-40 ms on the CPU) does not hold the window.
//! The backend is the one `--device` names: the CPU (burn-flex) by default, or wgpu on the app's
//! own device ([`crate::gpu`]).
//!
//! Its state is five resources ([`state`]): the [`Goal`], the [`Terms`], the [`WorkerLink`],
//! the [`FieldView`] and the [`Summary`]; systems take them together as [`RewardParam`], and
//! following the episode works on all of them as [`RewardMut`] (`score.rs`, `field.rs`).

mod field;
mod rescore;
mod score;
mod state;
mod systems;
#[cfg(test)]
mod tests;
mod worker;

pub use rescore::{recording_data, Rescored};
pub use state::{FieldView, Goal, MainThreadTime, Summary, Terms, WorkerLink};
pub use systems::ScriptedDrops;

use crate::AppSet;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use genreward_reward::field::FieldSubject;
use genreward_reward::mix::MixWeights;
use genreward_run::Loaded;

/// What `view --goal` loaded, and the environment reward's interval.
pub struct GoalSetup {
    pub loaded: Loaded,
    pub sparse_every: Option<usize>,
    /// Show the reward field of this subject from the start.
    pub heatmap: Option<FieldSubject>,
}

/// Cells per side of the app's field grid.
pub const FIELD_GRID: usize = 24;
/// Side of the top view the field is drawn over.
pub const FIELD_SIZE: u32 = 256;

/// GenReward's resources before the app starts (and in tests).
pub struct Reward {
    pub goal: Goal,
    pub terms: Terms,
    pub link: WorkerLink,
    pub field: FieldView,
    pub summary: Summary,
}

impl Reward {
    /// The panel's state, with the goal `view --goal` loaded (its models started on the worker
    /// thread) or none yet.
    pub fn new(setup: Option<GoalSetup>) -> Reward {
        let heatmap = setup.as_ref().and_then(|s| s.heatmap);
        let (weights, frame) = match &setup {
            Some(s) => (
                MixWeights {
                    alpha: s.loaded.info.alpha,
                    beta: s.loaded.info.beta,
                    sparse_every: s.sparse_every,
                },
                s.loaded.terms.goal_frame.frame,
            ),
            None => (
                MixWeights {
                    alpha: genreward_reward::DEFAULT_ALPHA,
                    beta: genreward_reward::DEFAULT_BETA,
                    sparse_every: None,
                },
                0,
            ),
        };
        let mut reward = Reward {
            goal: Goal {
                loaded: None,
                frame,
                loader: None,
                serial: 0,
                path_text: String::new(),
                status: None,
                generated: Default::default(),
            },
            terms: Terms {
                r_video: Vec::new(),
                r_fb: Vec::new(),
                weights,
                recorded: None,
                message: None,
            },
            link: WorkerLink {
                worker: None,
                backend: String::new(),
                generation: 0,
                episode: 0,
                sent: 0,
                aiming: None,
                ms_video: 0.0,
                ms_fb: 0.0,
                max_lag: 0,
                main_thread: MainThreadTime::default(),
            },
            field: FieldView::new(heatmap),
            summary: Summary::default(),
        };
        if let Some(s) = setup {
            reward.parts().install(s.loaded);
        }
        reward
    }

    /// Every part, mutably.
    pub fn parts(&mut self) -> RewardMut<'_> {
        RewardMut {
            goal: &mut self.goal,
            terms: &mut self.terms,
            link: &mut self.link,
            field: &mut self.field,
            summary: &self.summary,
        }
    }

    /// Lets the panel load other goals with these model settings.
    pub fn set_loader(&mut self, args: genreward_reward::RewardSettings) {
        self.goal.loader = Some(args);
    }

    /// Shows a replayed run's stored terms with the weights and interval it was scored with.
    pub fn follow_run(&mut self, manifest: &genreward_run::RunManifest) {
        let weights = &mut self.terms.weights;
        if let Some(g) = &manifest.goal {
            weights.alpha = g.alpha;
            weights.beta = g.beta;
            if let Some(f) = &g.goal_frame {
                self.goal.frame = f.frame;
            }
        }
        weights.sparse_every = manifest.config.sparse_every;
        self.terms.recorded = manifest.goal.clone();
    }

    /// Hands the parts to the app as resources.
    pub fn insert(self, app: &mut App) {
        app.insert_resource(self.goal)
            .insert_resource(self.terms)
            .insert_resource(self.link)
            .insert_resource(self.field)
            .insert_resource(self.summary);
    }
}

/// GenReward's resources for a system that follows the episode, loads a goal or draws the
/// panel.
#[derive(SystemParam)]
pub struct RewardParam<'w> {
    pub goal: ResMut<'w, Goal>,
    pub terms: ResMut<'w, Terms>,
    pub link: ResMut<'w, WorkerLink>,
    pub field: ResMut<'w, FieldView>,
    pub summary: Res<'w, Summary>,
}

impl RewardParam<'_> {
    /// Every part, mutably.
    pub fn parts(&mut self) -> RewardMut<'_> {
        RewardMut {
            goal: &mut self.goal,
            terms: &mut self.terms,
            link: &mut self.link,
            field: &mut self.field,
            summary: &self.summary,
        }
    }
}

/// Every part of GenReward's state, mutably: what following the episode, loading a goal,
/// aiming r_fb and refreshing the field work on.
pub struct RewardMut<'a> {
    pub goal: &'a mut Goal,
    pub terms: &'a mut Terms,
    pub link: &'a mut WorkerLink,
    pub field: &'a mut FieldView,
    pub summary: &'a Summary,
}

impl RewardMut<'_> {
    /// Whether there are terms to show: models loaded, or a replayed run's stored terms.
    pub fn has_terms(&self) -> bool {
        self.goal.loaded.is_some() || self.terms.recorded.is_some()
    }
}

pub struct RewardPlugin;

impl Plugin for RewardPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ScriptedDrops>()
            .add_systems(
                Update,
                (systems::scripted_drops, systems::dropped_goal)
                    .chain()
                    .in_set(AppSet::Input),
            )
            .add_systems(
                Update,
                (systems::follow_sim, systems::field_system)
                    .chain()
                    .in_set(AppSet::Score),
            );
    }
}
