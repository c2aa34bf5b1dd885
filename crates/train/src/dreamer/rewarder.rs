//! The pieces of a DreamerV3 run that know the environments: each environment's reward and
//! episode in progress, the per-episode goal, acting on a batch of frames.

use crate::online_fb::{FbState, OnlineFb};
use crate::Result;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use genreward_models::dreamer::agent::Acting;
use genreward_models::dreamer::replay::frames_to_tensor;
use genreward_models::dreamer::Agent;
use genreward_record::VideoWriter;
use genreward_render::{render_envs, Frame, Renderer, ViewSpec};
use genreward_reward::mix::MixWeights;
use genreward_reward::{fb_inputs, mix_step, GenRewardTerms, GoalFramePicker, GoalVideo};
use genreward_run::EpisodeGoals;
use genreward_sim::rollout::sparse_reward;
use genreward_sim::{Env, PhysicsConfig, TaskKind, ACT_DIM, OBS_DIM};
use std::path::{Path, PathBuf};

/// The online FB representation's inputs, known before the backend is.
pub(crate) struct FbSetup {
    pub state: FbState,
    /// The goal frame (at the VAE's size).
    pub goal_frame: Vec<u8>,
    pub vae: PathBuf,
    /// The checkpoint to go on training (obs39), or none (dreamer: fresh).
    pub start: Option<PathBuf>,
}

/// One step's reward terms: r_env as paid, r_video, r_fb (unweighted).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Terms {
    pub env: f64,
    pub video: f64,
    pub fb: f64,
}

/// What the agent is trained on, per environment.
pub(crate) struct Rewarder {
    pub terms: Option<GenRewardTerms>,
    pub weights: MixWeights,
}

impl Rewarder {
    /// A step's terms: r_env as paid plus the GenReward terms of the frame the action was
    /// chosen from and the (state, action) pair. `online_fb`: r_fb of the step from the online
    /// FB representation, in place of the loaded one.
    pub fn reward(
        &mut self,
        t: usize,
        dense: f64,
        frame: &Frame,
        obs: &[f64; OBS_DIM],
        action: &[f64; ACT_DIM],
        online_fb: Option<f64>,
    ) -> Result<Terms> {
        let env = sparse_reward(dense, t, self.weights.sparse_every);
        let Some(terms) = self.terms.as_mut() else {
            return Ok(Terms {
                env,
                ..Terms::default()
            });
        };
        let video = terms
            .video
            .push(&frame.rgb, frame.width, frame.height)?
            .unwrap_or(0.0);
        let fb = match (online_fb, terms.fb.as_mut()) {
            (Some(rf), _) => rf,
            (None, Some(fb)) => {
                let (s, a) = fb_inputs(obs, action);
                fb.score(&s, &a)?[0]
            }
            (None, None) => 0.0,
        };
        Ok(Terms { env, video, fb })
    }

    /// The step's reward: the one mix.
    pub fn total(&self, t: Terms) -> f64 {
        mix_step(t.env, t.video, t.fb, &self.weights)
    }

    pub fn reset(&mut self) {
        if let Some(t) = self.terms.as_mut() {
            t.video.reset();
        }
    }
}

/// One environment's episode in progress.
pub(crate) struct Slot {
    pub env: Env,
    /// The episode's placement seed.
    pub seed: u32,
    pub rewarder: Rewarder,
    pub t: usize,
    pub first: bool,
    pub last_reward: f32,
    pub ret: f64,
    /// The episode's r_env (as paid), r_video and r_fb so far (unweighted), and its dense
    /// Meta-World return (what runs with different rewards compare by).
    pub terms: [f64; 4],
    pub success: bool,
}

impl Slot {
    pub fn new(task: TaskKind, seed: u32, steps: usize, rewarder: Rewarder) -> Slot {
        Slot {
            env: new_env(task, seed, steps),
            seed,
            rewarder,
            t: 0,
            first: true,
            last_reward: 0.0,
            ret: 0.0,
            terms: [0.0; 4],
            success: false,
        }
    }

    /// Starts the next episode on `seed`.
    pub fn restart(&mut self, task: TaskKind, seed: u32, steps: usize) {
        self.seed = seed;
        self.env = new_env(task, seed, steps);
        self.rewarder.reset();
        self.t = 0;
        self.first = true;
        self.last_reward = 0.0;
        self.ret = 0.0;
        self.terms = [0.0; 4];
        self.success = false;
    }
}

