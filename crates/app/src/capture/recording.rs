//! The recorder: the agent view (one frame per step) or the window (one frame per drawn frame)
//! through the same video writer as `genreward rollout --video`, with the terms of the steps
//! recorded written beside the video.

use crate::reward::{recording_data, Goal, RewardParam, Terms};
use crate::sim::{AgentView, Shown, SimParam};
use anyhow::Result;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use genreward_record::{VideoFormat, VideoWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Frames per second of window recordings (agent-view recordings use the control rate).
const WINDOW_FPS: u32 = 30;

/// What the Record button records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordSource {
    AgentView,
    Window,
}

impl RecordSource {
    /// Frames per second of the video.
    fn fps(self) -> u32 {
        match self {
            RecordSource::AgentView => genreward_run::VIDEO_FPS,
            RecordSource::Window => WINDOW_FPS,
        }
    }
}

/// The recorder's state, driven by the panel: the path typed, a start or stop asked for, the
/// last status, and the recording under way.
#[derive(Resource)]
pub struct Recording {
    pub path_text: String,
    pub start_requested: Option<RecordSource>,
    pub stop_requested: bool,
    pub status: Option<String>,
    active: Option<Active>,
}

/// A recording under way.
struct Active {
    source: RecordSource,
    path: PathBuf,
    writer: Option<VideoWriter>,
    size: Option<(u32, u32)>,
    /// The agent view's serial last recorded.
    serial: u64,
    /// Window frames captured and not yet written.
    inbox: Arc<Mutex<Vec<Image>>>,
    /// The step shown when recording started.
    first_step: usize,
}

impl Default for Recording {
    fn default() -> Self {
        Recording {
            path_text: "runs/view.mp4".into(),
            start_requested: None,
            stop_requested: false,
            status: None,
            active: None,
        }
    }
}

impl Recording {
    /// `--record`: recording `source` to `path` from the first frame, as the Record button does.
    pub fn starting(path: &Path, source: RecordSource) -> Recording {
        Recording {
            path_text: path.display().to_string(),
            start_requested: Some(source),
            ..Default::default()
        }
    }

    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    pub fn frames(&self) -> u64 {
        self.active
            .as_ref()
            .and_then(|a| a.writer.as_ref())
            .map_or(0, |w| w.frames())
    }

    /// Completes the video and writes its data beside it (`NAME.json`: what was shown, the
    /// goal and weights in force, each recorded step's terms).
    pub(super) fn stop(&mut self, sim: Shown, goal: &Goal, terms: &Terms) {
        if let Some(mut a) = self.active.take() {
            self.status = Some(match a.writer.take().map(|w| (w.frames(), w.finish())) {
                Some((n, Ok(()))) => match write_sidecar(&a, n, sim, goal, terms) {
                    Ok(json) => format!(
                        "saved {} ({n} frames) and {}",
                        a.path.display(),
                        json.display()
                    ),
                    Err(e) => format!("saved {} ({n} frames); {e}", a.path.display()),
                },
                Some((_, Err(e))) => format!("recording failed: {e}"),
                None => "nothing recorded".into(),
            });
        }
    }

    /// Starts recording `source` to the path typed (a bad extension is the status instead).
    fn start(&mut self, source: RecordSource, sim: Shown) {
        let path = PathBuf::from(self.path_text.trim());
        match VideoFormat::from_path(&path) {
            Err(e) => self.status = Some(e.to_string()),
            Ok(_) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    let _ = std::fs::create_dir_all(dir);
                }
                self.status = None;
                self.active = Some(Active {
                    source,
                    path,
                    writer: None,
                    size: None,
                    serial: sim.view.serial.wrapping_sub(1),
                    inbox: Arc::new(Mutex::new(Vec::new())),
                    first_step: sim.step(),
                });
            }
        }
    }
}

