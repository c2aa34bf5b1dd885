//! Screenshots and video from the app.
//!
//! `--frames N [--screenshot shot.png]` runs N frames (one simulation step
//! each), saves the window and exits: the scripted path docs and CI use.
//! The Record button writes the agent view (one frame per step) or the
//! window (one frame per drawn frame) through the same video writer as
//! `genreward rollout --video`.

use super::reward::RewardPanel;
use super::sim::Sim;
use anyhow::{bail, Result};
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use genreward_record::{VideoFormat, VideoWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Frames per second of window recordings (agent-view recordings use the control rate).
const WINDOW_FPS: u32 = 30;

/// The error, if any, that ended the app; read after `App::run` returns.
#[derive(Resource, Clone, Default)]
pub struct Outcome(Arc<Mutex<Option<String>>>);

impl Outcome {
    pub fn error(&self) -> Option<String> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
    fn set(&self, msg: String) {
        if let Ok(mut g) = self.0.lock() {
            g.get_or_insert(msg);
        }
    }
}

/// Refuses a screenshot path the app could not write, before opening a window.
pub fn check_screenshot_path(p: &Path) -> Result<()> {
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("png") | Some("jpg") | Some("jpeg")) {
        bail!("screenshot '{}' must end in .png or .jpg", p.display());
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write screenshot '{}': folder {} does not exist",
            p.display(),
            dir.display()
        );
    }
    Ok(())
}

pub struct CapturePlugin {
    pub frames: Option<u32>,
    pub screenshot: Option<PathBuf>,
    pub record: Option<(PathBuf, RecordSource)>,
}

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Script {
            frames: self.frames,
            screenshot: self.screenshot.clone(),
            frame: 0,
            requested_at: None,
            saved: Arc::new(Mutex::new(None)),
        })
        .insert_resource(match &self.record {
            Some((path, source)) => Recording {
                path_text: path.display().to_string(),
                start_requested: Some(*source),
                ..Default::default()
            },
            None => Recording::default(),
        })
        .add_systems(
            Update,
            (script, record)
                .after(super::sim::advance)
                .after(super::reward::field_system),
        )
        .add_systems(Last, stop_on_exit);
    }
}

#[derive(Resource)]
struct Script {
    frames: Option<u32>,
    screenshot: Option<PathBuf>,
    frame: u32,
    requested_at: Option<u32>,
    saved: Arc<Mutex<Option<Result<(), String>>>>,
}

fn save_rgb(image: Image, path: &Path) -> Result<(), String> {
    let img = image
        .try_into_dynamic()
        .map_err(|e| format!("screenshot conversion failed: {e}"))?
        .to_rgb8();
    img.save(path)
        .map_err(|e| format!("cannot write screenshot '{}': {e}", path.display()))
}

fn script(
    mut commands: Commands,
    mut script: ResMut<Script>,
    mut sim: ResMut<Sim>,
    mut rec: ResMut<Recording>,
    mut reward: ResMut<RewardPanel>,
    outcome: Res<Outcome>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(frames) = script.frames else { return };
    script.frame += 1;
    let mut finish = |sim: &mut Sim, err: Option<String>| {
        if let Err(e) = sim.finish_agent_dump() {
            outcome.set(format!("{e:#}"));
        }
        // The models' worker scores the last steps before the recording's data is written.
        reward.finish(sim);
        rec.stop(sim, &reward);
        if let Some(s) = rec.status.as_ref().filter(|s| !s.starts_with("saved")) {
            outcome.set(s.clone());
        }
        match err {
            Some(e) => {
                outcome.set(e);
                exit.write(AppExit::error());
            }
            None => {
                exit.write(AppExit::Success);
            }
        }
    };
    if script.frame < frames {
        return;
    }
    let Some(path) = script.screenshot.clone() else {
        if script.frame == frames {
            finish(&mut sim, None);
        }
        return;
    };
    if script.requested_at.is_none() {
        script.requested_at = Some(script.frame);
        let saved = script.saved.clone();
        commands.spawn(Screenshot::primary_window()).observe(
            move |shot: On<ScreenshotCaptured>| {
                let r = save_rgb(shot.image.clone(), &path);
                if let Ok(mut g) = saved.lock() {
                    *g = Some(r);
                }
            },
        );
        return;
    }
    let result = script.saved.lock().ok().and_then(|mut g| g.take());
    match result {
        Some(Ok(())) => finish(&mut sim, None),
        Some(Err(e)) => finish(&mut sim, Some(e)),
        None if script.frame > script.requested_at.unwrap_or(0) + 600 => {
            finish(&mut sim, Some("the window screenshot never arrived".into()))
        }
        None => {}
    }
}

/// What the Record button records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordSource {
    AgentView,
    Window,
}

/// The recorder's state, driven by the panel.
#[derive(Resource)]
pub struct Recording {
    pub path_text: String,
    pub start_requested: Option<RecordSource>,
    pub stop_requested: bool,
    pub status: Option<String>,
    active: Option<Active>,
}