/// Where each episode's own goal comes from.
pub(crate) enum GoalSource {
    /// The scripted expert on the episode's scene (the oracle).
    Expert,
    /// The goal generator, from the episode's first frame.
    Generated(EpisodeGoals),
}

impl GoalSource {
    /// The goal video of `steps` frames for the episode on `seed` whose environment `env` has
    /// just been reset, seen from `view`.
    pub fn goal(
        &mut self,
        renderer: &mut Renderer,
        task: TaskKind,
        env: &Env,
        seed: u32,
        view: ViewSpec,
        steps: usize,
    ) -> Result<GoalVideo> {
        Ok(match self {
            GoalSource::Expert => {
                genreward_episodes::expert_goal(task, seed, view, steps, renderer)?
            }
            GoalSource::Generated(goals) => {
                let first = render_envs(renderer, &[env.world()], view)?.remove(0);
                goals
                    .goal_for(&first.rgb, (first.width, first.height), task, steps)?
                    .0
            }
        })
    }
}

/// Each episode's own goal: what re-aims the terms at it.
pub(crate) struct PerEpisode {
    pub picker: GoalFramePicker,
    pub view: ViewSpec,
    pub source: GoalSource,
}

impl PerEpisode {
    /// Aims slot `i`'s terms (and the online FB's environment `i`) at the goal video of the
    /// slot's new episode.
    #[allow(clippy::too_many_arguments)]
    pub fn aim<B: AutodiffBackend>(
        &mut self,
        renderer: &mut Renderer,
        task: TaskKind,
        slot: &mut Slot,
        i: usize,
        online: Option<&mut OnlineFb<B>>,
        episode_steps: usize,
        goal_frame: Option<usize>,
    ) -> Result<()> {
        let Some(terms) = slot.rewarder.terms.as_mut() else {
            return Ok(());
        };
        let goal = self.source.goal(
            renderer,
            task,
            &slot.env,
            slot.seed,
            self.view,
            episode_steps,
        )?;
        let choice = self.picker.pick(&goal, goal_frame)?;
        let frame = &goal.window[choice.frame];
        terms.video.set_goal(&goal)?;
        if let Some(fb) = terms.fb.as_mut() {
            fb.set_goal(frame)?;
        }
        if let Some(fb) = online {
            fb.set_goal(i, frame)?;
        }
        Ok(())
    }
}

pub(crate) fn new_env(task: TaskKind, seed: u32, steps: usize) -> Env {
    let mut e = Env::new(task, seed, PhysicsConfig::default());
    e.set_max_path_length(steps);
    e
}

pub(crate) fn obs_vec(o: &[f64; OBS_DIM]) -> Vec<f32> {
    o.iter().map(|&v| v as f32).collect()
}

/// Acts on every environment's current frame at once.
#[allow(clippy::too_many_arguments)]
pub(crate) fn act_all<B: Backend>(
    agent: &Agent<B>,
    acting: &mut Acting<B>,
    frames: &[Frame],
    obs: &[[f64; OBS_DIM]],
    first: &[bool],
    state: bool,
    greedy: bool,
    device: &B::Device,
) -> Vec<[f64; ACT_DIM]> {
    let n = frames.len();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
    let image = frames_to_tensor::<B>(&refs, device);
    let vector = state.then(|| {
        let v: Vec<f32> = obs.iter().flat_map(obs_vec).collect();
        Tensor::from_data(TensorData::new(v, [n, OBS_DIM]), device)
    });
    let f: Vec<f32> = first.iter().map(|&b| b as u8 as f32).collect();
    let is_first = Tensor::from_data(TensorData::new(f, [n, 1]), device);
    let a = agent
        .act(acting, image, vector, is_first, greedy)
        .into_data()
        .to_vec::<f32>()
        .unwrap_or_default();
    a.chunks(ACT_DIM)
        .map(|c| std::array::from_fn(|i| c[i] as f64))
        .collect()
}

pub(crate) fn write_video(path: &Path, frames: &[Vec<u8>], w: u32, h: u32) -> Result<()> {
    let mut v = VideoWriter::create(path, w, h, 20)?;
    for f in frames {
        v.write_frame(f)?;
    }
    v.finish()?;
    Ok(())
}