/// Writes `a`'s data file: `video.mp4` -> `video.json`.
fn write_sidecar(
    a: &Active,
    frames: u64,
    sim: Shown,
    goal: &Goal,
    terms: &Terms,
) -> Result<PathBuf> {
    let path = a.path.with_extension("json");
    let last = sim.step();
    let mut data = recording_data(goal, terms, sim, a.first_step, last.max(a.first_step));
    data["video"] = serde_json::json!(a.path.display().to_string());
    data["source"] = serde_json::json!(match a.source {
        RecordSource::AgentView => "agent",
        RecordSource::Window => "window",
    });
    data["fps"] = serde_json::json!(a.source.fps());
    data["frames"] = serde_json::json!(frames);
    data["task"] = serde_json::json!(sim.episode.task.name());
    data["seed"] = serde_json::json!(sim.episode.seed);
    data["policy"] = serde_json::json!(sim.episode.driver.to_string());
    data["agent_camera"] = serde_json::json!(sim.view.camera.name());
    data["replay"] = serde_json::json!(sim.replay.map(|r| serde_json::json!({
        "run": r.run.path.display().to_string(),
        "episode": r.episode,
    })));
    data["genreward_version"] = serde_json::json!(env!("CARGO_PKG_VERSION"));
    let text = serde_json::to_string_pretty(&data)? + "\n";
    std::fs::write(&path, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Closing the window while recording still completes the video and its data; the summary
/// `view` prints waits for the models' worker to score every step taken.
pub(super) fn stop_on_exit(
    mut exits: MessageReader<AppExit>,
    mut rec: ResMut<Recording>,
    mut sim: SimParam,
    mut reward: RewardParam,
) {
    if exits.read().next().is_none() {
        return;
    }
    let mut sim = sim.parts();
    reward.parts().finish(&mut sim);
    if rec.is_active() {
        rec.stop(sim.shown(), &reward.goal, &reward.terms);
        if let Some(s) = &rec.status {
            eprintln!("{s}");
        }
    }
}

/// The panel's start and stop, and this frame's frames of the recording under way.
pub(super) fn record(
    mut commands: Commands,
    mut rec: ResMut<Recording>,
    mut sim: SimParam,
    mut reward: RewardParam,
) {
    if rec.stop_requested {
        rec.stop_requested = false;
        let mut sim = sim.parts();
        reward.parts().finish(&mut sim);
        rec.stop(sim.shown(), &reward.goal, &reward.terms);
    }
    if let Some(source) = rec.start_requested.take() {
        rec.start(source, sim.shown());
    }
    let rec = &mut *rec;
    let Some(active) = &mut rec.active else {
        return;
    };
    let frames = match active.source {
        RecordSource::AgentView => active.agent_frames(&sim.view),
        RecordSource::Window => active.window_frames(&mut commands, &mut rec.status),
    };
    if let Some(f) = active.write(frames) {
        rec.stop(sim.shown(), &reward.goal, &reward.terms);
        rec.status = Some(f);
    }
}

impl Active {
    /// The agent view, when it changed since the last frame recorded.
    fn agent_frames(&mut self, view: &AgentView) -> Vec<(u32, u32, Vec<u8>)> {
        if self.serial == view.serial {
            return Vec::new();
        }
        self.serial = view.serial;
        view.frame
            .iter()
            .map(|f| (f.width, f.height, f.rgb.clone()))
            .collect()
    }

    /// Asks for this frame's window capture and takes the captures that arrived (an unreadable
    /// one goes to `status`).
    fn window_frames(
        &mut self,
        commands: &mut Commands,
        status: &mut Option<String>,
    ) -> Vec<(u32, u32, Vec<u8>)> {
        let inbox = self.inbox.clone();
        commands.spawn(Screenshot::primary_window()).observe(
            move |shot: On<ScreenshotCaptured>| {
                if let Ok(mut g) = inbox.lock() {
                    g.push(shot.image.clone());
                }
            },
        );
        let images: Vec<Image> = self
            .inbox
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default();
        let mut frames = Vec::new();
        for img in images {
            match img.try_into_dynamic() {
                Ok(d) => {
                    let rgb = d.to_rgb8();
                    frames.push((rgb.width(), rgb.height(), rgb.into_raw()));
                }
                Err(e) => {
                    *status = Some(format!("window frame unreadable: {e}"));
                }
            }
        }
        frames
    }

    /// Writes `frames` (the writer made at the first one's size); returns why recording must
    /// stop, if it must.
    fn write(&mut self, frames: Vec<(u32, u32, Vec<u8>)>) -> Option<String> {
        for (w, h, rgb) in frames {
            if self.writer.is_none() {
                match VideoWriter::create(&self.path, w, h, self.source.fps()) {
                    Ok(wr) => {
                        self.writer = Some(wr);
                        self.size = Some((w, h));
                    }
                    Err(e) => return Some(e.to_string()),
                }
            }
            if self.size != Some((w, h)) {
                return Some("the window changed size: recording stopped".into());
            }
            if let Some(wr) = &mut self.writer {
                if let Err(e) = wr.write_frame(&rgb) {
                    return Some(e.to_string());
                }
            }
        }
        None
    }
}
