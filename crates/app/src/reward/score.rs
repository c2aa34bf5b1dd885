//! Following the episode: loading a goal, sending each step to the models' worker, taking the
//! terms it answers, aiming r_fb at another goal frame, and the summary `view` prints.

use super::state::{GeneratedSample, GoalView};
use super::worker::{Done, Models, StepInput, Worker};
use super::RewardMut;
use crate::sim::{Shown, SimMut};
use genreward_run::Loaded;

impl RewardMut<'_> {
    /// Takes a loaded goal: its data to the panel, its models to the worker thread (started on
    /// the first goal). The episode is scored again from its first step.
    pub(super) fn install(&mut self, loaded: Loaded) {
        let Loaded { terms, info } = loaded;
        let genreward_reward::GenRewardTerms {
            video,
            fb,
            goal,
            goal_frame,
            ..
        } = terms;
        let link = &mut *self.link;
        link.backend = match info.device.as_str() {
            "wgpu" => genreward_models::backend::gpu_device_name(),
            _ => "cpu (burn-flex)".to_string(),
        };
        self.goal.loaded = Some(GoalView {
            has_fb: fb.is_some(),
            info,
            goal,
            goal_frame,
        });
        link.generation += 1;
        let models = Models { video, fb };
        match &mut link.worker {
            Some(w) => w.replace_models(link.generation, models),
            None => link.worker = Some(Worker::spawn(models)),
        }
        link.episode = u64::MAX;
        link.sent = 0;
        link.aiming = None;
        self.field.forget();
    }

    /// Loads `path` as the goal (its goal frame chosen as at the start) and scores the episode
    /// so far against it; a failure leaves the current goal and shows one line in the panel.
    pub fn load_goal(&mut self, path: &std::path::Path, sim: Shown) {
        let Some(mut args) = self.goal.loader.clone() else {
            self.terms.message = Some("loading a goal is not available here".into());
            return;
        };
        args.goal_frame = None;
        match Loaded::from_file(path, &args, sim.episode.task) {
            Ok(loaded) => {
                self.goal.frame = loaded.terms.goal_frame.frame;
                self.install(loaded);
                // Terms now come from the models, over every step taken (or recorded) so far.
                self.terms.recorded = None;
                self.terms.r_video.clear();
                self.terms.r_fb.clear();
                self.goal.serial += 1;
                self.terms.message = None;
                self.goal.status = Some(format!("goal {} loaded", path.display()));
            }
            Err(e) => {
                let e = format!("{e:#}");
                let e = e.lines().next().unwrap_or("").to_string();
                self.terms.message =
                    Some(format!("cannot load the goal '{}': {e}", path.display()));
            }
        }
        self.publish(sim);
    }

    /// Generates the goal from the episode's first frame `first` (`w x h` RGB) with the goal
    /// generator (the shipped one, with the loader's VAE and device), the panel's number of
    /// samples and seed: every sample is saved as a goal file of the episode's length in the
    /// temporary folder and shown, the medoid loaded. Problems go to the panel's message.
    pub fn generate_goal(&mut self, first: &[u8], (w, h): (u32, u32), length: usize, sim: Shown) {
        match self.generate_samples(first, (w, h), length, sim.episode.task, sim.episode.seed) {
            Ok(picked) => self.use_generated(picked, sim),
            Err(e) => {
                let e = e.to_string();
                self.terms.message = Some(format!(
                    "cannot generate a goal: {}",
                    e.lines().next().unwrap_or("")
                ));
            }
        }
    }

    fn generate_samples(
        &mut self,
        first: &[u8],
        size: (u32, u32),
        length: usize,
        task: genreward_sim::TaskKind,
        seed: u32,
    ) -> Result<usize, genreward_run::RunError> {
        let Some(args) = self.goal.loader.clone() else {
            return Err(genreward_run::RunError::Invalid(
                "loading a goal is not available here".into(),
            ));
        };
        let gen = &mut self.goal.generated;
        if gen.model.is_none() {
            let goals = genreward_run::EpisodeGoals::load(
                &genreward_reward::default_goalgen_dir(),
                &args.vae_dir(),
                &Default::default(),
                args.device,
            )?;
            gen.model = Some(std::sync::Mutex::new(goals));
        }
        let model = gen.model.as_ref().expect("loaded");
        let goals = model.lock().unwrap_or_else(|p| p.into_inner());
        // Side by side, the goal is one of the samples: the medoid until another is clicked.
        let settings = genreward_reward::GenSettings {
            samples: gen.samples.clamp(1, 16),
            pick: genreward_reward::SamplePick::Medoid,
            seed: gen.seed,
            ..goals.settings
        };
        let (_, made) = goals
            .generator
            .goal_videos(&[first], size, task, &settings, length)?
            .remove(0);
        let trained = goals.generator.trained_length();
        let side = goals.generator.size();
        drop(goals);
        let mut samples = Vec::new();
        for (j, frames) in made.samples.iter().enumerate() {
            let path = std::env::temp_dir().join(format!(
                "genreward-generated-{}-seed{seed}-gen{}-{j}.npy",
                task.name(),
                settings.seed
            ));
            let video = genreward_reward::stretch_to_length(frames, trained, length.max(2));
            genreward_record::save_frames(&path, side, side, genreward_sim::CONTROL_HZ, &video)?;
            samples.push(GeneratedSample {
                path,
                last: frames.last().cloned().unwrap_or_default(),
                size: side,
            });
        }
        gen.made = samples;
        gen.serial += 1;
        Ok(made.picked.unwrap_or(0))
    }

    /// Loads generated sample `j` as the goal.
    pub fn use_generated(&mut self, j: usize, sim: Shown) {
        let Some(path) = self.goal.generated.made.get(j).map(|s| s.path.clone()) else {
            return;
        };
        self.load_goal(&path, sim);
        if self.terms.message.is_none() {
            self.goal.generated.chosen = Some(j);
            self.goal.status = Some(format!(
                "generated goal, sample {} of {} (seed {})",
                j + 1,
                self.goal.generated.made.len(),
                self.goal.generated.seed
            ));
        }
    }

    /// Aims r_fb at sampled goal frame `k`; the worker rescores the episode's r_fb in one batch
    /// and the plot follows when it answers.
    pub fn set_goal_frame(&mut self, k: usize) {
        let Some(loaded) = &self.goal.loaded else {
            return;
        };
        let Some(frame) = loaded.goal.window.get(k).cloned() else {
            return;
        };
        if !loaded.has_fb {
            return;
        }
        let link = &mut *self.link;
        let Some(worker) = link.worker.as_mut() else {
            return;
        };
        worker.aim(link.generation, k, frame);
        self.goal.frame = k;
        link.aiming = Some(k);
    }

    /// Sends the steps taken since the last call to the worker (a new episode starts over) and
    /// takes the terms it has ready.
    pub fn follow(&mut self, sim: Shown) {
        let replaying = sim.replay.is_some() && self.terms.recorded.is_some();
        let new_episode = self.link.episode != sim.episode.serial;
        if new_episode {
            self.start_episode(sim, replaying);
        }
        if let Some(w) = self.link.worker.as_mut() {
            let history = &sim.episode.history;
            for (t, rec) in history.iter().enumerate().skip(self.link.sent) {
                w.step(
                    self.link.generation,
                    StepInput {
                        t,
                        frame: sim.view.frames.get(t).cloned(),
                        obs: rec.obs,
                        action: rec.action,
                        score: !replaying,
                    },
                );
            }
            self.link.sent = history.len();
            if replaying && new_episode && self.goal.frame != self.recorded_goal_frame() {
                // The user picked another goal frame before: keep it for this episode too (a
                // live episode keeps it anyway: the worker's FB model stays aimed).
                let k = self.goal.frame;
                self.set_goal_frame(k);
            }
        }
        self.take_answers(false);
        self.link.max_lag = self.link.max_lag.max(self.link.lag(self.terms));
        self.publish(sim);
    }

    /// A new episode (or a goal loaded): a new generation, the terms from its first step (a
    /// replay's as it recorded them), the worker's window empty.
    fn start_episode(&mut self, sim: Shown, replaying: bool) {
        let link = &mut *self.link;
        link.episode = sim.episode.serial;
        link.generation += 1;
        link.sent = 0;
        link.aiming = None;
        if replaying {
            // A replay's terms are the ones it recorded; the models only re-aim r_fb.
            let term = |name: &str| -> Vec<f64> {
                sim.episode
                    .history
                    .iter()
                    .map(|r| r.terms.get(name).copied().unwrap_or(0.0))
                    .collect()
            };
            self.terms.r_video = term("r_video");
            self.terms.r_fb = term("r_fb");
        } else {
            self.terms.r_video.clear();
            self.terms.r_fb.clear();
        }
        if let Some(w) = link.worker.as_mut() {
            w.reset(link.generation);
        }
        // A field asked in the last episode is answered to a generation now dropped.
        self.field.forget();
    }

    /// The goal frame a replayed run was scored with.
    fn recorded_goal_frame(&self) -> usize {
        self.terms
            .recorded
            .as_ref()
            .and_then(|g| g.goal_frame.as_ref())
            .map_or(self.goal.frame, |f| f.frame)
    }

    /// Takes the worker's answers: ready ones, or with `wait` every one still owed.
    fn take_answers(&mut self, wait: bool) {
        let Some(w) = self.link.worker.as_mut() else {
            return;
        };
        for (gen, done) in w.answers(wait) {
            if let Done::Failed(e) = &done {
                self.terms.message = Some(format!("the models failed: {e}"));
                continue;
            }
            if gen != self.link.generation {
                continue;
            }
            self.take_answer(done);
        }
    }

    /// Takes one answer of the current generation.
    fn take_answer(&mut self, done: Done) {
        let terms = &mut *self.terms;
        match done {
            Done::Step {
                t,
                r_video,
                r_fb,
                ms_video,
                ms_fb,
                error,
            } => {
                if t != terms.r_fb.len() {
                    return;
                }
                if r_video.is_some() {
                    self.link.ms_video = ms_video;
                }
                self.link.ms_fb = ms_fb;
                terms.r_video.push(r_video.unwrap_or(0.0));
                terms.r_fb.push(r_fb);
                if let Some(e) = error {
                    terms.message = Some(e);
                }
            }
            Done::Aimed { k, r_fb } => {
                if self.link.aiming == Some(k) {
                    self.link.aiming = None;
                }
                match r_fb {
                    Ok(v) => {
                        let n = v.len().min(terms.r_fb.len());
                        terms.r_fb[..n].copy_from_slice(&v[..n]);
                    }
                    Err(e) => terms.message = Some(format!("r_fb: {e}")),
                }
            }
            Done::Field { field, ms } => {
                self.field.ms = ms;
                self.field.ready = Some((field, std::time::Instant::now()));
            }
            Done::Failed(_) => {}
        }
    }

    /// Waits for the worker to finish every job sent (the terms of every step taken, a goal
    /// frame asked for, the last field): before a recording or the summary is written.
    pub fn finish(&mut self, sim: &mut SimMut) {
        self.follow(sim.shown());
        self.take_answers(true);
        self.refresh_field(sim);
        self.publish(sim.shown());
    }

    /// Updates the summary `view` prints at exit.
    pub(super) fn publish(&self, sim: Shown) {
        let (goal, terms, link, field) = (&*self.goal, &*self.terms, &*self.link, &*self.field);
        let (path, fb) = goal
            .loaded()
            .map(|s| (Some(s.info.path.clone()), s.info.fb.clone()))
            .or_else(|| {
                terms
                    .recorded
                    .as_ref()
                    .map(|g| (Some(g.path.clone()), g.fb.clone()))
            })
            .unwrap_or((None, None));
        let r = terms.rescored(&sim.episode.history);
        let summary = serde_json::json!({
            "steps": sim.episode.history.len(),
            "replay": sim.replay.map(|r| serde_json::json!({
                "run": r.run.path.display().to_string(),
                "episode": r.episode,
                "shown_step": sim.step(),
                "recorded_frames": r.recorded_frames,
            })),
            "goal": path,
            "goal_frame": goal.frame,
            "weights": terms.weights,
            "return_env": r.returns[0],
            "return_video": r.returns[1],
            "return_fb": r.returns[2],
            "return": r.returns[3],
            "r_video_paid": terms.r_video.iter().filter(|v| **v != 0.0).count(),
            "ms_video": link.ms_video,
            "ms_fb": link.ms_fb,
            "backend": (!link.backend.is_empty()).then_some(&link.backend),
            "max_lag": link.max_lag,
            "main_thread_ms": link.main_thread.json(),
            "fb": fb,
            "goals_loaded": goal.serial,
            "message": terms.message,
            "field": field.show.then(|| serde_json::json!({
                "subject": field.subject,
                "refreshes": field.picture_serial,
                "ms": field.ms,
            })),
        });
        if let Ok(mut g) = self.summary.0.lock() {
            *g = Some(summary);
        }
    }
}
