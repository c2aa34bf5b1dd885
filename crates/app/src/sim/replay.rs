//! `view --run`: opening a run folder and showing one of its episodes, its scenes rebuilt from
//! the recorded observations (nothing is simulated).

use super::access::{Sim, SimMut};
use super::driver::Driver;
use super::state::Replay;
use crate::ViewOptions;
use anyhow::Result;
use genreward_render::Frame;
use genreward_run::RunDir;
use genreward_sim::rollout::StepRecord;
use genreward_sim::{Env, TaskKind};
use std::path::Path;

impl Sim {
    /// Opens run folder `dir` (`rollout --out`) and shows its episode `episode`.
    pub fn open_run(opts: &ViewOptions, dir: &Path, episode: usize) -> Result<Sim> {
        let run = RunDir::open(dir)?;
        let task: TaskKind = run.manifest.task.parse()?;
        let steps = run.steps()?;
        let mut episodes: Vec<usize> = steps.iter().map(|s| s.episode).collect();
        episodes.sort_unstable();
        episodes.dedup();
        if episodes.is_empty() {
            anyhow::bail!("'{}' holds no steps (steps.jsonl is empty)", dir.display());
        }
        let mut opts = opts.clone();
        opts.task = task;
        opts.save_agent_view = None;
        if let Some(v) = &run.manifest.observations {
            opts.obs_camera = v.camera;
            opts.obs_size = (v.width, v.height);
        }
        let mut sim = Sim::new(&opts)?;
        sim.episode.driver = Driver::Policy(run.manifest.config.policy);
        sim.replay = Some(Replay {
            run,
            episode,
            episodes,
            steps,
            recorded_frames: false,
        });
        sim.parts().load_episode(episode)?;
        Ok(sim)
    }
}

impl Replay {
    /// The recorded steps of `episode`: an error naming the episodes held when it has none.
    fn episode_steps(&self, episode: usize) -> Result<Vec<StepRecord>> {
        let steps: Vec<StepRecord> = self
            .steps
            .iter()
            .filter(|s| s.episode == episode)
            .cloned()
            .collect();
        if steps.is_empty() {
            anyhow::bail!(
                "'{}' has no episode {episode} (it holds {})",
                self.run.path.display(),
                match (self.episodes.first(), self.episodes.last()) {
                    (Some(a), Some(b)) if a != b => format!("episodes {a}..={b}"),
                    (Some(a), _) => format!("episode {a}"),
                    _ => "none".into(),
                }
            );
        }
        Ok(steps)
    }

    /// The agent views the run saved for `episode`'s `n` steps (none when it saved no camera
    /// observations).
    fn episode_frames(&self, episode: usize, n: usize) -> Result<Vec<Frame>> {
        if self.run.manifest.observations.is_none() {
            return Ok(Vec::new());
        }
        let v = self.run.episode_frames(episode)?;
        if v.len() < n {
            anyhow::bail!(
                "'{}' holds {} frames for {} steps",
                self.run
                    .path
                    .join(genreward_run::obs_file(episode))
                    .display(),
                v.len(),
                n
            );
        }
        let (w, h) = (v.width, v.height);
        Ok(v.frames
            .into_iter()
            .take(n)
            .map(|rgb| Frame {
                width: w,
                height: h,
                rgb,
            })
            .collect())
    }
}

impl SimMut<'_> {
    /// Shows episode `episode` of the replayed run: its steps, the scenes rebuilt from their
    /// observations, the agent views it saved (or rendered from the scenes).
    pub fn load_episode(&mut self, episode: usize) -> Result<()> {
        let Some(replay) = self.replay.as_deref_mut() else {
            anyhow::bail!("no run is open");
        };
        let steps = replay.episode_steps(episode)?;
        let frames = replay.episode_frames(episode, steps.len())?;
        replay.recorded_frames = !frames.is_empty();
        replay.episode = episode;
        let physics = replay.run.manifest.config.physics;
        let ep = &mut *self.episode;
        let seed = steps[0].seed;
        ep.seed = seed;
        ep.env = Env::new(ep.task, seed, physics);
        ep.message = None;
        let first = ep.env.last_obs();
        let off = first
            .iter()
            .zip(&steps[0].obs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if off > 1e-6 {
            ep.message = Some(format!(
                "the run's first observation differs from this build's reset of seed {seed} by {off:.2e}: the table, fixtures and goal are drawn from this build's"
            ));
        }
        ep.shapes = steps
            .iter()
            .map(|s| ep.env.shapes_from_obs(&s.obs, s.fingers))
            .collect();
        self.view.frames = frames;
        ep.history = steps;
        if self.view.frames.is_empty() && self.view.renderer.is_some() {
            let spec = self.view.spec();
            for t in 0..self.episode.shapes.len() {
                match self.render_step(t, spec) {
                    Some(f) => self.view.frames.push(f),
                    None => break,
                }
            }
        }
        self.timeline.cursor = Some(0);
        self.playback.accum = 0.0;
        self.episode.serial += 1;
        self.view.frame = self.view.frames.first().cloned();
        self.view.serial += 1;
        Ok(())
    }
}
