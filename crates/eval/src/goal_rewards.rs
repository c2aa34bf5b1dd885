//! The reward half of `eval-goals`: how well each method's goal videos serve as GenReward
//! goals. For one task's seeds, the expert's and random actions' episodes are rendered once,
//! as long as the goal videos (so the 16 frames r_video samples line up in time); every method
//! then gives one goal video per seed, and:
//!
//! - **goal specificity**: every expert episode is scored toward every seed's goal (r_video at
//!   the last step, r_fb averaged over the episode), and [`own_vs_other_auc`] says how often an
//!   episode's own goal beats the others;
//! - **expert vs random**: each seed's expert and random episodes toward that seed's goal, the
//!   AUC of the expert's scores against the random ones;
//! - **rise to success**: r_fb of each expert episode toward its own goal against the step
//!   index, before its first success (Spearman, as `eval-fb`), averaged over the episodes.
//!
//! The goal frame r_fb aims at is picked from each goal video as `score` picks it.

use crate::fb::rise_to_success;
use crate::{mean, Result};
use burn::tensor::backend::Backend;
use genreward_episodes::{expert_goal, Lockstep, VARIANTS};
use genreward_models::DeviceKind;
use genreward_record::Video;
use genreward_render::{Renderer, ViewSpec};
use genreward_reward::features::StateKind;
use genreward_reward::{
    cosine, fb_term, stretch_to_length, uniform_indices, GoalFramePicker, GoalVideo, StepTerm,
    VideoEncoder, WINDOW,
};
use genreward_sim::TaskKind;
use genreward_stats::{auc, own_vs_other_auc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One method's reward figures on one task (or their means over the tasks).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RewardFigures {
    /// How often an expert episode's own goal outscores other seeds' goals, on r_video.
    pub video_own_vs_other: f64,
    /// The same on the episode's mean r_fb.
    pub fb_own_vs_other: f64,
    /// AUC of expert against random episodes toward their own seed's goal, final r_video.
    pub video_expert_vs_random: f64,
    /// The same on the episode's mean r_fb.
    pub fb_expert_vs_random: f64,
    /// Mean Spearman correlation of r_fb with the step index before the first success (`None`
    /// when no expert episode succeeded after at least 3 steps).
    pub fb_spearman: Option<f64>,
}

impl RewardFigures {
    /// The means over `figs` (each field over the entries that have it).
    pub fn mean_of(figs: &[&RewardFigures]) -> Option<RewardFigures> {
        if figs.is_empty() {
            return None;
        }
        let avg =
            |f: fn(&RewardFigures) -> f64| mean(&figs.iter().map(|r| f(r)).collect::<Vec<_>>());
        let rhos: Vec<f64> = figs.iter().filter_map(|r| r.fb_spearman).collect();
        Some(RewardFigures {
            video_own_vs_other: avg(|r| r.video_own_vs_other),
            fb_own_vs_other: avg(|r| r.fb_own_vs_other),
            video_expert_vs_random: avg(|r| r.video_expert_vs_random),
            fb_expert_vs_random: avg(|r| r.fb_expert_vs_random),
            fb_spearman: (!rhos.is_empty()).then(|| mean(&rhos)),
        })
    }
}

/// What the rewards read of one episode.
struct Episode {
    /// The VAE latent of its 16 sampled frames (r_video at its last step compares this).
    latent: Vec<f32>,
    /// F's states, one row per step.
    states: Vec<f32>,
    actions: Vec<f32>,
    first_success: Option<usize>,
}

/// One task's episodes, one expert and one random per seed, in seed order.
pub(crate) struct TaskEpisodes {
    expert: Vec<Episode>,
    random: Vec<Episode>,
}

/// A goal as the rewards read it: the latent of its sampled window and its goal frame.
pub(crate) struct Goal {
    latent: Vec<f32>,
    frame: Vec<u8>,
}

/// The rendering, FB model and goal-frame picker shared by every task and method.
pub(crate) struct RewardBench {
    renderer: Renderer,
    term: Box<dyn StepTerm>,
    picker: GoalFramePicker,
    vae: PathBuf,
    clip: Option<PathBuf>,
    view: ViewSpec,
    /// Episode and goal video length in steps.
    length: usize,
}

impl RewardBench {
    /// Loads the FB model `fb` (its goal features from `vae`); `clip`: CLIP weights to pick
    /// goal frames by the task's sentence.
    pub fn new(
        fb: &Path,
        vae: &Path,
        clip: Option<&Path>,
        view: ViewSpec,
        length: usize,
        device: DeviceKind,
    ) -> Result<Self> {
        // Aimed at a blank frame until the first goal is set.
        let blank = vec![0u8; view.width as usize * view.height as usize * 3];
        Ok(RewardBench {
            renderer: Renderer::new()?,
            term: fb_term(fb, vae, None, &blank, device)?,
            picker: GoalFramePicker::new(vae)?,
            vae: vae.to_path_buf(),
            clip: clip.map(Path::to_path_buf),
            view,
            length,
        })
    }

    /// Prepares for `task` (CLIP scores goal frames by its sentence).
    pub fn set_task(&mut self, task: TaskKind) -> Result<()> {
        if let Some(dir) = &self.clip {
            self.picker = GoalFramePicker::new(&self.vae)?.with_clip(dir, task.goal_text())?;
        }
        Ok(())
    }

