//! What a rollout keeps: `steps.jsonl`, per-episode observation arrays
//! (`obs_NNN.npy`, uint8 [T, H, W, 3]) and one video of the whole run.
//!
//! Frames are rendered before each step, so frame t shows the state the
//! policy saw at step t (the `obs` of line t in `steps.jsonl`); a video
//! overlay prints that step's number, paid reward and success flag.

use anyhow::{Context, Result};
use genreward_record::{overlay, NpyWriter, VideoWriter};
use genreward_render::{render_specs, Frame, Renderer, ViewSpec};
use genreward_reward::FrameTerm;
use genreward_sim::rollout::{StepObserver, StepRecord};
use genreward_sim::{Env, Pixels};
use indicatif::ProgressBar;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// The video reward and its weight alpha, when the run has a goal.
    term: Option<(Box<dyn FrameTerm>, f64)>,
    /// The last value the term paid this episode (shown by the overlay).
    last_term: Option<f64>,
    /// Milliseconds of every computation of the term.
    pub term_ms: Vec<f64>,
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
            term: None,
            last_term: None,
            term_ms: Vec::new(),
            files: vec!["steps.jsonl".into()],
        })
    }

    /// Adds a reward term computed on the observation frames (which the recorder must render):
    /// each step's record gets `terms.r_env` (the environment's paid reward) and the term's value
    /// (0 on steps it is not paid), and `reward` becomes `r_env + alpha * term`.
    pub fn with_term(mut self, term: Box<dyn FrameTerm>, alpha: f64) -> Recorder {
        assert!(self.obs.is_some(), "a frame term needs observation frames");
        self.term = Some((term, alpha));
        self
    }

    /// Starts episode `index`: opens its observation file.
    pub fn begin_episode(&mut self, index: usize) -> Result<()> {
        if let Some((t, _)) = &mut self.term {
            t.reset();
        }
        self.last_term = None;
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

    fn record_step(&mut self, rec: &mut StepRecord) -> Result<()> {
        if let (Some((term, alpha)), Some(f)) = (&mut self.term, self.pending.first()) {
            let value = term.push(&f.rgb, f.width, f.height);
            if value.is_some() {
                self.term_ms.push(term.last_ms());
                self.last_term = value;
            }
            let v = value.unwrap_or(0.0);
            rec.terms.insert("r_env".into(), rec.reward);
            rec.terms.insert(term.name().into(), v);
            rec.reward += *alpha * v;
        }
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
                if let (Some((term, _)), Some(v)) = (&self.term, self.last_term) {
                    let text = format!("{} {v:.3}", short_name(term.name()));
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
                }
            }
            w.write_frame(&f.rgb)?;
        }
        Ok(())
    }
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
    fn before_step(&mut self, _step: usize, env: &Env) -> Option<Pixels> {
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
        // The observation frame (when rendered) is what the actor sees.
        self.obs.and(self.pending.first()).map(|f| Pixels {
            width: f.width,
            height: f.height,
            rgb: f.rgb.clone(),
        })
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
