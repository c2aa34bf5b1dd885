//! What a rollout keeps: `steps.jsonl`, per-episode observation arrays
//! (`obs_NNN.npy`, uint8 [T, H, W, 3]) and one video of the whole run.
//!
//! Frames are rendered before each step, so frame t shows the state the
//! policy saw at step t (the `obs` of line t in `steps.jsonl`); a video
//! overlay prints that step's number, paid reward and success flag.

use anyhow::{Context, Result};
use genreward_record::{overlay, NpyWriter, VideoWriter};
use genreward_render::{CameraName, Frame, Renderer, View};
use genreward_sim::rollout::{StepObserver, StepRecord};
use genreward_sim::Env;
use indicatif::ProgressBar;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A camera view at a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ViewSpec {
    #[serde(serialize_with = "ser_camera")]
    pub camera: CameraName,
    pub width: u32,
    pub height: u32,
}

fn ser_camera<S: serde::Serializer>(c: &CameraName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.name())
}

/// Renders one frame of each requested view of `env`, in one submission per size.
pub fn render_views(renderer: &mut Renderer, env: &Env, specs: &[ViewSpec]) -> Result<Vec<Frame>> {
    let shapes = env.world().shapes();
    let hand = env.world().hand_pos();
    let mut out: Vec<Option<Frame>> = vec![None; specs.len()];
    for (k, spec) in specs.iter().enumerate() {
        if out[k].is_some() {
            continue;
        }
        // Every view of this size goes in one batch.
        let same: Vec<usize> = (k..specs.len())
            .filter(|&j| specs[j].width == spec.width && specs[j].height == spec.height)
            .collect();
        let views: Vec<View> = same
            .iter()
            .map(|&j| View {
                shapes: &shapes,
                camera: specs[j].camera.pose(hand),
            })
            .collect();
        let frames = renderer.render(&views, spec.width, spec.height)?;
        for (j, f) in same.into_iter().zip(frames) {
            out[j] = Some(f);
        }
    }
    Ok(out
        .into_iter()
        .map(|f| f.expect("every view rendered"))
        .collect())
}

/// The rollout's recorder: writes every step and, when asked, observations and video.
pub struct Recorder {
    steps_path: PathBuf,
    steps: BufWriter<File>,
    out_dir: PathBuf,
    renderer: Option<Renderer>,
    obs: Option<ViewSpec>,
    npy: Option<NpyWriter>,
    video: Option<(ViewSpec, VideoWriter, bool)>,
    pending: Vec<Frame>,
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    error: Option<anyhow::Error>,
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
        let file = File::create(&steps_path)
            .with_context(|| format!("cannot write {}", steps_path.display()))?;
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
            steps: BufWriter::new(file),
            out_dir: out_dir.to_path_buf(),
            renderer,
            obs,
            npy: None,
            video,
            pending: Vec::new(),
            bar,
            stop,
            error: None,
            files: vec!["steps.jsonl".into()],
        })
    }

    /// Starts episode `index`: opens its observation file.
    pub fn begin_episode(&mut self, index: usize) -> Result<()> {
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
            .with_context(|| format!("cannot write {}", self.steps_path.display()))?;
        if let Some((_, w, _)) = self.video.take() {
            w.finish()?;
        }
        Ok(self.files)
    }

    fn specs(&self) -> Vec<ViewSpec> {
        self.obs
            .iter()
            .copied()
            .chain(self.video.as_ref().map(|(s, _, _)| *s))
            .collect()
    }

    fn record_step(&mut self, rec: &StepRecord) -> Result<()> {
        serde_json::to_writer(&mut self.steps, rec)
            .map_err(std::io::Error::from)
            .and_then(|_| self.steps.write_all(b"\n"))
            .with_context(|| format!("cannot write {}", self.steps_path.display()))?;
        let mut frames = std::mem::take(&mut self.pending).into_iter();
        if let Some(npy) = &mut self.npy {
            let f = frames.next().expect("observation frame rendered");
            npy.write_frame(&f.rgb)?;
        }
        if let Some((spec, w, stamp)) = &mut self.video {
            let mut f = frames.next().expect("video frame rendered");
            if *stamp {
                overlay::stamp_step(
                    &mut f.rgb,
                    spec.width,
                    spec.height,
                    rec.step,
                    rec.reward,
                    rec.success,
                );
            }
            w.write_frame(&f.rgb)?;
        }
        Ok(())
    }
}

/// Video frame rate: Meta-World's control rate, so playback runs in real time.
pub const VIDEO_FPS: u32 = 80;

impl StepObserver for Recorder {
    fn before_step(&mut self, _step: usize, env: &Env) {
        if self.error.is_some() {
            return;
        }
        let specs = self.specs();
        if let Some(r) = &mut self.renderer {
            match render_views(r, env, &specs) {
                Ok(f) => self.pending = f,
                Err(e) => self.error = Some(e),
            }
        }
    }

    fn after_step(&mut self, rec: &StepRecord, _env: &Env) -> bool {
        self.bar.inc(1);
        if self.error.is_none() {
            if let Err(e) = self.record_step(rec) {
                self.error = Some(e);
            }
        }
        self.error.is_none() && !self.stop.load(Ordering::SeqCst)
    }
}
