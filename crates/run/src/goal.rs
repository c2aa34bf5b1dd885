//! GenReward's terms toward a goal, loaded together with what a run's manifest says about them
//! ([`GoalInfo`]), and the models of a recorded run loaded again from its manifest.

use crate::{GeneratedInfo, GoalFrameInfo, GoalInfo, RunDir, RunError};
use genreward_models::DeviceKind;
use genreward_reward::{
    load_terms, load_terms_video, FbChoice, GenRewardTerms, GenSettings, GoalVideo,
    LoadedGenerator, RewardError, RewardSettings,
};
use genreward_sim::TaskKind;
use std::path::{Path, PathBuf};

/// GenReward's terms toward one goal, ready to score, and what the manifest says about them.
pub struct Loaded {
    pub terms: GenRewardTerms,
    pub info: GoalInfo,
}

impl Loaded {
    /// Loads the terms toward the goal video file `goal`.
    pub fn from_file(
        goal: &Path,
        settings: &RewardSettings,
        task: TaskKind,
    ) -> Result<Loaded, RewardError> {
        let terms = load_terms(goal, settings, task)?;
        let info = goal_info(goal.display().to_string(), settings, &terms);
        Ok(Loaded { terms, info })
    }

    /// Loads the terms toward a goal video made on the spot (`label` names it in the manifest).
    pub fn from_video(
        goal: GoalVideo,
        label: &str,
        settings: &RewardSettings,
        task: TaskKind,
    ) -> Result<Loaded, RewardError> {
        let terms = load_terms_video(goal, settings, task)?;
        let info = goal_info(label.to_string(), settings, &terms);
        Ok(Loaded { terms, info })
    }
}

/// What the manifest records of loaded terms.
pub fn goal_info(path: String, settings: &RewardSettings, terms: &GenRewardTerms) -> GoalInfo {
    GoalInfo {
        path,
        frames: terms.goal.video.len(),
        sampled: terms.goal.indices.clone(),
        vae: settings.vae_dir().display().to_string(),
        every: settings.every,
        alpha: settings.alpha,
        device: settings.device.to_string(),
        beta: if terms.fb.is_some() {
            settings.beta
        } else {
            0.0
        },
        fb: terms.fb_dir.as_ref().map(|p| p.display().to_string()),
        goal_frame: Some(GoalFrameInfo {
            frame: terms.goal_frame.frame,
            scores: terms.goal_frame.scores.clone(),
            method: terms.goal_frame.method.clone(),
        }),
        goal_features: terms.fb.as_ref().map(|f| f.goal_features()),
        generated: None,
    }
}

/// Each episode's goal generated from its own first frame, as in the paper (`--goal
/// generated`): a loaded generator and its settings (checkpoint defaults filled in).
pub struct EpisodeGoals {
    pub generator: LoadedGenerator,
    pub dir: PathBuf,
    pub settings: GenSettings,
    /// The last goals made one at a time ([`goal_for`](Self::goal_for)), by first frame.
    cache: Vec<CachedGoal>,
}

/// A goal made by [`EpisodeGoals::goal_for`]: its first frame, length, video and pick.
struct CachedGoal {
    first: Vec<u8>,
    length: usize,
    goal: GoalVideo,
    picked: Option<usize>,
}

/// How many goals [`EpisodeGoals::goal_for`] remembers: runs repeat a few scenes (episodes on one
/// seed), while training meets a new scene every episode, so a few suffice.
const GOAL_CACHE: usize = 8;

impl EpisodeGoals {
    /// Loads the generator in `dir` with the VAE it was trained on.
    pub fn load(
        dir: &Path,
        vae: &Path,
        settings: &GenSettings,
        device: DeviceKind,
    ) -> Result<EpisodeGoals, RewardError> {
        settings.check()?;
        let generator = LoadedGenerator::load(dir, vae, device)?;
        let settings = generator.resolved(settings);
        Ok(EpisodeGoals {
            generator,
            dir: dir.to_path_buf(),
            settings,
            cache: Vec::new(),
        })
    }

