//! Runs whose actor lives outside genreward (a Python policy stepping the `genreward` package):
//! the caller steps the environment and tells a [`LiveRun`] before and after every step; it
//! writes exactly the folder `genreward rollout --out` writes (`steps.jsonl`, `obs_NNN.npy`, an
//! optional video, `manifest.json` kept whole after every episode), so `view --run` replays it
//! and `score` scores it.

use crate::rollout::write_manifest;
use crate::{Recorder, RunError, RunManifest, VideoInfo, VideoSpec, VIDEO_FPS};
use genreward_render::ViewSpec;
use genreward_sim::rollout::{
    sparse_reward, EpisodeSummary, RolloutConfig, RolloutSummary, StepObserver, StepRecord,
};
use genreward_sim::{Env, PhysicsConfig, PolicyKind, StepResult, TaskKind, OBS_DIM};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What a live run records.
pub struct LiveRunSpec {
    pub out: PathBuf,
    pub task: TaskKind,
    /// The camera frames saved as `obs_NNN.npy` (what `score` and the app's replay read).
    pub observations: Option<ViewSpec>,
    pub video: Option<VideoSpec>,
    /// The episode's step limit and the env reward's payment, as the environment has them.
    pub max_steps: usize,
    pub sparse_every: Option<usize>,
    /// Who acted, as the manifest's `agent` says it (a class name, a checkpoint, ...).
    pub agent: Option<serde_json::Value>,
    pub command: Vec<String>,
}

/// The episode being recorded.
struct Episode {
    index: usize,
    seed: u32,
    step: usize,
    ret: f64,
    first_success: Option<usize>,
    /// The observation and finger joints before the step (set by `before_step`).
    before: Option<([f64; OBS_DIM], [f64; 2])>,
}

/// A run recorded step by step from outside.
pub struct LiveRun {
    out: PathBuf,
    rec: Option<Recorder>,
    manifest: RunManifest,
    episode: Option<Episode>,
}

impl LiveRun {
    /// Creates the folder and writes a first manifest (no episodes yet).
    pub fn create(spec: LiveRunSpec) -> Result<LiveRun, RunError> {
        if spec.max_steps == 0 {
            return Err(RunError::Invalid(
                "a run needs episodes of at least one step".into(),
            ));
        }
        std::fs::create_dir_all(&spec.out).map_err(|e| RunError::Write {
            path: spec.out.clone(),
            reason: e.to_string(),
        })?;
        let rec = Recorder::new(
            &spec.out,
            spec.observations,
            spec.video
                .as_ref()
                .map(|v| (v.view, v.path.as_path(), v.overlay)),
            ProgressBar::hidden(),
            Arc::new(AtomicBool::new(false)),
        )?;
        let config = RolloutConfig {
            task: spec.task,
            policy: PolicyKind::External,
            episodes: 0,
            seed: 0,
            max_steps: spec.max_steps,
            sparse_every: spec.sparse_every.filter(|k| *k > 1),
            noise: 0.0,
            physics: PhysicsConfig::default(),
        };
        let manifest = RunManifest {
            genreward_version: env!("CARGO_PKG_VERSION").into(),
            command: spec.command,
            task: spec.task.name().into(),
            metaworld_name: spec.task.v3_name(),
            summary: RolloutSummary::new(&config, &[]),
            config,
            observations: spec.observations,
            video: spec.video.as_ref().map(|v| VideoInfo {
                path: v.path.display().to_string(),
                view: v.view,
                overlay: v.overlay,
                fps: VIDEO_FPS,
                frames_are: "state before each step's action, one frame per step".into(),
            }),
            goal: None,
            agent: spec.agent,
            files: rec.files.clone(),
            episode_goals: Vec::new(),
            interrupted: true,
            episodes: Vec::new(),
        };
        write_manifest(&spec.out, &manifest)?;
        Ok(LiveRun {
            out: spec.out,
            rec: Some(rec),
            manifest,
            episode: None,
        })
    }

    fn recorder(&mut self) -> Result<&mut Recorder, RunError> {
        self.rec
            .as_mut()
            .ok_or_else(|| RunError::Invalid("the run is finished".into()))
    }

