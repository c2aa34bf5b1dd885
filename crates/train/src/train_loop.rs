//! The bookkeeping every trainer shares: the step count (continued when a run resumes), the time
//! spent, the caller's progress bar, the metrics file, and when to stop (the step budget, the
//! time budget, the caller's stop flag; the trainer saves a checkpoint on the way out).

use crate::error::During;
use crate::Result;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every trainer's `meta.json` holds for the loop: the steps done and the seconds spent.
/// Both default to 0, so any checkpoint's meta reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoopMeta {
    pub step: usize,
    pub train_seconds: f64,
}

impl LoopMeta {
    /// The loop's fields of `dir/meta.json` (zeros when there is none or it does not parse).
    pub fn read(dir: &Path) -> LoopMeta {
        std::fs::read_to_string(dir.join(genreward_models::checkpoint::META_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
}

pub struct TrainLoop {
    /// Steps done (including those of the run resumed).
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
    /// the training time from `out/meta.json`. `bar` shows the steps out of `steps`; `stop`,
    /// once set, ends the loop after the step in hand.
    pub fn open(
        out: &Path,
        steps: usize,
        minutes: Option<f64>,
        resume: bool,
        bar: &ProgressBar,
        stop: Arc<AtomicBool>,
    ) -> Result<Self> {
        std::fs::create_dir_all(out).during(|| format!("cannot create {}", out.display()))?;
        let meta = if resume {
            LoopMeta::read(out)
        } else {
            LoopMeta::default()
        };
        let path = out.join("metrics.jsonl");
        let metrics = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .during(|| format!("cannot write {}", path.display()))?;
        bar.set_length(steps as u64);
        bar.set_position(meta.step as u64);
        Ok(TrainLoop {
            step: meta.step,
            steps,
            elapsed0: meta.train_seconds,
            started: Instant::now(),
            deadline: minutes.map(|m| Instant::now() + Duration::from_secs_f64(m * 60.0)),
            stop,
            bar: bar.clone(),
            metrics,
        })
    }

    /// Whether to stop: the steps reached, the minutes spent, or the stop flag set.
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
    pub fn log(&mut self, line: &impl Serialize) -> Result<()> {
        writeln!(self.metrics, "{}", serde_json::to_string(line)?)?;
        Ok(())
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