    /// The goal video of `length` frames generated for `task` from `first` (a `w x h` RGB
    /// frame), and the sample picked; the same first frame and length give the cached goal (the
    /// generator is deterministic in them, so this only saves time).
    pub fn goal_for(
        &mut self,
        first: &[u8],
        size: (u32, u32),
        task: TaskKind,
        length: usize,
    ) -> Result<(GoalVideo, Option<usize>), RewardError> {
        if let Some(c) = self
            .cache
            .iter()
            .find(|c| c.length == length && c.first == first)
        {
            return Ok((c.goal.clone(), c.picked));
        }
        let (goal, made) = self
            .generator
            .goal_videos(&[first], size, task, &self.settings, length)?
            .remove(0);
        if self.cache.len() == GOAL_CACHE {
            self.cache.remove(0);
        }
        self.cache.push(CachedGoal {
            first: first.to_vec(),
            length,
            goal: goal.clone(),
            picked: made.picked,
        });
        Ok((goal, made.picked))
    }

    /// What the manifest records, for goal videos of `length` frames.
    pub fn info(&self, length: usize) -> GeneratedInfo {
        let s = &self.settings;
        GeneratedInfo {
            generator: self.dir.display().to_string(),
            steps: s.steps.unwrap_or_default(),
            guidance: s.guidance.unwrap_or_default(),
            samples: s.samples,
            pick: s.pick,
            gen_seed: s.seed,
            length,
        }
    }
}

impl GoalInfo {
    /// The settings a run was scored with, on `device`.
    pub fn settings(&self, device: DeviceKind) -> RewardSettings {
        let dino = self
            .goal_features
            .as_ref()
            .and_then(|g| g.get("dino"))
            .and_then(|d| d.as_str())
            .map(PathBuf::from);
        RewardSettings {
            vae: Some(PathBuf::from(&self.vae)),
            every: self.every,
            alpha: self.alpha,
            fb: match &self.fb {
                Some(p) => FbChoice::Path(PathBuf::from(p)),
                None => FbChoice::Off,
            },
            beta: self.beta,
            goal_frame: self.goal_frame.as_ref().map(|g| g.frame),
            clip: None,
            dino,
            device,
            live_agent: false,
        }
    }
}

/// Loads the models a run was scored with, from its manifest's goal (the same goal video, VAE,
/// FB checkpoint, interval, weights and goal frame, with the recorded goal-frame scores), so a
/// replay of episode `episode` can re-aim r_fb: toward that episode's own goal when each had
/// one (`--goal generated`). `Ok(None)` when the run has no goal. The models run on `device`
/// (the viewer's choice).
pub fn load_recorded(
    run: &RunDir,
    episode: usize,
    device: DeviceKind,
) -> Result<Option<Loaded>, RunError> {
    let Some(info) = &run.manifest.goal else {
        return Ok(None);
    };
    let task: TaskKind = run
        .manifest
        .task
        .parse()
        .map_err(|e: genreward_sim::UnknownTask| RunError::Invalid(e.to_string()))?;
    let mut settings = info.settings(device);
    let (goal, own) = if info.generated.is_some() {
        let own = run
            .manifest
            .episode_goals
            .iter()
            .find(|g| g.episode == episode)
            .ok_or_else(|| {
                RunError::Invalid(format!(
                    "run '{}' records no goal of episode {episode}",
                    run.path.display()
                ))
            })?;
        settings.goal_frame = Some(own.goal_frame);
        (run.path.join(&own.file), Some(own))
    } else {
        (PathBuf::from(&info.path), None)
    };
    let mut loaded = Loaded::from_file(&goal, &settings, task)?;
    if let Some(g) = &info.goal_frame {
        loaded.terms.goal_frame.method = g.method.clone();
        if own.is_none() {
            loaded.terms.goal_frame.scores = g.scores.clone();
        }
    }
    loaded.info.goal_frame = Some(GoalFrameInfo {
        frame: loaded.terms.goal_frame.frame,
        scores: loaded.terms.goal_frame.scores.clone(),
        method: loaded.terms.goal_frame.method.clone(),
    });
    loaded.info.generated = info.generated.clone();
    Ok(Some(loaded))
}
