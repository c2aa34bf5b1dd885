//! The bookkeeping every `train` command shares: the step count (continued on `--resume`), the
//! time spent, a progress bar, the metrics file, and when to stop (`--steps`, `--minutes`,
//! Ctrl-C; the caller saves a checkpoint on the way out).

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct TrainLoop {
    /// Optimiser steps done (including those of the run resumed).
    pub step: usize,
    steps: usize,
    elapsed0: f64,
    started: Instant,
    deadline: Option<Instant>,
    stop: Arc<AtomicBool>,
    bar: ProgressBar,
    metrics: std::fs::File,
}

impl TrainLoop {
    /// Opens `out/metrics.jsonl` (appending) and, with `resume`, continues the step count and
    /// the training time from `out/meta.json`.
    pub fn open(out: &Path, steps: usize, minutes: Option<f64>, resume: bool) -> Result<Self> {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let (step, elapsed0) = if resume {
            let meta = genreward_models::checkpoint::read_meta(out);
            (
                meta["step"].as_u64().unwrap_or(0) as usize,
                meta["train_seconds"].as_f64().unwrap_or(0.0),
            )
        } else {
            (0, 0.0)
        };
        let path = out.join("metrics.jsonl");
        let metrics = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:25}] {pos}/{len} steps (eta {eta})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_position(step as u64);
        Ok(TrainLoop {
            step,
            steps,
            elapsed0,
            started: Instant::now(),
            deadline: minutes.map(|m| Instant::now() + Duration::from_secs_f64(m * 60.0)),
            stop: crate::interrupt_flag(),
            bar,
            metrics,
        })
    }

    /// Whether to stop: `--steps` reached, `--minutes` spent, or Ctrl-C pressed.
    pub fn done(&self) -> bool {
        self.step >= self.steps
            || self.stop.load(Ordering::SeqCst)
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Seconds of training, including those of the run resumed.
    pub fn elapsed(&self) -> f64 {
        self.elapsed0 + self.started.elapsed().as_secs_f64()
    }

    /// Counts one step and shows `message` beside the bar.
    pub fn advance(&mut self, message: String) {
        self.step += 1;
        self.bar.set_position(self.step as u64);
        self.bar.set_message(message);
    }

    /// Appends one JSON line to the metrics file.
    pub fn log(&mut self, line: &impl serde::Serialize) -> Result<()> {
        writeln!(self.metrics, "{}", serde_json::to_string(line)?)?;
        Ok(())
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