    /// Starts the next episode, placed with `seed` (ending one still open).
    pub fn begin_episode(&mut self, seed: u32) -> Result<(), RunError> {
        if self.episode.is_some() {
            self.end_episode()?;
        }
        let index = self.manifest.episodes.len();
        self.recorder()?.begin_episode(index)?;
        if index == 0 {
            self.manifest.config.seed = seed;
        }
        self.episode = Some(Episode {
            index,
            seed,
            step: 0,
            ret: 0.0,
            first_success: None,
            before: None,
        });
        Ok(())
    }

    /// Before the actor's action is applied to `env`: renders the frame the step records.
    pub fn before_step(&mut self, env: &Env) -> Result<(), RunError> {
        let step = match &self.episode {
            Some(e) => e.step,
            None => return Err(RunError::Invalid("no episode begun (reset first)".into())),
        };
        if step >= self.manifest.config.max_steps {
            return Err(RunError::Invalid(format!(
                "the episode already has its {step} steps"
            )));
        }
        self.recorder()?.before_step(step, env);
        let fingers = env.world().finger_joints();
        let ep = self.episode.as_mut().expect("checked above");
        ep.before = Some((*env.last_obs(), [fingers.0, fingers.1]));
        Ok(())
    }

    /// After the step: records it (`result` is what the environment returned for `action`;
    /// `truncated` whether the episode ends here, by the environment or a time limit). Returns
    /// the step's record as written.
    pub fn after_step(
        &mut self,
        action: [f64; 4],
        result: &StepResult,
        truncated: bool,
        env: &Env,
    ) -> Result<StepRecord, RunError> {
        let sparse = self.manifest.config.sparse_every;
        let ep = self
            .episode
            .as_mut()
            .ok_or_else(|| RunError::Invalid("no episode begun (reset first)".into()))?;
        let (obs, fingers) = ep
            .before
            .take()
            .ok_or_else(|| RunError::Invalid("a step recorded without its frame".into()))?;
        let mut rec = StepRecord::new(
            ep.index,
            ep.step,
            ep.seed,
            obs,
            action,
            sparse_reward(result.info.reward, ep.step, sparse),
            &result.info,
            truncated,
        );
        rec.fingers = Some(fingers);
        if rec.success && ep.first_success.is_none() {
            ep.first_success = Some(ep.step + 1);
        }
        ep.step += 1;
        let rec_ref = self.rec.as_mut().expect("begun episodes have a recorder");
        rec_ref.after_step(&mut rec, env);
        ep.ret += rec.reward;
        Ok(rec)
    }

    /// Ends the episode in progress: completes its files and the manifest.
    pub fn end_episode(&mut self) -> Result<(), RunError> {
        let Some(ep) = self.episode.take() else {
            return Ok(());
        };
        self.recorder()?.end_episode()?;
        if ep.step > 0 {
            self.manifest.episodes.push(EpisodeSummary {
                episode: ep.index,
                seed: ep.seed,
                steps: ep.step,
                episode_return: ep.ret,
                success: ep.first_success.is_some(),
                steps_to_success: ep.first_success,
            });
        }
        self.write()
    }

    /// Episodes recorded so far.
    pub fn episodes(&self) -> usize {
        self.manifest.episodes.len()
    }

    fn write(&mut self) -> Result<(), RunError> {
        let m = &mut self.manifest;
        m.config.episodes = m.episodes.len();
        m.summary = RolloutSummary::new(&m.config, &m.episodes);
        if let Some(rec) = &self.rec {
            m.files = rec.files.clone();
        }
        // An episode reset before its first step leaves its file to the next one.
        let mut seen = std::collections::HashSet::new();
        m.files.retain(|f| seen.insert(f.clone()));
        write_manifest(&self.out, m)
    }

    /// Ends the open episode and completes every file; the manifest no longer says
    /// `interrupted`.
    pub fn finish(mut self) -> Result<RunManifest, RunError> {
        self.end_episode()?;
        if let Some(rec) = self.rec.take() {
            self.manifest.files = rec.finish()?;
        }
        let n = self.manifest.episodes.len();
        if n < self.manifest.files.len() {
            // The file of an episode begun but never stepped holds no frame: drop it.
            let empty = crate::obs_file(n);
            if self.manifest.files.contains(&empty) {
                let _ = std::fs::remove_file(self.out.join(&empty));
                self.manifest.files.retain(|f| *f != empty);
            }
        }
        self.manifest.interrupted = false;
        self.write()?;
        Ok(self.manifest)
    }

    /// The run folder.
    pub fn out(&self) -> &Path {
        &self.out
    }
}