struct Active {
    source: RecordSource,
    path: PathBuf,
    writer: Option<VideoWriter>,
    size: Option<(u32, u32)>,
    serial: u64,
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
    fn stop(&mut self, sim: &Sim, reward: &RewardPanel) {
        if let Some(mut a) = self.active.take() {
            self.status = Some(match a.writer.take().map(|w| (w.frames(), w.finish())) {
                Some((n, Ok(()))) => match write_sidecar(&a, n, sim, reward) {
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
}

/// Writes `a`'s data file: `video.mp4` -> `video.json`.
fn write_sidecar(a: &Active, frames: u64, sim: &Sim, reward: &RewardPanel) -> Result<PathBuf> {
    let path = a.path.with_extension("json");
    let last = sim.shown_step();
    let mut data = reward.recording_data(sim, a.first_step, last.max(a.first_step));
    data["video"] = serde_json::json!(a.path.display().to_string());
    data["source"] = serde_json::json!(match a.source {
        RecordSource::AgentView => "agent",
        RecordSource::Window => "window",
    });
    data["fps"] = serde_json::json!(match a.source {
        RecordSource::AgentView => crate::record::VIDEO_FPS,
        RecordSource::Window => WINDOW_FPS,
    });
    data["frames"] = serde_json::json!(frames);
    data["task"] = serde_json::json!(sim.task.name());
    data["seed"] = serde_json::json!(sim.seed);
    data["policy"] = serde_json::json!(sim.driver.to_string());
    data["agent_camera"] = serde_json::json!(sim.obs_camera.name());
    data["replay"] = serde_json::json!(sim.replay.as_ref().map(|r| serde_json::json!({
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
fn stop_on_exit(
    mut exits: MessageReader<AppExit>,
    mut rec: ResMut<Recording>,
    mut sim: ResMut<Sim>,
    mut reward: ResMut<RewardPanel>,
) {
    if exits.read().next().is_none() {
        return;
    }
    reward.finish(&mut sim);
    if rec.is_active() {
        rec.stop(&sim, &reward);
        if let Some(s) = &rec.status {
            eprintln!("{s}");
        }
    }
}

fn record(
    mut commands: Commands,
    mut rec: ResMut<Recording>,
    mut sim: ResMut<Sim>,
    mut reward: ResMut<RewardPanel>,
) {
    if rec.stop_requested {
        rec.stop_requested = false;
        reward.finish(&mut sim);
        rec.stop(&sim, &reward);
    }
    if let Some(source) = rec.start_requested.take() {
        let path = PathBuf::from(rec.path_text.trim());
        match VideoFormat::from_path(&path) {
            Err(e) => rec.status = Some(e.to_string()),
            Ok(_) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    let _ = std::fs::create_dir_all(dir);
                }
                rec.status = None;
                rec.active = Some(Active {
                    source,
                    path,
                    writer: None,
                    size: None,
                    serial: sim.agent_frame_serial.wrapping_sub(1),
                    inbox: Arc::new(Mutex::new(Vec::new())),
                    first_step: sim.shown_step(),
                });
            }
        }
    }
    let Some(active) = &mut rec.active else {
        return;
    };
    let mut frames: Vec<(u32, u32, Vec<u8>)> = Vec::new();
    match active.source {
        RecordSource::AgentView => {
            if active.serial != sim.agent_frame_serial {
                active.serial = sim.agent_frame_serial;
                if let Some(f) = &sim.agent_frame {
                    frames.push((f.width, f.height, f.rgb.clone()));
                }
            }
        }
        RecordSource::Window => {
            let inbox = active.inbox.clone();
            commands.spawn(Screenshot::primary_window()).observe(
                move |shot: On<ScreenshotCaptured>| {
                    if let Ok(mut g) = inbox.lock() {
                        g.push(shot.image.clone());
                    }
                },
            );
            let images: Vec<Image> = active
                .inbox
                .lock()
                .map(|mut g| std::mem::take(&mut *g))
                .unwrap_or_default();
            for img in images {
                match img.try_into_dynamic() {
                    Ok(d) => {
                        let rgb = d.to_rgb8();
                        frames.push((rgb.width(), rgb.height(), rgb.into_raw()));
                    }
                    Err(e) => {
                        rec.status = Some(format!("window frame unreadable: {e}"));
                    }
                }
            }
        }
    }
    let Some(active) = &mut rec.active else {
        return;
    };
    let mut failure = None;
    for (w, h, rgb) in frames {
        if active.writer.is_none() {
            let fps = match active.source {
                RecordSource::AgentView => crate::record::VIDEO_FPS,
                RecordSource::Window => WINDOW_FPS,
            };
            match VideoWriter::create(&active.path, w, h, fps) {
                Ok(wr) => {
                    active.writer = Some(wr);
                    active.size = Some((w, h));
                }
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        if active.size != Some((w, h)) {
            failure = Some("the window changed size: recording stopped".into());
            break;
        }
        if let Some(wr) = &mut active.writer {
            if let Err(e) = wr.write_frame(&rgb) {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(f) = failure {
        rec.stop(&sim, &reward);
        rec.status = Some(f);
    }
}