    /// The expert's and random actions' episodes of `task` on `seeds`.
    pub fn episodes<B: Backend>(
        &mut self,
        task: TaskKind,
        seeds: &[u32],
        encoder: &VideoEncoder<B>,
    ) -> Result<TaskEpisodes> {
        let (_, kind, noise) = VARIANTS[0];
        let expert = self.behaviour(task, kind, noise, seeds, encoder)?;
        let (_, kind, noise) = VARIANTS[VARIANTS.len() - 1];
        let random = self.behaviour(task, kind, noise, seeds, encoder)?;
        Ok(TaskEpisodes { expert, random })
    }

    fn behaviour<B: Backend>(
        &mut self,
        task: TaskKind,
        kind: genreward_sim::PolicyKind,
        noise: f64,
        seeds: &[u32],
        encoder: &VideoEncoder<B>,
    ) -> Result<Vec<Episode>> {
        let n = seeds.len();
        let mut run = Lockstep::new(task, kind, noise, seeds, self.length);
        let mut frames: Vec<Vec<Vec<u8>>> = vec![Vec::with_capacity(self.length); n];
        let mut out: Vec<Episode> = (0..n)
            .map(|_| Episode {
                latent: Vec::new(),
                states: Vec::new(),
                actions: Vec::new(),
                first_success: None,
            })
            .collect();
        let frame_state = self.term.state_kind() == StateKind::Frame;
        for t in 0..self.length {
            for (k, s) in run
                .render_and_step(&mut self.renderer, self.view)?
                .into_iter()
                .enumerate()
            {
                let ep = &mut out[k];
                if !frame_state {
                    ep.states.extend(s.state.iter().map(|&v| v as f32));
                }
                ep.actions.extend(s.action.iter().map(|&v| v as f32));
                if s.success && ep.first_success.is_none() {
                    ep.first_success = Some(t);
                }
                frames[k].push(s.frame.rgb);
            }
        }
        let window = uniform_indices(self.length, WINDOW);
        for (ep, f) in out.iter_mut().zip(&frames) {
            let refs: Vec<&[u8]> = window.iter().map(|&i| f[i].as_slice()).collect();
            ep.latent = encoder.encode(&refs)?;
            if frame_state {
                let all: Vec<&[u8]> = f.iter().map(Vec::as_slice).collect();
                ep.states = self
                    .term
                    .frame_states(&all, self.view.width, self.view.height)?;
            }
        }
        Ok(out)
    }

    /// The expert's own goal video of `task` on `seed` (the oracle), as `goal --source expert`
    /// makes it at the episode length.
    pub fn expert_goal<B: Backend>(
        &mut self,
        task: TaskKind,
        seed: u32,
        encoder: &VideoEncoder<B>,
    ) -> Result<Goal> {
        let video = expert_goal(task, seed, self.view, self.length, &mut self.renderer)?;
        self.goal(&video, encoder)
    }

    /// A goal from 16 generated (or decoded) frames standing for a goal video of
    /// `generated_length` frames, stretched to the episode length as `goal` writes it.
    pub fn frames_goal<B: Backend>(
        &self,
        frames: &[Vec<u8>],
        generated_length: usize,
        encoder: &VideoEncoder<B>,
    ) -> Result<Goal> {
        let video = Video {
            width: self.view.width,
            height: self.view.height,
            frames: stretch_to_length(frames, generated_length, self.length),
        };
        let video = GoalVideo::from_video(video, self.view.width, "generated goal")?;
        self.goal(&video, encoder)
    }

    fn goal<B: Backend>(&self, video: &GoalVideo, encoder: &VideoEncoder<B>) -> Result<Goal> {
        let choice = self.picker.pick(video, None)?;
        Ok(Goal {
            latent: encoder.encode_goal(video)?,
            frame: video.window[choice.frame].clone(),
        })
    }

    /// The figures of one method's goals (`goals[k]` is seed `k`'s) on `eps`.
    pub fn figures(&mut self, eps: &TaskEpisodes, goals: &[Goal]) -> Result<RewardFigures> {
        let n = goals.len();
        debug_assert_eq!(n, eps.expert.len());
        let video: Vec<Vec<f64>> = eps
            .expert
            .iter()
            .map(|e| goals.iter().map(|g| cosine(&e.latent, &g.latent)).collect())
            .collect();
        let video_random: Vec<f64> = eps
            .random
            .iter()
            .zip(goals)
            .map(|(e, g)| cosine(&e.latent, &g.latent))
            .collect();
        let mut fb = vec![vec![0.0; n]; n];
        let mut fb_random = vec![0.0; n];
        let mut rhos = Vec::new();
        for (j, g) in goals.iter().enumerate() {
            self.term.set_goal(&g.frame)?;
            for (i, e) in eps.expert.iter().enumerate() {
                let r = self.term.score(&e.states, &e.actions)?;
                fb[i][j] = mean(&r);
                if i == j {
                    rhos.extend(rise_to_success(&r, e.first_success));
                }
            }
            let e = &eps.random[j];
            fb_random[j] = mean(&self.term.score(&e.states, &e.actions)?);
        }
        let own = |m: &[Vec<f64>]| (0..n).map(|i| m[i][i]).collect::<Vec<f64>>();
        Ok(RewardFigures {
            video_own_vs_other: own_vs_other_auc(&video),
            fb_own_vs_other: own_vs_other_auc(&fb),
            video_expert_vs_random: auc(&own(&video), &video_random),
            fb_expert_vs_random: auc(&own(&fb), &fb_random),
            fb_spearman: (!rhos.is_empty()).then(|| mean(&rhos)),
        })
    }
}
