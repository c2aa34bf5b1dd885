//! Episodes of any actor recorded into a run folder: [`record_rollout`].
//!
//! The manifest is written before the first step (marked `interrupted`) and rewritten after
//! every episode, atomically (a temporary file renamed over it), so a process that dies
//! without warning leaves a folder that [`crate::RunDir`] opens: the finished episodes in the
//! manifest, every finished step in `steps.jsonl`, the frames in `obs_NNN.npy` and the video
//! up to its last fragment.

use crate::goal::{EpisodeGoals, Loaded};
use crate::writer::{Recorder, VIDEO_FPS};
use crate::{RunError, RunManifest, VideoInfo};
use genreward_render::{render_specs, Renderer, ViewSpec};
use genreward_reward::RewardSettings;
use genreward_sim::rollout::run_episode;
use genreward_sim::{Actor, Env, RolloutConfig, RolloutSummary};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The run's video.
#[derive(Clone, Debug)]
pub struct VideoSpec {
    /// `.mp4` (fragmented H.264) or `.gif`.
    pub path: PathBuf,
    pub view: ViewSpec,
    /// Print step, reward, terms and success on each frame.
    pub overlay: bool,
}

/// What to record.
pub struct RolloutSpec {
    pub config: RolloutConfig,
    /// The run folder (created if missing).
    pub out: PathBuf,
    /// Camera observations saved as `obs_NNN.npy` (and scored when there is a goal).
    pub observations: Option<ViewSpec>,
    /// What the actor sees when that is another camera (a trained agent's own).
    pub actor_view: Option<ViewSpec>,
    pub video: Option<VideoSpec>,
    /// GenReward's terms toward a goal, paid live.
    pub goal: Option<RolloutGoal>,
    /// What acted, when it is a trained agent (the manifest's `agent`).
    pub agent: Option<serde_json::Value>,
    /// The command line that asked for the run (the manifest's `command`).
    pub command: Vec<String>,
}

/// The goal a run's terms aim at.
pub enum RolloutGoal {
    /// One goal for every episode.
    Fixed(Loaded),
    /// Each episode's own goal, generated from its first observation frame before its first
    /// action (as the paper does), the terms loaded with `settings`; each is saved as
    /// `goal_NNN.npy` and listed in the manifest's `episode_goals`.
    Generated {
        goals: EpisodeGoals,
        settings: RewardSettings,
    },
}

/// What a recorded run gives back besides its folder.
pub struct RolloutOutcome {
    pub manifest: RunManifest,
    /// Milliseconds of every computation of r_video.
    pub term_ms: Vec<f64>,
    /// Milliseconds of every step's r_fb.
    pub fb_ms: Vec<f64>,
    /// Why r_fb was off, when the terms were loaded here (`--goal generated`) and it was.
    pub fb_note: Option<String>,
}

/// Runs `spec.config.episodes` episodes of `actor`, recording them into `spec.out`. `stop`
/// ends the run after the step in hand (the manifest then says `interrupted`).
pub fn record_rollout(
    spec: RolloutSpec,
    actor: &mut dyn Actor,
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
) -> Result<RolloutOutcome, RunError> {
    let RolloutSpec {
        config: cfg,
        out,
        observations,
        actor_view,
        video,
        goal,
        agent,
        command,
    } = spec;
    if cfg.episodes == 0 || cfg.max_steps == 0 {
        return Err(RunError::Invalid(
            "a rollout needs at least one episode of at least one step".into(),
        ));
    }
    std::fs::create_dir_all(&out).map_err(|e| RunError::Write {
        path: out.clone(),
        reason: e.to_string(),
    })?;
    let mut rec = Recorder::new(
        &out,
        observations,
        video
            .as_ref()
            .map(|v| (v.view, v.path.as_path(), v.overlay)),
        bar,
        stop.clone(),
    )?;
    if let Some(view) = actor_view {
        rec = rec.with_actor_view(view)?;
    }
    let mut goal_info = None;
    let mut fb_note = None;
    match goal {
        Some(RolloutGoal::Fixed(l)) => {
            rec = rec.with_terms(l.terms, l.info.alpha, l.info.beta)?;
            goal_info = Some(l.info);
        }
        Some(RolloutGoal::Generated {
            mut goals,
            settings,
        }) => {
            let Some(view) = observations else {
                return Err(RunError::Invalid(
                    "goals generated from the first frame need observation frames (an observation camera)"
                        .into(),
                ));
            };
            // The terms load toward episode 0's goal; every episode is re-aimed at its own
            // when it starts (episode 0's then comes from the cache).
            let env = Env::new(cfg.task, cfg.seed, cfg.physics);
            let first = render_specs(&mut Renderer::new()?, env.world(), &[view])?.remove(0);
            let (video, _) = goals.goal_for(
                &first.rgb,
                (first.width, first.height),
                cfg.task,
                cfg.max_steps,
            )?;
            let mut l = Loaded::from_video(video, "generated", &settings, cfg.task)?;
            fb_note = l.terms.fb_note.clone();
            l.info.generated = Some(goals.info(cfg.max_steps));
            rec = rec
                .with_terms(l.terms, l.info.alpha, l.info.beta)?
                .with_episode_goals(goals, cfg.task, cfg.max_steps)?;
            goal_info = Some(l.info);
        }
        None => {}
    }
    let mut manifest = RunManifest {
        genreward_version: env!("CARGO_PKG_VERSION").into(),
        command,
        task: cfg.task.name().into(),
        metaworld_name: cfg.task.v3_name(),
        config: cfg.clone(),
        observations,
        video: video.as_ref().map(|v| VideoInfo {
            path: v.path.display().to_string(),
            view: v.view,
            overlay: v.overlay,
            fps: VIDEO_FPS,
            frames_are: "state before each step's action, one frame per step".into(),
        }),
        goal: goal_info,
        agent,
        files: rec.files.clone(),
        episode_goals: Vec::new(),
        interrupted: true,
        episodes: Vec::new(),
        summary: RolloutSummary::new(&cfg, &[]),
    };
    write_manifest(&out, &manifest)?;
    for i in 0..cfg.episodes {
        rec.begin_episode(i)?;
        manifest.files = rec.files.clone();
        write_manifest(&out, &manifest)?;
        let summary = run_episode(&cfg, i, actor, &mut rec)?;
        rec.end_episode()?;
        manifest.episodes.push(summary);
        manifest.episode_goals = rec.goals().to_vec();
        manifest.files = rec.files.clone();
        manifest.summary = RolloutSummary::new(&cfg, &manifest.episodes);
        write_manifest(&out, &manifest)?;
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    let (term_ms, fb_ms) = rec.term_times();
    let (term_ms, fb_ms) = (term_ms.to_vec(), fb_ms.to_vec());
    manifest.files = rec.finish()?;
    manifest.interrupted = stop.load(Ordering::SeqCst);
    write_manifest(&out, &manifest)?;
    Ok(RolloutOutcome {
        manifest,
        term_ms,
        fb_ms,
        fb_note,
    })
}

/// Writes `manifest.json` atomically: a reader sees the old manifest or the new one, whole.
pub fn write_manifest(dir: &Path, manifest: &RunManifest) -> Result<(), RunError> {
    let path = dir.join("manifest.json");
    let tmp = dir.join("manifest.json.tmp");
    let err = |e: &dyn std::fmt::Display| RunError::Write {
        path: path.clone(),
        reason: e.to_string(),
    };
    let text = serde_json::to_string_pretty(manifest).map_err(|e| err(&e))? + "\n";
    std::fs::write(&tmp, text).map_err(|e| err(&e))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(&e))
}
