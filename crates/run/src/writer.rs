//! The run writer: what a rollout keeps, `steps.jsonl`, per-episode observation arrays
//! (`obs_NNN.npy`, uint8 [T, H, W, 3]) and one video of the whole run.
//!
//! Frames are rendered before each step, so frame t shows the state the
//! policy saw at step t (the `obs` of line t in `steps.jsonl`); a video
//! overlay prints that step's number, paid reward and success flag.
//!
//! Everything is written as it happens, so a process that dies without warning leaves a
//! usable folder: each step's line is flushed whole, the observation arrays keep a true
//! header, and the video is a fragmented MP4 that plays up to its last fragment.

use crate::RunError;
use crate::{goal_file, EpisodeGoals, RecordedGoal};
use genreward_record::{overlay, NpyWriter, VideoWriter};
use genreward_render::{render_specs, Frame, Renderer, ViewSpec};
use genreward_reward::features::StateKind;
use genreward_reward::{fb_inputs, mix_step, GenRewardTerms, MixWeights};
use genreward_sim::rollout::{StepObserver, StepRecord};
use genreward_sim::TaskKind;
use genreward_sim::{Env, Pixels};
use indicatif::ProgressBar;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

type Result<T> = std::result::Result<T, RunError>;

fn write_error(path: &Path, e: impl std::fmt::Display) -> RunError {
    RunError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The rollout's recorder: writes every step and, when asked, observations and video.
pub struct Recorder {
    steps_path: PathBuf,
    steps: File,
    out_dir: PathBuf,
    renderer: Option<Renderer>,
    obs: Option<ViewSpec>,
    /// What the actor sees when that is not the observation camera (an agent trained on
    /// another camera than the one GenReward scores): rendered last, given to the actor, not
    /// saved.
    actor_view: Option<ViewSpec>,
    /// The model state the actor chose this step's action from, for an FB reading it.
    model_state: Option<Vec<f32>>,
    npy: Option<NpyWriter>,
    video: Option<(ViewSpec, VideoWriter, bool)>,
    pending: Vec<Frame>,
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    error: Option<RunError>,
    /// GenReward's terms, when the run has a goal.
    terms: Option<LiveTerms>,
    /// The episode in progress.
    episode: usize,
    /// Files written, relative to the run folder.
    pub files: Vec<String>,
}

impl Recorder {
    pub fn new(
        out_dir: &Path,
        obs: Option<ViewSpec>,
        video: Option<(ViewSpec, &Path, bool)>,
        bar: ProgressBar,
        stop: Arc<AtomicBool>,
    ) -> Result<Recorder> {
        let steps_path = out_dir.join("steps.jsonl");
        let file = File::create(&steps_path).map_err(|e| write_error(&steps_path, e))?;
        let renderer = if obs.is_some() || video.is_some() {
            Some(Renderer::new()?)
        } else {
            None
        };
        let video = match video {
            Some((spec, path, overlay)) => {
                let w = VideoWriter::create(path, spec.width, spec.height, VIDEO_FPS)?;
                Some((spec, w, overlay))
            }
            None => None,
        };
        Ok(Recorder {
            steps_path,
            steps: file,
            out_dir: out_dir.to_path_buf(),
            renderer,
            obs,
            actor_view: None,
            model_state: None,
            npy: None,
            video,
            pending: Vec::new(),
            bar,
            stop,
            error: None,
            terms: None,
            episode: 0,
            files: vec!["steps.jsonl".into()],
        })
    }

    /// Adds GenReward's terms: `r_video` is computed on the observation frames (which the
    /// recorder must render), `r_fb` on each step's observation and action. Each step's record
    /// gets `terms.r_env` (the environment's paid reward), `terms.r_video` (0 on steps it is not
    /// paid) and `terms.r_fb`, and `reward` becomes `r_env + alpha * r_video + beta * r_fb`.
    pub fn with_terms(mut self, terms: GenRewardTerms, alpha: f64, beta: f64) -> Result<Recorder> {
        if self.obs.is_none() {
            return Err(RunError::Invalid(
                "GenReward's terms need observation frames (an observation camera)".into(),
            ));
        }
        self.terms = Some(LiveTerms::new(terms, alpha, beta));
        Ok(self)
    }

    /// Gives every episode its own goal, generated for `task` from the episode's first
    /// observation frame before its first action, as long as the episode (`length` frames):
    /// the terms are re-aimed at it and it is saved as `goal_NNN.npy`
    /// ([`goals`](Self::goals) lists them). Needs [`with_terms`](Self::with_terms) first.
    pub fn with_episode_goals(
        mut self,
        goals: EpisodeGoals,
        task: TaskKind,
        length: usize,
    ) -> Result<Recorder> {
        let Some(t) = &mut self.terms else {
            return Err(RunError::Invalid(
                "per-episode goals need GenReward's terms to re-aim".into(),
            ));
        };
        t.with_episode_goals(goals, task, length);
        Ok(self)
    }

    /// Each episode's own goal so far (empty without [`with_episode_goals`](Self::with_episode_goals)).
    pub fn goals(&self) -> &[RecordedGoal] {
        match self.terms.as_ref().and_then(|t| t.per_episode.as_ref()) {
            Some(p) => &p.made,
            None => &[],
        }
    }

    /// Gives the actor frames of `view` (an agent's own camera) instead of the observation
    /// frames, which stay what is saved and scored; a no-op when they are the same.
    pub fn with_actor_view(mut self, view: ViewSpec) -> Result<Recorder> {
        if self.obs != Some(view) {
            if self.renderer.is_none() {
                self.renderer = Some(Renderer::new()?);
            }
            self.actor_view = Some(view);
        }
        Ok(self)
    }

    /// Milliseconds of every computation of r_video and of every step's r_fb so far (empty
    /// without a goal).
    pub fn term_times(&self) -> (&[f64], &[f64]) {
        match &self.terms {
            Some(t) => (&t.video_ms, &t.fb_ms),
            None => (&[], &[]),
        }
    }

    /// Starts episode `index`: opens its observation file.
    pub fn begin_episode(&mut self, index: usize) -> Result<()> {
        self.episode = index;
        if let Some(t) = &mut self.terms {
            t.begin_episode();
        }
        if let Some(spec) = self.obs {
            let name = format!("obs_{index:03}.npy");
            let path = self.out_dir.join(&name);
            self.npy = Some(NpyWriter::create(&path, spec.height, spec.width)?);
            self.files.push(name);
        }
        Ok(())
    }

    /// Ends the episode: completes its observation file; returns the first error met.
    pub fn end_episode(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(npy) = self.npy.take() {
            npy.finish()?;
        }
        Ok(())
    }

    /// Flushes the step file and completes the video.
    pub fn finish(mut self) -> Result<Vec<String>> {
        self.steps
            .flush()
            .map_err(|e| write_error(&self.steps_path, e))?;
        if let Some((_, w, _)) = self.video.take() {
            w.finish()?;
        }
        Ok(self.files)
    }

    /// At an episode's first step: generates its goal from the observation frame just
    /// rendered, re-aims the terms at it and saves it (no-op without per-episode goals).
    fn aim_at_episode_goal(&mut self) -> Result<()> {
        let Some(t) = &mut self.terms else {
            return Ok(());
        };
        let f = self.pending.first().ok_or(RunError::Invalid(
            "no observation frame was rendered".into(),
        ))?;
        let Some(picked) = t.aim(f)? else {
            return Ok(());
        };
        let p = t.per_episode.as_mut().expect("aimed above");
        let name = goal_file(self.episode);
        let path = self.out_dir.join(&name);
        let v = &t.terms.goal.video;
        genreward_record::save_frames(&path, v.width, v.height, VIDEO_FPS, &v.frames)?;
        p.made.retain(|g| g.episode != self.episode);
        p.made.push(RecordedGoal {
            episode: self.episode,
            file: name.clone(),
            goal_frame: t.terms.goal_frame.frame,
            picked,
        });
        if !self.files.contains(&name) {
            self.files.push(name);
        }
        Ok(())
    }

    fn specs(&self) -> Vec<ViewSpec> {
        self.obs
            .iter()
            .copied()
            .chain(self.video.as_ref().map(|(s, _, _)| *s))
            .chain(self.actor_view)
            .collect()
    }

    fn record_step(&mut self, rec: &mut StepRecord) -> Result<()> {
        if let (Some(t), Some(f)) = (&mut self.terms, self.pending.first()) {
            t.score(f, rec, self.model_state.as_deref())?;
        }
        // One whole line per write, so a crash leaves at most a partial last line.
        let mut line = serde_json::to_vec(rec).map_err(|e| write_error(&self.steps_path, e))?;
        line.push(b'\n');
        self.steps
            .write_all(&line)
            .map_err(|e| write_error(&self.steps_path, e))?;
        let mut frames = std::mem::take(&mut self.pending).into_iter();
        if let Some(npy) = &mut self.npy {
            let f = frames.next().ok_or(RunError::Invalid(
                "no observation frame was rendered".into(),
            ))?;
            npy.write_frame(&f.rgb)?;
        }
        if let Some((spec, w, stamp)) = &mut self.video {
            let mut f = frames
                .next()
                .ok_or(RunError::Invalid("no video frame was rendered".into()))?;
            if *stamp {
                overlay::stamp_step(
                    &mut f.rgb,
                    spec.width,
                    spec.height,
                    rec.step,
                    rec.reward,
                    rec.success,
                );
                if let Some(t) = &self.terms {
                    let mut text = match t.last_video {
                        Some(v) => format!("{} {v:.3}", short_name(t.terms.video.name())),
                        None => String::new(),
                    };
                    if let (Some(fb), Some(v)) = (&t.terms.fb, t.last_fb) {
                        if !text.is_empty() {
                            text.push(' ');
                        }
                        text += &format!("{} {v:.0}", short_name(fb.name()));
                    }
                    let scale = (spec.width.min(spec.height) / 160).max(1);
                    let (tw, _) = overlay::text_size(&text, scale);
                    let x = spec.width.saturating_sub(tw) as i32;
                    overlay::draw_text(
                        &mut f.rgb,
                        spec.width,
                        spec.height,
                        x,
                        0,
                        &text,
                        scale,
                        [255, 220, 64],
                    );
                    // The goal frame r_fb aims at, a quarter of the frame's short side.
                    let goal = &t.terms.goal;
                    if let Some(g) = goal.window.get(t.terms.goal_frame.frame) {
                        overlay::inset(
                            &mut f.rgb,
                            spec.width,
                            spec.height,
                            g,
                            goal.size,
                            goal.size,
                            spec.width.min(spec.height) / 4,
                            [255, 220, 64],
                        );
                    }
                }
            }
            w.write_frame(&f.rgb)?;
        }
        Ok(())
    }
}

/// GenReward's terms during a live run and their weights: what scores each step of a rollout,
/// of a run recorded from outside, or of a Python environment paying GenReward's reward.
pub struct LiveTerms {
    /// The terms toward the goal in use; the overlay shows its goal frame as an inset.
    terms: GenRewardTerms,
    alpha: f64,
    beta: f64,
    /// Each episode's own goal, when it has one.
    per_episode: Option<PerEpisodeGoals>,
    /// The last value r_video paid this episode, and this step's r_fb (shown by the overlay).
    last_video: Option<f64>,
    last_fb: Option<f64>,
    /// Milliseconds of every computation of r_video, and of every step's r_fb.
    video_ms: Vec<f64>,
    fb_ms: Vec<f64>,
}

impl LiveTerms {
    pub fn new(terms: GenRewardTerms, alpha: f64, beta: f64) -> LiveTerms {
        LiveTerms {
            terms,
            alpha,
            beta,
            per_episode: None,
            last_video: None,
            last_fb: None,
            video_ms: Vec::new(),
            fb_ms: Vec::new(),
        }
    }

    /// Gives every episode its own goal, generated for `task` from its first frame
    /// ([`aim`](Self::aim)), `length` frames long.
    pub fn with_episode_goals(&mut self, goals: EpisodeGoals, task: TaskKind, length: usize) {
        self.per_episode = Some(PerEpisodeGoals {
            goals,
            task,
            length,
            made: Vec::new(),
        });
    }

    /// The terms and the goal they aim at.
    pub fn terms(&self) -> &GenRewardTerms {
        &self.terms
    }

    /// The weights of r_video and r_fb.
    pub fn weights(&self) -> (f64, f64) {
        (self.alpha, self.beta)
    }

    /// Aims the terms at `goal` (a new episode's own goal video).
    pub fn retarget(&mut self, goal: genreward_reward::GoalVideo) -> Result<()> {
        Ok(self.terms.retarget(goal)?)
    }

    /// Starts an episode: r_video's frames so far are forgotten.
    pub fn begin_episode(&mut self) {
        self.terms.video.reset();
        self.last_video = None;
        self.last_fb = None;
    }

    /// With per-episode goals: generates the episode's goal from its first frame `first` and
    /// aims the terms at it; returns the sample picked (`Some(None)`: their mean). `None`
    /// without per-episode goals.
    pub fn aim(&mut self, first: &Frame) -> Result<Option<Option<usize>>> {
        let Some(p) = &mut self.per_episode else {
            return Ok(None);
        };
        let (goal, picked) =
            p.goals
                .goal_for(&first.rgb, (first.width, first.height), p.task, p.length)?;
        self.terms.retarget(goal)?;
        Ok(Some(picked))
    }

    /// Scores one step: `frame` is the observation frame of the state before it (r_video's
    /// input), `rec` the step's record (r_fb reads its observation and action; its `terms` get
    /// `r_env`, r_video's and r_fb's values, and its `reward` becomes the mix), `model_state`
    /// the acting agent's, for an FB that reads it.
    pub fn score(
        &mut self,
        f: &Frame,
        rec: &mut StepRecord,
        model_state: Option<&[f32]>,
    ) -> Result<()> {
        let value = self.terms.video.push(&f.rgb, f.width, f.height)?;
        if value.is_some() {
            self.video_ms.push(self.terms.video.last_ms());
            self.last_video = value;
        }
        let v = value.unwrap_or(0.0);
        rec.terms.insert("r_env".into(), rec.reward);
        rec.terms.insert(self.terms.video.name().into(), v);
        let mut r_fb = 0.0;
        if let Some(fb) = &mut self.terms.fb {
            let t0 = std::time::Instant::now();
            let (mut s, a) = fb_inputs(&rec.obs, &rec.action);
            match fb.state_kind() {
                    StateKind::Frame => s = fb.frame_states(&[&f.rgb], f.width, f.height)?,
                    StateKind::Model => match model_state {
                        Some(m) => s = m.to_vec(),
                        None => return Err(RunError::Invalid(format!(
                            "step {}: this FB reads a DreamerV3 agent's model state, and the actor has none (act with the agent it was trained with)",
                            rec.step
                        ))),
                    },
                    StateKind::Obs39 => {}
                }
            let r = fb
                .score(&s, &a)
                .map_err(|e| RunError::Invalid(format!("step {}: {e}", rec.step)))?[0];
            self.fb_ms.push(t0.elapsed().as_secs_f64() * 1e3);
            self.last_fb = Some(r);
            rec.terms.insert(fb.name().into(), r);
            r_fb = r;
        }
        let weights = MixWeights {
            alpha: self.alpha,
            beta: self.beta,
            sparse_every: None,
        };
        // r_env is already as paid (dense, or every K steps).
        rec.reward = mix_step(rec.reward, v, r_fb, &weights);
        Ok(())
    }
}

/// Goals generated per episode from its first frame.
struct PerEpisodeGoals {
    goals: EpisodeGoals,
    task: TaskKind,
    length: usize,
    /// Each episode's goal so far.
    made: Vec<RecordedGoal>,
}

/// Video frame rate: Meta-World's control rate, so playback runs in real time.
pub const VIDEO_FPS: u32 = genreward_sim::CONTROL_HZ;

/// The overlay's label of a term: `r_video` -> `rv`.
fn short_name(name: &str) -> String {
    match name.strip_prefix("r_") {
        Some(rest) => format!("r{}", rest.chars().next().unwrap_or('?')),
        None => name.to_string(),
    }
}

impl StepObserver for Recorder {
    fn before_step(&mut self, step: usize, env: &Env) -> Option<Pixels> {
        if self.error.is_some() {
            return None;
        }
        let specs = self.specs();
        if let Some(r) = &mut self.renderer {
            match render_specs(r, env.world(), &specs) {
                Ok(f) => self.pending = f,
                Err(e) => self.error = Some(e.into()),
            }
        }
        if step == 0 && self.error.is_none() {
            if let Err(e) = self.aim_at_episode_goal() {
                self.error = Some(e);
                return None;
            }
        }
        // The observation frame (when rendered) is what the actor sees, unless it has a view
        // of its own (rendered last).
        let seen = if self.actor_view.is_some() {
            self.pending.last()
        } else {
            self.obs.and(self.pending.first())
        };
        seen.map(|f| Pixels {
            width: f.width,
            height: f.height,
            rgb: f.rgb.clone(),
        })
    }

    fn after_act(&mut self, model_state: Option<Vec<f32>>) {
        self.model_state = model_state;
    }

    fn after_step(&mut self, rec: &mut StepRecord, _env: &Env) -> bool {
        self.bar.inc(1);
        if self.error.is_none() {
            if let Err(e) = self.record_step(rec) {
                self.error = Some(e);
            }
        }
        self.error.is_none() && !self.stop.load(Ordering::SeqCst)
    }
}
