//! DreamerV3 learning a task from pixels (64x64 agent-camera frames, plus the 39-d state when
//! asked), with the environment's reward or the GenReward mix: [`train_dreamer`], or step by
//! step with a [`DreamerTrainer`].
//!
//! Each decision renders every environment's frame in one batch, the agent acts on all of them
//! at once, the environments step, and the steps go to the replay. Once the replay holds one
//! batch worth of steps, the agent trains so that `train_ratio` replayed steps are learned from
//! per agent step (the reference's default 32: one update of 16 x 64 steps every 32 steps).
//! Episodes use fresh placement seeds; evaluation uses seeds from [`EVAL_SEED`] on, which
//! training never sees.

mod config;
mod rewarder;
mod trainer;

pub use config::{Cnn, DreamerGoal, DreamerReward, StateDims, TrainDreamerConfig};
pub use trainer::{BestEval, DreamerReport, DreamerTrainer};

use crate::error::bail;
use crate::online_fb::FbState;
use crate::Result;
use burn::tensor::backend::AutodiffBackend;
use genreward_models::backend::{run_on, BackendJob};
use genreward_models::dreamer::DreamerMeta;
use genreward_render::Renderer;
use genreward_reward::mix::MixWeights;
use genreward_reward::GoalFramePicker;
use genreward_run::{EpisodeGoals, Loaded};
use indicatif::ProgressBar;
use rewarder::{FbSetup, GoalSource, PerEpisode, Rewarder};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// First placement seed of evaluation episodes (training seeds count up from the run's seed).
pub const EVAL_SEED: u32 = 1_000_000;

/// What the run needs before the backend is chosen: the per-environment rewards, the online
/// FB's inputs and the per-episode goal picker.
pub(crate) struct Setup {
    pub rewarders: Vec<Rewarder>,
    pub fb: Option<FbSetup>,
    pub per_episode: Option<PerEpisode>,
}

/// Trains (or resumes, or starts from a saved agent) a DreamerV3 agent as `cfg` says: saves
/// its checkpoint every `checkpoint_every` environment steps and at the end, evaluates every
/// `eval_every` steps (the best evaluation's agent in `out/best`). `bar` shows the
/// environment steps; `stop`, once set, ends the run after the decision in hand (saved).
pub fn train_dreamer(
    cfg: &TrainDreamerConfig,
    bar: &ProgressBar,
    stop: Arc<AtomicBool>,
) -> Result<DreamerReport> {
    run_on(cfg.genreward.device, Job { cfg, bar, stop })
}

struct Job<'a> {
    cfg: &'a TrainDreamerConfig,
    bar: &'a ProgressBar,
    stop: Arc<AtomicBool>,
}

impl BackendJob for Job<'_> {
    type Output = Result<DreamerReport>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let mut trainer = DreamerTrainer::<B>::new(self.cfg, device, self.bar, self.stop)?;
        trainer.train()?;
        Ok(trainer.report())
    }
}

/// The rewards, the online FB's inputs and the per-episode goals of a run.
pub(crate) fn setup(cfg: &TrainDreamerConfig) -> Result<Setup> {
    let task = cfg.task;
    let reward_view = cfg.reward_view();
    let online = cfg.online_fb();
    let settings = &cfg.genreward;
    // Each episode's own goal, the expert's or generated from its first frame: the first
    // episode's now (to load the terms with), each episode's own in the run.
    let genreward = cfg.reward == DreamerReward::GenReward;
    let mut source = match &cfg.goal {
        Some(DreamerGoal::Expert) if genreward => Some(GoalSource::Expert),
        Some(DreamerGoal::Generated {
            generator,
            settings: gen,
        }) if genreward => Some(GoalSource::Generated(EpisodeGoals::load(
            generator,
            &settings.vae_dir(),
            gen,
            settings.device,
        )?)),
        _ => None,
    };
    let first_goal = match &mut source {
        Some(src) => {
            let mut renderer = Renderer::new()?;
            let env = rewarder::new_env(task, cfg.seed, cfg.episode_steps);
            Some(src.goal(
                &mut renderer,
                task,
                &env,
                cfg.seed,
                reward_view,
                cfg.episode_steps,
            )?)
        }
        None => None,
    };
    let label = match &source {
        Some(GoalSource::Generated(_)) => "generated (each episode's own)",
        _ => "expert (each episode's own)",
    };
    let mut weights = MixWeights {
        alpha: 0.0,
        beta: 0.0,
        sparse_every: cfg.sparse_every,
    };
    let mut fb = None;
    let mut rewarders = Vec::with_capacity(cfg.envs);
    for _ in 0..cfg.envs {
        let terms = match cfg.reward {
            DreamerReward::Env => None,
            DreamerReward::GenReward => {
                let mut loaded = match (&first_goal, &cfg.goal) {
                    (Some(g), _) => Loaded::from_video(g.clone(), label, settings, task)?,
                    (None, Some(DreamerGoal::File(path))) => {
                        Loaded::from_file(path, settings, task)?
                    }
                    (None, _) => bail!("the GenReward reward needs a goal video"),
                };
                if let Some(note) = &loaded.terms.fb_note {
                    tracing::warn!("{note}");
                }
                weights.alpha = loaded.info.alpha;
                weights.beta = loaded.info.beta;
                if online {
                    // r_fb comes from the representation training in the run instead.
                    loaded.terms.fb = None;
                    weights.beta = settings.beta;
                    let t = &loaded.terms;
                    fb.get_or_insert_with(|| FbSetup {
                        state: cfg.fb_state,
                        goal_frame: t.goal.window[t.goal_frame.frame].clone(),
                        vae: settings.vae_dir(),
                        start: match cfg.fb_state {
                            FbState::Obs39 => t.fb_dir.clone(),
                            FbState::Dreamer => None,
                        },
                    });
                }
                Some(loaded.terms)
            }
        };
        rewarders.push(Rewarder { terms, weights });
    }
    let per_episode = match source {
        Some(source) => {
            let mut picker = GoalFramePicker::new(&settings.vae_dir())?;
            if let Some(dir) = &settings.clip {
                picker = picker.with_clip(dir, task.goal_text())?;
            }
            Some(PerEpisode {
                picker,
                view: reward_view,
                source,
            })
        }
        None => None,
    };
    if cfg.fb_online
        && cfg.fb_state == FbState::Obs39
        && fb.as_ref().is_some_and(|f: &FbSetup| f.start.is_none())
    {
        bail!("no FB checkpoint to go on training online (r_fb is off or has none)");
    }
    Ok(Setup {
        rewarders,
        fb,
        per_episode,
    })
}

/// The saved agent's meta, checked to be a DreamerV3 agent's.
pub fn read_agent_meta(dir: &std::path::Path) -> Result<DreamerMeta> {
    if !dir.join("config.json").is_file() {
        bail!("no agent in {} (no config.json)", dir.display());
    }
    match DreamerMeta::read(dir) {
        Ok(m) if m.is_dreamer() => Ok(m),
        _ => bail!("{} is not a DreamerV3 agent", dir.display()),
    }
}
